"""A subscription's first change is the first one after it was made, however slow joining is."""

from __future__ import annotations

import asyncio
from pathlib import Path

from chronodb import ChronoDB
from chronodb.server.feed import ChangeFeed
from chronodb.server.graphql.catalog import read_catalog
from chronodb.server.graphql.subscriptions import _changes, compile_predicate


async def _until_past(feed: ChangeFeed, tx: int) -> None:
    async def wait() -> None:
        while feed.last_tx < tx:
            await feed.advanced()

    await asyncio.wait_for(wait(), 15)  # bounds a hang only


async def test_changes_committed_while_joining_are_replayed_then_live_follows(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.db"
    db = ChronoDB(path, user="w")
    db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, status TEXT)")
    feed = ChangeFeed(str(path), interval=0.002)
    await feed.start()
    try:
        table = next(t for t in read_catalog(db) if t.name == "orders")
        paid = compile_predicate(table, {"status": {"eq": "paid"}})
        start = feed.last_tx  # where the subscription was made
        # Committed, and dispatched by the feed, before the subscription joins it.
        db.execute("INSERT INTO orders VALUES (1, 'paid')")
        db.execute("INSERT INTO orders VALUES (2, 'open')")
        moved = db.execute("UPDATE orders SET status = 'paid' WHERE id = 2").tx_id
        await _until_past(feed, moved)
        events = _changes(feed, table, paid, 100, start)
        replayed = [await asyncio.wait_for(events.__anext__(), 15) for _ in range(2)]
        live = db.execute("INSERT INTO orders VALUES (3, 'paid')").tx_id
        followed = await asyncio.wait_for(events.__anext__(), 15)
        await events.aclose()
    finally:
        await feed.stop()
        db.close()
    assert [(e["operation"], e["after"]["id"]) for e in replayed] == [
        ("INSERT", 1),
        ("UPDATE", 2),
    ]
    assert replayed[1]["tx_id"] == moved
    assert (followed["operation"], followed["after"]["id"], followed["tx_id"]) == (
        "INSERT",
        3,
        live,
    )
