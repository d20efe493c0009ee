"""The change feed's reads: any range of transactions, whatever history has lost since."""

from __future__ import annotations

import random
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from chronodb import ChronoDB
from chronodb.server.feed import Reader


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
        for lo in range(0, last + 1, 3):
            for hi in range(lo, last + 2, 5):
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
