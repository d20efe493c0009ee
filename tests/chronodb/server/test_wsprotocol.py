"""The server's WebSocket protocol writes pre-encoded frames; without it, the app still streams."""

from __future__ import annotations

import asyncio
import re
import threading
import time

import httpx
import uvicorn
import websockets
from wsclient import changes, send

from chronodb import ChronoDB
from chronodb.server import BackgroundServer, create_app
from chronodb.server.runner import uvicorn_config
from chronodb.server.wsprotocol import FramesProtocol


async def test_frames_written_directly_carry_any_size_and_any_text(
    server: BackgroundServer, writer: ChronoDB
):
    big = "é" * 70_000  # past the 16-bit length: the 64-bit length encoding
    async with websockets.connect(server.ws_url, max_size=None) as ws:
        await send(ws, {"type": "subscribe", "table": "orders"})
        await asyncio.to_thread(writer.execute, "INSERT INTO orders VALUES (1, ?, 1.5)", (big,))
        await asyncio.to_thread(writer.execute, "INSERT INTO orders VALUES (2, '東京', 2.5)")
        got = await changes(ws, 2)
    assert got[0]["after"]["status"] == big
    assert got[1]["after"] == {"id": 2, "status": "東京", "total": 2.5}


async def test_events_written_directly_are_counted_in_metrics(
    server: BackgroundServer, writer: ChronoDB
):
    async with websockets.connect(server.ws_url) as one, websockets.connect(server.ws_url) as two:
        for ws in (one, two):
            await send(ws, {"type": "subscribe", "table": "orders"})
        await asyncio.to_thread(
            writer.executemany, "INSERT INTO orders VALUES (?, 'new', 0)", [(1,), (2,), (3,)]
        )
        await changes(one, 3)
        await changes(two, 3)
    text = await asyncio.to_thread(lambda: httpx.get(server.url + "/metrics", timeout=15).text)
    sent = re.search(r"^chronodb_stream_events_sent_total (\S+)$", text, re.M)
    assert sent is not None and float(sent.group(1)) == 6.0
    # The round that offered them is timed from commit; it may end just after the delivery.
    deadline = time.monotonic() + 15  # only bounds a hang
    while not re.search(r"^chronodb_stream_dispatch_lag_seconds_count [1-9]", text, re.M):
        assert time.monotonic() < deadline, "no dispatch lag observed"
        await asyncio.sleep(0.05)
        text = await asyncio.to_thread(lambda: httpx.get(server.url + "/metrics", timeout=15).text)
    assert 'chronodb_stream_dispatch_lag_seconds_bucket{le="0.015"}' in text  # fine buckets


async def test_a_server_without_the_extension_streams_text_messages(db_path, writer: ChronoDB):
    config = uvicorn.Config(create_app(db_path), port=0, ws="websockets-sansio", log_level="error")
    stock = uvicorn.Server(config)  # uvicorn's own protocol: no frame writer in the scope
    thread = threading.Thread(target=stock.run, daemon=True)
    thread.start()
    try:
        while not stock.started:
            await asyncio.sleep(0.01)
        port = stock.servers[0].sockets[0].getsockname()[1]
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws") as ws:
            await send(ws, {"type": "subscribe", "table": "orders"})
            await asyncio.to_thread(writer.execute, "INSERT INTO orders VALUES (7, 'new', 7.0)")
            got = await changes(ws, 1)
    finally:
        stock.should_exit = True
        await asyncio.to_thread(thread.join, 15)
    assert got[0]["after"] == {"id": 7, "status": "new", "total": 7.0}


def test_chronodb_serve_runs_the_frames_protocol(db_path):
    assert uvicorn_config(db_path, port=0).ws is FramesProtocol
