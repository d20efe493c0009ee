"""JSON over a ``websockets`` client connection, with timeouts so a missing event fails fast."""

from __future__ import annotations

import asyncio
import json
from typing import Any


async def receive(ws: Any, timeout: float = 2.0) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def send(ws: Any, message: dict[str, Any]) -> dict[str, Any]:
    """Send a message and return the first answer."""
    await ws.send(json.dumps(message))
    return await receive(ws)


async def changes(ws: Any, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
    """The next ``count`` data_change events."""
    out: list[dict[str, Any]] = []
    while len(out) < count:
        message = await receive(ws, timeout)
        assert message["type"] == "data_change", message
        out.append(message)
    return out
