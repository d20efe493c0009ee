"""Transactions in time: ids are times; a counted era (older files) resolves through marks."""

from __future__ import annotations

import sqlite3

from hypothesis import given, settings
from hypothesis import strategies as st

from chronodb.storage import SQLiteBackend
from chronodb.versioning import timeline
from chronodb.versioning.catalog import CATALOG_STATEMENTS
from chronodb.versioning.timeline import MARK_EVERY, tx_at_micros


def catalog(path: str = ":memory:", *, origin: bool = True) -> SQLiteBackend:
    """A file's catalog; ``origin``: with origin 0 (so ids and times are equal)."""
    backend = SQLiteBackend(path)
    for statement in CATALOG_STATEMENTS:
        backend.run(statement)
    if origin:
        timeline.set_origin(backend.conn, 1)
    return backend


def commit(backend: SQLiteBackend, us: int, user: str = "tester") -> int:
    backend.begin(single=True)
    tx, at = backend.allocate_tx(us, user)
    assert at == tx + timeline.epoch(backend.conn).origin
    # A transaction that wrote nothing leaves no id behind; this one names itself in the
    # catalog, as a DDL statement would.
    backend.run(
        "INSERT INTO _chrono_schema (table_id, name, hist, keys, columns, from_tx, from_us) "
        "VALUES (1, 't', 'h', '[]', '[]', ?1, ?1)",
        (tx,),
    )
    backend.commit()
    return tx


def records(backend: SQLiteBackend) -> list[tuple[int, int, str]]:
    return [tuple(r) for r in backend.run("SELECT tx_id, tx_time, user FROM _chrono_tx")]


def test_an_id_is_the_time_and_stays_ahead_of_a_clock_that_steps_back() -> None:
    backend = catalog()
    assert [commit(backend, us) for us in (1_000, 2_000, 1_500, 2_000, 5_000)] == [
        1_000,
        2_000,
        2_001,
        2_002,
        5_000,
    ]


def test_a_record_is_written_only_when_the_user_changes() -> None:
    backend = catalog()
    commit(backend, 10, "ann")
    commit(backend, 20, "ann")
    commit(backend, 30, "ann")
    commit(backend, 40, "bob")
    commit(backend, 50, "bob")
    assert records(backend) == [(10, 10, "ann"), (40, 40, "bob")]
    users = backend.run(
        f"SELECT x, {timeline.user_of('x')}, {timeline.time_of('x')} FROM "
        "(SELECT from_tx AS x FROM _chrono_schema ORDER BY x)"
    )
    assert [tuple(r) for r in users] == [
        (10, "ann", 10),
        (20, "ann", 20),
        (30, "ann", 30),
        (40, "bob", 40),
        (50, "bob", 50),
    ]


def test_a_discarded_transaction_leaves_no_record() -> None:
    backend = catalog()
    commit(backend, 10, "ann")
    backend.begin(single=True)
    backend.allocate_tx(20, "bob")
    backend.discard_tx()
    backend.commit()
    assert records(backend) == [(10, 10, "ann")]
    commit(backend, 30, "bob")  # bob's record is written again: the last one was undone
    assert records(backend)[-1] == (30, 30, "bob")


def test_another_connection_s_commits_are_seen(tmp_path) -> None:
    path = str(tmp_path / "t.db")
    first, second = catalog(path), SQLiteBackend(path)
    assert commit(first, 1_000, "ann") == 1_000
    # The second connection's clock is behind: its transaction still comes after.
    assert commit(second, 900, "bob") == 1_001
    assert commit(first, 950, "ann") == 1_002
    assert records(first) == [(1_000, 1_000, "ann"), (1_001, 1_001, "bob"), (1_002, 1_002, "ann")]


def test_a_new_file_counts_from_its_creation() -> None:
    backend = catalog(origin=False)
    timeline.set_origin(backend.conn, 5_000_000)
    assert timeline.epoch(backend.conn) == timeline.Epoch(4_999_999, 0)
    backend.begin(single=True)
    assert backend.allocate_tx(5_000_250, "ann") == (251, 5_000_250)
    backend.commit()
    at = f"SELECT {tx_at_micros('?1', timeline.epoch(backend.conn))}"
    bounds = [backend.run(at, (p,)).fetchone()[0] for p in (None, 5_000_249, 5_000_250)]
    assert bounds == [0, 250, 251]
    assert backend.run(f"SELECT {timeline.time_of('251')}").fetchone()[0] == 5_000_250


def counted_file(steps: list[int]) -> SQLiteBackend:
    """A file as format 5 left it: transactions 1, 2, 3... at the given gaps, and marks."""
    backend = catalog(origin=False)
    now = 1_000
    for tx_id, gap in enumerate(steps, start=1):
        now += gap
        backend.run(
            "INSERT INTO _chrono_tx (tx_id, tx_time, user) VALUES (?, ?, 'old')", (tx_id, now)
        )
    backend.run(timeline.FILL)
    timeline.set_origin(backend.conn, 0)  # the clock is behind the last counted transaction
    return backend


def oracle(conn: sqlite3.Connection, us: int) -> int:
    return conn.execute(
        "SELECT coalesce(max(tx_id), 0) FROM _chrono_tx WHERE tx_time <= ?", (us,)
    ).fetchone()[0]


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(st.integers(1, 50), min_size=1, max_size=4 * MARK_EVERY),
    probes=st.lists(st.integers(-5, 6000), max_size=40),
)
def test_a_counted_era_resolves_like_a_scan(steps: list[int], probes: list[int]) -> None:
    backend = counted_file(steps)
    conn = backend.conn
    epoch = timeline.epoch(conn)
    last_time = conn.execute("SELECT max(tx_time) FROM _chrono_tx").fetchone()[0]
    assert epoch.counted == len(steps) and epoch.start == last_time
    # Transactions after the upgrade: ids go on after the counted ones, times after theirs.
    later = [commit(backend, last_time + d) for d in (1, 1, 7)]
    n = len(steps)
    assert later == [n + 1, n + 2, n + 7]
    later_times = [epoch.origin + t for t in later]
    assert later_times == [last_time + 1, last_time + 2, last_time + 7]
    at = f"SELECT {tx_at_micros('?1', epoch)}"
    times = [r[0] for r in conn.execute("SELECT tx_time FROM _chrono_tx")] + later_times
    points = probes + [1_000 + p for p in probes] + [t + d for t in times for d in (-1, 0, 1)]
    for point in points:
        bound = conn.execute(at, (point,)).fetchone()[0]
        if point < epoch.start:
            assert bound == oracle(conn, point), point
        else:
            # Every counted transaction, and every later one at or before the point.
            assert bound >= n
            included = [t for t, us in zip(later, later_times, strict=True) if us <= point]
            assert [t for t in later if t <= bound] == included


def test_the_newest_transactions_are_the_head_of_all_of_them(tmp_path) -> None:
    """A limited listing seeks from each table's tail; it must agree with the full scan."""
    from chronodb import ChronoDB

    with ChronoDB(tmp_path / "t.db", user="ann") as db:
        db.execute("CREATE TABLE a (id INTEGER PRIMARY KEY, v INTEGER)")
        db.execute("CREATE TABLE b (id INTEGER PRIMARY KEY, v INTEGER)")
        for n in range(12):
            table = "a" if n % 3 else "b"
            with db.transaction():  # some transactions write many rows, some two tables
                db.executemany(
                    f"INSERT OR REPLACE INTO {table} VALUES (?, ?)", [(k, n) for k in range(n)]
                )
                if n % 4 == 0:
                    db.execute("INSERT OR REPLACE INTO a VALUES (99, ?)", [n])
        db.execute("ALTER TABLE b ADD COLUMN w TEXT")
    with ChronoDB(tmp_path / "t.db", user="bob") as db:
        db.execute("DELETE FROM a WHERE id = 1")
        every = db.transactions()
        assert [t["tx_id"] for t in every] == sorted((t["tx_id"] for t in every), reverse=True)
        for limit in (0, 1, 2, 5, 9, len(every), len(every) + 3):
            assert db.transactions(limit) == every[:limit], limit
        assert every[0]["user"] == "bob" and every[1]["user"] == "ann"
