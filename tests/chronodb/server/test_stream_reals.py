"""The change stream carries REAL values exactly: 0.1 + 0.2 does not arrive as 0.3."""

from __future__ import annotations

import asyncio
import math

import websockets
from wsclient import changes, send

from chronodb import ChronoDB
from chronodb.server import BackgroundServer


async def test_stream_before_and_after_carry_reals_exactly(
    server: BackgroundServer, writer: ChronoDB
) -> None:
    needs_17_digits = 0.1 + 0.2
    next_one = math.nextafter(needs_17_digits, math.inf)
    async with websockets.connect(server.ws_url) as ws:
        await send(ws, {"type": "subscribe", "table": "orders"})
        await asyncio.to_thread(
            writer.execute, "INSERT INTO orders VALUES (1, 'new', ?)", [needs_17_digits]
        )
        await asyncio.to_thread(
            writer.execute, "UPDATE orders SET total = ? WHERE id = 1", [next_one]
        )
        await asyncio.to_thread(writer.execute, "UPDATE orders SET total = 2.0 WHERE id = 1")
        inserted, updated, integral = await changes(ws, 3)
    assert inserted["after"]["total"] == needs_17_digits
    assert updated["before"]["total"] == needs_17_digits
    assert updated["after"]["total"] == next_one
    assert integral["after"]["total"] == 2.0 and type(integral["after"]["total"]) is float
