"""Several ``chronodb serve`` processes on one PostgreSQL database: every subscriber of every
server gets every change exactly once, in commit order, whoever wrote it, and across a
``kill -9`` and restart of one server whose clients resume with ``since_tx``."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import psycopg
import pytest
import websockets
from tests.chronodb import pgserver
from tests.chronodb.server.wsclient import HANG

from chronodb import ChronoDB

SUBSCRIBERS_PER_SERVER = 2
ROUND = 12  # transactions per writer per phase


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """A ``chronodb serve`` process on a fixed port (so that it can be restarted there)."""

    def __init__(self, url: str) -> None:
        self.url, self.port = url, _free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def start(self) -> Server:
        command = [sys.executable, "-m", "chronodb", "serve", self.url, "--port", str(self.port)]
        self.proc = subprocess.Popen(
            [*command, "--log-level", "warning"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=os.environ.copy(),
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, "chronodb serve exited"
            try:
                if httpx.get(self.http + "/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"chronodb serve on port {self.port} did not start")

    def kill(self) -> None:
        """``kill -9``: no shutdown, no goodbye to its clients."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)


@pytest.fixture
def url(pg_url: str) -> str:
    location = pgserver.as_url(pg_url)
    with ChronoDB(location, user="setup") as db:
        db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, writer TEXT, n INTEGER)")
    return location


@pytest.fixture
def servers(url: str) -> Iterator[list[Server]]:
    started = [Server(url) for _ in range(3)]
    try:
        for server in started:
            server.start()
        yield started
    finally:
        for server in started:
            server.kill()


@dataclass
class Client:
    """A subscriber of one server; ``events`` holds every data_change it was sent."""

    server: Server
    position: int = 0  # the last transaction it has everything of
    events: list[dict[str, Any]] = field(default_factory=list)
    resumed: int = 0

    async def subscribe(self, since_tx: int | None = None) -> Any:
        ws = await websockets.connect(self.server.ws)
        message: dict[str, Any] = {"type": "subscribe", "table": "orders"}
        if since_tx is not None:
            message["since_tx"] = since_tx
        await ws.send(json.dumps(message))
        answer = json.loads(await asyncio.wait_for(ws.recv(), HANG))
        assert answer["type"] == "subscribed", answer
        self.position = answer["tx_id"]
        return ws

    async def follow(self, ws: Any, until: asyncio.Event, last_tx: list[int]) -> None:
        """Take events until the final transaction arrived; on a dropped connection, wait for
        the server to come back and resume after the last transaction seen."""
        while not (until.is_set() and self.position >= last_tx[0]):
            try:
                text = await asyncio.wait_for(ws.recv(), 0.5)
            except TimeoutError:
                continue
            except websockets.ConnectionClosed:
                ws = await self._resume()
                continue
            event = json.loads(text)
            assert event["type"] == "data_change", event
            self.events.append(event)
            self.position = event["tx_id"]  # one change per transaction in this test
        await ws.close()

    async def _resume(self) -> Any:
        deadline = time.monotonic() + 60
        while True:
            try:
                ws = await self.subscribe(since_tx=self.position)
                self.resumed += 1
                return ws
            except (OSError, websockets.WebSocketException):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)


def _write_through_http(server: Server, name: str, start: int) -> None:
    with httpx.Client(base_url=server.http, timeout=30) as http:
        for i in range(start, start + ROUND):
            body = {"sql": "INSERT INTO orders VALUES (?, ?, ?)", "params": [i, name, i]}
            assert http.post("/sql", json=body).status_code == 200


def _write_through_chronodb(url: str, start: int) -> None:
    with ChronoDB(url, user="direct") as db:
        for i in range(start, start + ROUND):
            db.execute("INSERT INTO orders VALUES (?, 'chronodb', ?)", [i, i])
            db.execute("UPDATE orders SET n = n + 1 WHERE id = ?", [i])


def _write_through_psycopg(url: str, start: int) -> None:
    with psycopg.connect(url, autocommit=True) as raw:
        for i in range(start, start + ROUND):
            raw.execute("INSERT INTO orders VALUES (%s, 'psycopg', %s)", (i, i))
            raw.execute("DELETE FROM orders WHERE id = %s", (i,))


async def _phase(url: str, through: list[Server], base: int) -> None:
    """Writers in parallel: one through each server's HTTP API, one ChronoDB, one psycopg."""
    jobs = [
        asyncio.to_thread(_write_through_http, server, f"http{n}", base + 1000 * n)
        for n, server in enumerate(through)
    ]
    jobs.append(asyncio.to_thread(_write_through_chronodb, url, base + 10_000))
    jobs.append(asyncio.to_thread(_write_through_psycopg, url, base + 20_000))
    await asyncio.gather(*jobs)


async def test_every_subscriber_of_every_server_gets_every_change_once_in_order(
    url: str, servers: list[Server]
) -> None:
    clients = [Client(s) for s in servers for _ in range(SUBSCRIBERS_PER_SERVER)]
    sockets = [await c.subscribe() for c in clients]
    start = min(c.position for c in clients)
    done, last_tx = asyncio.Event(), [0]
    followers = [
        asyncio.create_task(c.follow(ws, done, last_tx))
        for c, ws in zip(clients, sockets, strict=True)
    ]
    await _phase(url, servers, 0)
    # kill -9 one server while writes go on through the others and directly.
    servers[0].kill()
    await _phase(url, servers[1:], 100)
    await asyncio.to_thread(servers[0].start)  # on the same port: its clients come back
    await _phase(url, servers, 200)
    with ChronoDB(url) as db:
        expected = [
            (c["tx_id"], c["operation"], (c["after"] or c["before"])["id"])
            for c in db.changes("orders")
            if c["tx_id"] > start
        ]
    last_tx[0] = expected[-1][0]
    done.set()
    await asyncio.wait_for(asyncio.gather(*followers), 120)
    # Per phase: one insert a transaction per HTTP writer, two changes a row from the others.
    assert len(expected) == (3 + 4) * ROUND + (2 + 4) * ROUND + (3 + 4) * ROUND
    for client in clients:
        got = [
            (e["tx_id"], e["operation"], (e["after"] or e["before"])["id"]) for e in client.events
        ]
        assert got == expected  # each change once, in commit order
    assert all(c.resumed >= 1 for c in clients if c.server is servers[0])
    assert all(c.resumed == 0 for c in clients if c.server is not servers[0])
