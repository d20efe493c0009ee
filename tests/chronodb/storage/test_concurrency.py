"""Many threads and processes writing one database: nothing lost, history intact, no lock errors."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from storage_support import assert_sound, finish

from chronodb import ChronoDB, ChronoDBError

THREADS = 8
OPS = 120


@pytest.fixture
def eager_switching() -> Iterator[None]:
    """Switch threads as often as possible, so races show up in a short test."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


def run_threads(target: Callable[[int], None], count: int) -> None:
    """Run ``target(worker)`` in ``count`` threads at once; re-raise the first failure."""
    errors: list[BaseException] = []
    start = threading.Barrier(count)

    def body(worker: int) -> None:
        try:
            start.wait()
            target(worker)
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=body, args=(w,)) for w in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def make_schema(db: ChronoDB, workers: int) -> None:
    db.execute("CREATE TABLE events (w INTEGER, i INTEGER, note TEXT, PRIMARY KEY (w, i))")
    db.execute("CREATE TABLE counters (w INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
    db.executemany("INSERT INTO counters VALUES (?, 0)", [(w,) for w in range(workers)])


def writer(db: ChronoDB, worker: int, tx_ids: list[int]) -> None:
    """Every fifth step is an explicit transaction of two events; the others autocommit."""
    for i in range(0, OPS * 2, 2):
        if i % 10 == 0:
            with db.transaction():
                db.execute("INSERT INTO events VALUES (?, ?, 'tx')", (worker, i))
                db.execute("INSERT INTO events VALUES (?, ?, 'tx')", (worker, i + 1))
                r = db.execute("UPDATE counters SET n = n + 2 WHERE w = ?", (worker,))
            tx_ids.append(r.tx_id)
        else:
            r = db.execute("INSERT INTO events VALUES (?, ?, 'auto')", (worker, i))
            tx_ids.append(r.tx_id)
            r = db.execute("INSERT INTO events VALUES (?, ?, 'auto')", (worker, i + 1))
            tx_ids.append(r.tx_id)
            r = db.execute("UPDATE counters SET n = n + 2 WHERE w = ?", (worker,))
            tx_ids.append(r.tx_id)


def assert_all_written(db: ChronoDB, tx_ids: dict[int, list[int]]) -> None:
    """Every event and counter version is there, each write in its own, ordered transaction."""
    workers = len(tx_ids)
    rows = db.execute("SELECT w, i FROM events").rows
    assert sorted(map(tuple, rows)) == [(w, i) for w in range(workers) for i in range(OPS * 2)]
    counts = dict(map(tuple, db.execute("SELECT w, n FROM counters").rows))
    assert counts == {w: OPS * 2 for w in range(workers)}
    everything = [t for ids in tx_ids.values() for t in ids]
    assert all(t is not None for t in everything)
    # A transaction is one thread's: autocommit statements never share one with another thread.
    assert len(everything) == len(set(everything))
    for ids in tx_ids.values():
        assert ids == sorted(ids)
    for w in range(workers):
        versions = db.get_change_history("counters", w)
        # One version per update (each in its own transaction) after the insert.
        assert len(versions) == 1 + OPS
        values = [v["values"]["n"] for v in versions]
        assert values == list(range(0, OPS * 2 + 1, 2))
    assert_sound(db)


@pytest.mark.usefixtures("eager_switching")
def test_threads_sharing_one_database(tmp_path: Path) -> None:
    db = ChronoDB(tmp_path / "shared.db")
    make_schema(db, THREADS)
    tx_ids: dict[int, list[int]] = {w: [] for w in range(THREADS)}
    run_threads(lambda w: writer(db, w, tx_ids[w]), THREADS)
    assert_all_written(db, tx_ids)
    db.close()


def test_threads_each_with_own_database(tmp_path: Path) -> None:
    path = tmp_path / "own.db"
    with ChronoDB(path) as setup:
        make_schema(setup, 4)
    tx_ids: dict[int, list[int]] = {w: [] for w in range(4)}

    def own(worker: int) -> None:
        with ChronoDB(path, user=f"thread{worker}") as db:
            writer(db, worker, tx_ids[worker])

    run_threads(own, 4)
    with ChronoDB(path) as db:
        assert_all_written(db, tx_ids)
        users = {r[0] for r in db.connection.execute("SELECT DISTINCT user FROM _chrono_tx")}
        assert {f"thread{w}" for w in range(4)} <= users


def test_a_thread_waits_for_another_threads_transaction(db: ChronoDB) -> None:
    """A transaction open in one thread makes another thread wait, not fail or join it."""
    db.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)")
    opened, done = threading.Event(), threading.Event()

    def other() -> None:
        opened.wait()
        with db.transaction():
            db.execute("INSERT INTO t VALUES (2, 'other')")
        done.set()

    thread = threading.Thread(target=other)
    thread.start()
    with db.transaction():
        first = db.execute("INSERT INTO t VALUES (1, 'mine')")
        opened.set()
        assert not done.wait(0.2)
    thread.join()
    assert done.is_set()
    assert [r["tx_id"] for r in db.get_change_history("t", 1)] == [first.tx_id]
    [second] = [r["tx_id"] for r in db.get_change_history("t", 2)]
    assert second > first.tx_id  # the waiting thread's transaction came after


def test_processes_writing_one_file(tmp_path: Path, spawn) -> None:
    path = tmp_path / "procs.db"
    count = 40
    procs = [spawn("write", path, w, count) for w in range(4)]
    reports = {w: finish(p) for w, p in enumerate(procs)}
    for w, lines in reports.items():
        assert lines[-1] == "done"
        assert len(lines) == count + 1, f"worker {w}: {lines[-3:]}"
    with ChronoDB(path) as db:
        rows = sorted(map(tuple, db.execute("SELECT w, i FROM events").rows))
        assert rows == [(w, i) for w in range(4) for i in range(count)]
        counts = dict(map(tuple, db.execute("SELECT w, n FROM counters").rows))
        assert counts == {w: count for w in range(4)}
        # What each worker was told committed is what the database says, time included.
        recorded = {
            r[0]: r[1] for r in db.connection.execute("SELECT tx_id, tx_time FROM _chrono_tx")
        }
        for lines in reports.values():
            for line in lines[:-1]:
                _, _, tx_id, tx_time = line.split()
                assert recorded[int(tx_id)] == round(float(tx_time) * 1e6)
        assert_sound(db)


def test_processes_opening_a_new_file_at_once(tmp_path: Path, spawn) -> None:
    """Creating the file, its catalog and the same tables concurrently is not an error."""
    path = tmp_path / "fresh.db"
    procs = [spawn("write", path, w, 3) for w in range(4)]
    for p in procs:
        assert finish(p)[-1] == "done"
    with ChronoDB(path) as db:
        assert db.execute("SELECT count(*) FROM events").scalar() == 12
        assert sorted(db.tables()) == ["counter", "counters", "events", "items"]
        assert_sound(db)


def test_begin_waits_for_another_process(tmp_path: Path, spawn) -> None:
    """BEGIN IMMEDIATE waits (busy timeout) while another process holds the write lock."""
    path = tmp_path / "busy.db"
    with ChronoDB(path) as db:
        db.execute("CREATE TABLE events (w INTEGER, i INTEGER, note TEXT, PRIMARY KEY (w, i))")
        db.execute("INSERT INTO events VALUES (0, 0, 'before')")
    holder = spawn("hold", path, 0.3)
    assert holder.stdin is not None and holder.stdout is not None
    assert holder.stdout.readline().strip() == "holding"
    with ChronoDB(path, timeout=10) as db:
        # Opening and reading are not blocked by the writer (WAL), and do not see its work:
        # the holder keeps its transaction open until told, so a blocked read would fail.
        assert db.execute("SELECT count(*) FROM events").scalar() == 1
        future = time.time() + 60
        as_of = db.execute("SELECT count(*) FROM events AS OF TIMESTAMP ?", (future,))
        assert as_of.scalar() == 1
        # A writer waits for the lock (the holder commits 0.3 s after being told) rather than
        # failing with "database is locked".
        holder.stdin.write("release\n")
        holder.stdin.flush()
        result = db.execute("INSERT INTO events VALUES (1, 1, 'after')")
        assert finish(holder)[-1] == "released"
        order = [(c["after"]["note"], c["tx_id"]) for c in db.changes("events")]
        assert [note for note, _ in order] == ["before", "held", "after"]
        assert order[-1][1] == result.tx_id
        assert_sound(db)


def test_lock_held_past_the_timeout_is_a_chronodb_error(tmp_path: Path, spawn) -> None:
    path = tmp_path / "timeout.db"
    with ChronoDB(path) as db:
        db.execute("CREATE TABLE events (w INTEGER, i INTEGER, note TEXT, PRIMARY KEY (w, i))")
    holder = spawn("hold", path, 0)
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "holding"
    with ChronoDB(path, timeout=0.2) as db:
        # The holder keeps the lock until finish() closes its stdin.
        with pytest.raises(ChronoDBError, match="busy"):
            db.execute("INSERT INTO events VALUES (1, 1, 'too soon')")
        finish(holder)
        db.execute("INSERT INTO events VALUES (1, 1, 'later')")
        assert db.execute("SELECT count(*) FROM events").scalar() == 2
