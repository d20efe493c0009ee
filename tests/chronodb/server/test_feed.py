"""The change feed's reads: any range of transactions, whatever history has lost since."""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from chronodb import ChronoDB
from chronodb.server.events import Change
from chronodb.server.feed import SLICE_SECONDS, ChangeFeed
from chronodb.server.sources.sqlite import SqliteReader as Reader


def ids(reader: Reader, lo: int, hi: int) -> list[tuple[int, str, int]]:
    return [
        (c.tx_id, c.operation, (c.after or c.before)["id"]) for c in reader.changes(["t"], lo, hi)
    ]


def test_ranges_after_pruning_and_erasure_leave_holes_in_history(tmp_path: Path) -> None:
    db = ChronoDB(tmp_path / "f.db", user="w")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)")
    txs = [db.execute("INSERT INTO t VALUES (?, 0)", [i]).tx_id for i in range(20)]
    for i in range(0, 20, 2):
        txs.append(db.execute("UPDATE t SET v = 1 WHERE id = ?", [i]).tx_id)
    db.erase("t", 4)
    db.prune_history(db.execute("SELECT max(tx_time) FROM _chrono_tx").scalar() / 1e6)
    last = db.execute("INSERT INTO t VALUES (100, 0)").tx_id
    reader = Reader(str(tmp_path / "f.db"))
    try:
        everything = ids(reader, 0, last)
        assert (last, "INSERT", 100) == everything[-1]
        assert all(row_id != 4 for _, _, row_id in everything)
        assert [tx for tx, _, _ in everything] == sorted(tx for tx, _, _ in everything)
        # Every sub-range is exactly the matching slice of the whole.
        # Bounds at, just before and just after every transaction (ids are times: sparse).
        points = [0, *sorted({t + d for t in [*txs, last] for d in (-1, 0, 1)})]
        for lo in points[::2]:
            for hi in [p for p in points[::3] if p >= lo]:
                assert ids(reader, lo, hi) == [c for c in everything if lo < c[0] <= hi]
    finally:
        reader.close()
        db.close()


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("IUD"), st.integers(0, 6)), min_size=1, max_size=40))
def test_feed_ranges_match_a_replay_of_the_workload(tmp_path_factory, ops) -> None:
    path = tmp_path_factory.mktemp("feed") / "f.db"
    db = ChronoDB(path, user="w")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)")
    start = db.execute("SELECT max(tx_id) FROM _chrono_tx").scalar()
    expected: list[tuple[int, str, int]] = []
    present: set[int] = set()
    rng = random.Random(len(ops))
    for op, key in ops:
        if op == "I" and key not in present:
            result, kind = db.execute("INSERT INTO t VALUES (?, 0)", [key]), "INSERT"
            present.add(key)
        elif op == "U" and key in present:
            result = db.execute("UPDATE t SET v = v + 1 WHERE id = ?", [key])
            kind = "UPDATE"
        elif op == "D" and key in present:
            result, kind = db.execute("DELETE FROM t WHERE id = ?", [key]), "DELETE"
            present.discard(key)
        else:
            continue
        expected.append((result.tx_id, kind, key))
    last = db.execute("SELECT max(tx_id) FROM _chrono_tx").scalar()
    reader = Reader(str(path))
    try:
        for _ in range(10):
            lo = rng.randint(start, last)
            hi = rng.randint(lo, last)
            assert ids(reader, lo, hi) == [c for c in expected if lo < c[0] <= hi]
    finally:
        reader.close()
        db.close()


class Fake:
    """A feed subscriber of table ``t`` that records the transactions of each delivery."""

    table_key = "t"
    filter_key = None
    predicate = None

    def __init__(self, after_tx: int, on_deliver: Callable[[], None] | None = None) -> None:
        self.after_tx = after_tx
        self.got: list[list[int]] = []
        self.on_deliver = on_deliver

    @property
    def unit(self) -> Fake:
        return self

    def deliver(self, changes: list[Change]) -> None:
        self.got.append([c.tx_id for c in changes])
        if self.on_deliver is not None:
            on_deliver, self.on_deliver = self.on_deliver, None
            on_deliver()


async def _commit_mid_round(tmp_path: Path, feed: ChangeFeed) -> tuple[Fake, Fake, int, int]:
    """Two subscribers; serving the first commits another change and runs past the slice.

    Returns both, and the transactions committed before and during the round, once each
    subscriber has had both.
    """
    db = ChronoDB(tmp_path / "f.db", user="w")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    await feed.start()
    later: list[int] = []

    def commit_and_take_a_while() -> None:
        later.append(db.execute("INSERT INTO t VALUES (2)").tx_id)
        time.sleep(SLICE_SECONDS * 2)

    def had(fake: Fake) -> int:
        return sum(map(len, fake.got))

    try:
        first = Fake(feed.last_tx, commit_and_take_a_while)
        second = Fake(feed.last_tx)
        feed.add_live(first)
        feed.add_live(second)
        early = db.execute("INSERT INTO t VALUES (1)").tx_id

        async def wait() -> None:
            while had(first) < 2 or had(second) < 2:
                await asyncio.sleep(0.002)

        await asyncio.wait_for(wait(), 15)  # bounds a hang only
    finally:
        await feed.stop()
        db.close()
    return first, second, early, later[0]


async def test_a_subscriber_served_late_in_a_round_gets_what_was_committed_during_it(
    tmp_path: Path,
) -> None:
    feed = ChangeFeed(str(tmp_path / "f.db"), interval=0.002)
    first, second, early, later = await _commit_mid_round(tmp_path, feed)
    assert first.got == [[early], [later]]
    assert second.got == [[early, later]]  # not [early], then a round later [later]


async def test_a_read_failing_mid_round_leaves_the_rest_served_next_round(
    tmp_path: Path, monkeypatch
) -> None:
    real = Reader.changes
    calls = 0

    def second_read_fails(reader: Reader, *args: object) -> list[Change]:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise sqlite3.OperationalError("disk I/O error")
        return real(reader, *args)

    monkeypatch.setattr(Reader, "changes", second_read_fails)
    errors: list[BaseException] = []
    feed = ChangeFeed(str(tmp_path / "f.db"), interval=0.002, on_error=errors.append)
    first, second, early, later = await _commit_mid_round(tmp_path, feed)
    assert len(errors) == 1
    assert first.got == [[early], [later]]
    assert second.got == [[early, later]]  # its turn came after the failed read
