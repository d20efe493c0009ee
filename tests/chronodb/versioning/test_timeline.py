"""A point in time resolves to the last transaction at or before it, through sparse marks."""

from __future__ import annotations

import sqlite3

from hypothesis import given, settings
from hypothesis import strategies as st

from chronodb.versioning.catalog import CATALOG_STATEMENTS
from chronodb.versioning.timeline import MARK_EVERY, tx_at_micros

AT = f"SELECT {tx_at_micros('?1')}"


def catalog() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    for statement in CATALOG_STATEMENTS:
        conn.execute(statement)
    return conn


def commit(conn: sqlite3.Connection, us: int) -> int:
    return conn.execute(
        "INSERT INTO _chrono_tx (tx_id, tx_time) VALUES "
        "((SELECT coalesce(max(tx_id), 0) + 1 FROM _chrono_tx), ?) RETURNING tx_id",
        (us,),
    ).fetchone()[0]


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
    conn = catalog()
    now = 1_000
    for gap, empty in steps:
        now += gap
        tx = commit(conn, now)
        if empty:
            conn.execute("DELETE FROM _chrono_tx WHERE tx_id = ?", (tx,))
    times = [r[0] for r in conn.execute("SELECT tx_time FROM _chrono_tx")]
    points = probes + [1_000 + p for p in probes] + [t + d for t in times for d in (-1, 0, 1)]
    for point in points:
        assert conn.execute(AT, (point,)).fetchone()[0] == oracle(conn, point), point


def test_marks_follow_the_transactions() -> None:
    conn = catalog()
    for n in range(1, 3 * MARK_EVERY + 1):
        commit(conn, 10 * n)
    marks = conn.execute("SELECT tx_id, tx_time FROM _chrono_tx_mark ORDER BY tx_id").fetchall()
    assert marks == [(k * MARK_EVERY, 10 * k * MARK_EVERY) for k in (1, 2, 3)]
    conn.execute("DELETE FROM _chrono_tx WHERE tx_id = ?", (3 * MARK_EVERY,))
    assert conn.execute("SELECT count(*) FROM _chrono_tx_mark").fetchone()[0] == 2


def test_no_point_and_no_transactions_resolve_to_none() -> None:
    conn = catalog()
    assert conn.execute(AT, (5,)).fetchone()[0] == 0
    commit(conn, 10)
    assert conn.execute(AT, (None,)).fetchone()[0] == 0
    assert conn.execute(AT, (9,)).fetchone()[0] == 0
    assert conn.execute(AT, (10,)).fetchone()[0] == 1
