"""The PostgreSQL change source: history read exactly, and NOTIFY as the doorbell, for
writes made by any client (ChronoDB, or plain psycopg through the triggers)."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Iterator

import psycopg
import pytest
import websockets
from tests.chronodb import pgserver
from tests.chronodb.server.wsclient import changes, receive, send

from chronodb import ChronoDB
from chronodb.server import BackgroundServer
from chronodb.server.feed import ChangeFeed
from chronodb.server.sources.postgres import PostgresReader

SCHEMA = "CREATE TABLE orders (id INTEGER PRIMARY KEY, status TEXT, total NUMERIC(10, 2))"


@pytest.fixture
def url(pg_url: str) -> Iterator[str]:
    location = pgserver.as_url(pg_url)
    with ChronoDB(location, user="setup") as db:
        db.execute(SCHEMA)
    yield location


def _compact(change: dict) -> tuple:
    return (change["tx_id"], change["operation"], change["before"], change["after"])


def test_reader_changes_equal_the_facades_changes_over_random_transactions(url: str) -> None:
    """Inserts, updates, deletes, several versions of a key in one transaction, a row
    inserted and deleted in one, rolled back ones, from ChronoDB and from psycopg."""
    rng = random.Random(7)
    db = ChronoDB(url, user="w")
    raw = psycopg.connect(url, autocommit=True)
    try:
        for _ in range(60):
            statements = []
            for _ in range(rng.randint(1, 4)):
                key = rng.randint(1, 8)
                statements.append(
                    rng.choice(
                        [
                            f"INSERT INTO orders VALUES ({key}, 'new', {key}.5) "
                            "ON CONFLICT (id) DO UPDATE SET status = 'again'",
                            f"UPDATE orders SET total = total + 1 WHERE id = {key}",
                            f"DELETE FROM orders WHERE id = {key}",
                        ]
                    )
                )
            if rng.random() < 0.5:
                with raw.transaction(force_rollback=rng.random() < 0.15):
                    for statement in statements:
                        raw.execute(statement)
            else:
                with db.transaction():
                    for statement in statements:
                        db.execute(statement)
        expected = [
            (c["tx_id"], c["operation"], c["before"], c["after"]) for c in db.changes("orders")
        ]
    finally:
        raw.close()
        db.close()
    reader = PostgresReader(url)
    try:
        last = reader.last_tx()
        got = reader.changes(["orders"], 0, last)
        # Read in steps, as a replay does: the same changes, none twice.
        stepped, lo = [], 0
        while (hi := reader.step_after("orders", lo, 7)) is not None:
            hi = min(hi, last)
            stepped += reader.changes(["orders"], lo, hi)
            lo = hi
        stepped += reader.changes(["orders"], lo, last)
    finally:
        reader.close()
    as_dicts = [(c.tx_id, c.operation, _decimal(c.before), _decimal(c.after)) for c in got]
    assert as_dicts == [(t, o, _decimal(b), _decimal(a)) for t, o, b, a in expected]
    assert [c.text for c in stepped] == [c.text for c in got]
    assert [c.tx_id for c in got] == sorted(c.tx_id for c in got)


def _decimal(values: dict | None) -> dict | None:
    """Totals as floats: the stream carries a NUMERIC as a JSON number."""
    if values is None:
        return None
    return {k: float(v) if k == "total" and v is not None else v for k, v in values.items()}


def test_the_reader_follows_a_renamed_column(url: str) -> None:
    """History keeps a column's first name; the feed names the values as the table does now."""
    with ChronoDB(url) as db:
        db.execute("INSERT INTO orders VALUES (1, 'new', 1)")
        db.execute("ALTER TABLE orders RENAME COLUMN status TO state")
        db.execute("UPDATE orders SET state = 'paid'")
        db.execute("DELETE FROM orders")
    reader = PostgresReader(url)
    try:
        got = reader.changes(["orders"], 0, reader.last_tx())
    finally:
        reader.close()
    assert [(c.operation, c.before, c.after) for c in got] == [
        ("INSERT", None, {"id": 1, "state": "new", "total": 1}),
        ("UPDATE", {"id": 1, "state": "new", "total": 1}, {"id": 1, "state": "paid", "total": 1}),
        ("DELETE", {"id": 1, "state": "paid", "total": 1}, None),
    ]


def test_tx_at_a_time_and_an_unknown_table(url: str) -> None:
    with ChronoDB(url) as db:
        first = db.execute("INSERT INTO orders VALUES (1, 'a', 1)")
        db.execute("INSERT INTO orders VALUES (2, 'b', 2)")
    reader = PostgresReader(url)
    try:
        assert reader.tx_at(first.tx_time) == first.tx_id
        assert reader.tx_at(0) == 0
        assert reader.resolve("nowhere") is None
        shape = reader.resolve("ORDERS")
        assert shape is not None and shape.name == "orders"
        assert shape.columns == ("id", "status", "total")
    finally:
        reader.close()


async def test_the_doorbell_rings_on_commit_and_not_on_rollback(url: str) -> None:
    feed = ChangeFeed(url)
    await feed.start()
    try:
        start = feed.last_tx
        with psycopg.connect(url, autocommit=True) as raw:
            with raw.transaction(force_rollback=True):
                raw.execute("INSERT INTO orders VALUES (1, 'never', 1)")
            raw.execute("INSERT INTO orders VALUES (2, 'kept', 2)")

        async def moved() -> None:
            while feed.last_tx == start:
                await feed.advanced()

        await asyncio.wait_for(moved(), 15)
        assert feed.last_tx > start
    finally:
        await feed.stop()


async def test_a_psycopg_transaction_reaches_a_websocket_subscriber(url: str) -> None:
    """psql-like writers go through the triggers only; the server hears their commit."""
    with BackgroundServer(url, port=0) as server:
        async with websockets.connect(server.ws_url) as ws:
            subscribed = await send(ws, {"type": "subscribe", "table": "orders"})
            assert subscribed["type"] == "subscribed"
            with psycopg.connect(url, autocommit=True) as raw:
                with raw.transaction(force_rollback=True):
                    raw.execute("INSERT INTO orders VALUES (9, 'rolled back', 9)")
                with raw.transaction():
                    raw.execute("INSERT INTO orders VALUES (1, 'new', 10.25), (2, 'new', 3)")
                    raw.execute("UPDATE orders SET status = 'paid' WHERE id = 1")
                raw.execute("DELETE FROM orders WHERE id = 2")
            first, second, deleted = await changes(ws, 3)
            pong = await send(ws, {"type": "ping"})
    assert first["tx_id"] == second["tx_id"] > subscribed["tx_id"]
    assert first["operation"] == second["operation"] == "INSERT"
    assert {first["after"]["id"], second["after"]["id"]} == {1, 2}
    one = first if first["after"]["id"] == 1 else second
    assert one["after"] == {"id": 1, "status": "paid", "total": 10.25}
    assert one["user"] == "postgres" and len(one["tx_hash"]) == 64
    assert deleted["operation"] == "DELETE" and deleted["tx_id"] > first["tx_id"]
    assert deleted["before"] == {"id": 2, "status": "new", "total": 3} and deleted["after"] is None
    assert pong["type"] == "pong" and pong["tx_id"] == deleted["tx_id"]


async def test_resume_since_tx_replays_psycopg_writes(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as raw:
        for i in range(5):
            raw.execute("INSERT INTO orders VALUES (%s, 'x', %s)", (i, i))
    with ChronoDB(url) as db:
        txs = [t["tx_id"] for t in reversed(db.transactions(limit=5))]  # the five inserts
    with BackgroundServer(url, port=0) as server:
        async with websockets.connect(server.ws_url) as ws:
            await ws.send(json.dumps({"type": "subscribe", "table": "orders", "since_tx": txs[1]}))
            assert (await receive(ws))["tx_id"] == txs[1]
            replayed = await changes(ws, 3)
    assert [c["tx_id"] for c in replayed] == txs[2:]
    assert [c["after"]["id"] for c in replayed] == [2, 3, 4]
