"""JSON over a ``websockets`` client connection.

The timeouts only bound a hang: a loaded machine (CI shares its cores with other jobs) may take
seconds to deliver what takes milliseconds on a quiet one, so they are generous on purpose.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

HANG = 15.0  # seconds to wait for one message before the test fails


async def receive(ws: Any, timeout: float = HANG) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def send(ws: Any, message: dict[str, Any]) -> dict[str, Any]:
    """Send a message and return the first answer.

    Only for a connection on which nothing else can arrive meanwhile (no subscription that
    is replaying or receiving live changes): otherwise a change may come before the answer.
    """
    await ws.send(json.dumps(message))
    return await receive(ws)


async def changes(ws: Any, count: int, timeout: float = HANG) -> list[dict[str, Any]]:
    """The next ``count`` data_change events."""
    out: list[dict[str, Any]] = []
    while len(out) < count:
        message = await receive(ws, timeout)
        assert message["type"] == "data_change", message
        out.append(message)
    return out
