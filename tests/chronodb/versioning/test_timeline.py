"""A point in time resolves to the last transaction at or before it, through sparse marks."""

from __future__ import annotations

import sqlite3

from hypothesis import given, settings
from hypothesis import strategies as st

from chronodb.storage import SQLiteBackend
from chronodb.versioning.catalog import CATALOG_STATEMENTS
from chronodb.versioning.timeline import MARK_EVERY, tx_at_micros

AT = f"SELECT {tx_at_micros('?1')}"


def catalog() -> SQLiteBackend:
    backend = SQLiteBackend(":memory:")
    for statement in CATALOG_STATEMENTS:
        backend.run(statement)
    return backend


def commit(backend: SQLiteBackend, us: int, *, empty: bool = False) -> int:
    """A transaction through the allocator; ``empty``: it wrote nothing (its record goes)."""
    backend.begin(single=True)
    tx, _ = backend.allocate_tx(us, "tester")
    if empty:
        backend.discard_tx()
    backend.commit()
    return tx


def oracle(conn: sqlite3.Connection, us: int) -> int:
    return conn.execute(
        "SELECT coalesce(max(tx_id), 0) FROM _chrono_tx WHERE tx_time <= ?", (us,)
    ).fetchone()[0]


# Each step: a transaction (the gap since the previous one, in µs), and whether it wrote
# nothing and so removed its own record again.
steps = st.lists(st.tuples(st.integers(1, 50), st.booleans()), max_size=4 * MARK_EVERY)


@settings(max_examples=60, deadline=None)
@given(steps=steps, probes=st.lists(st.integers(-5, 6000), max_size=40))
def test_every_point_resolves_like_a_scan(steps: list[tuple[int, bool]], probes: list[int]) -> None:
    backend = catalog()
    conn = backend.conn
    now = 1_000
    for gap, empty in steps:
        now += gap
        commit(backend, now, empty=empty)
    times = [r[0] for r in conn.execute("SELECT tx_time FROM _chrono_tx")]
    points = probes + [1_000 + p for p in probes] + [t + d for t in times for d in (-1, 0, 1)]
    for point in points:
        assert conn.execute(AT, (point,)).fetchone()[0] == oracle(conn, point), point


def test_marks_follow_the_transactions() -> None:
    backend = catalog()

    def marks() -> list[tuple[int, int]]:
        found = backend.run("SELECT tx_id, tx_time FROM _chrono_tx_mark ORDER BY tx_id")
        return [tuple(r) for r in found]

    for n in range(1, 3 * MARK_EVERY):
        commit(backend, 10 * n)
    # The third mark's transaction wrote nothing: its record and its mark go.
    commit(backend, 30 * MARK_EVERY, empty=True)
    assert marks() == [(k * MARK_EVERY, 10 * k * MARK_EVERY) for k in (1, 2)]
    # The id is taken again, at a later time, and marked at that time.
    commit(backend, 30 * MARK_EVERY + 5)
    assert marks()[-1] == (3 * MARK_EVERY, 30 * MARK_EVERY + 5)


def test_no_point_and_no_transactions_resolve_to_none() -> None:
    backend = catalog()
    conn = backend.conn
    assert conn.execute(AT, (5,)).fetchone()[0] == 0
    commit(backend, 10)
    assert conn.execute(AT, (None,)).fetchone()[0] == 0
    assert conn.execute(AT, (9,)).fetchone()[0] == 0
    assert conn.execute(AT, (10,)).fetchone()[0] == 1
