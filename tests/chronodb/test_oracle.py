"""Oracle: any past state read AS OF equals plain SQLite replaying the workload up to then.

Random workloads of inserts, updates (key changes included), deletes and multi-statement
transactions, some rolled back, run against ChronoDB and replayed into a plain sqlite3
database. After each transaction the plain database's answers are recorded with the last
committed tx_id and its tx_time; at random points, and at the end, every recorded point is
asked again AS OF TRANSACTION k and AS OF TIMESTAMP t and must answer the same.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from chronodb import ChronoDB

SCHEMA = [
    "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, score INTEGER)",
    "CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER, total INTEGER)",
]

# {u} and {o} take a table's own clause, {q} a query-wide one; plain SQLite gets ''.
QUERIES = [
    "SELECT * FROM users {u} ORDER BY id, name, score",
    "SELECT * FROM orders {o} ORDER BY id, user_id, total",
    "SELECT users.id, users.name, count(orders.id) AS n, sum(orders.total) AS spent "
    "FROM users JOIN orders ON orders.user_id = users.id {q} WHERE users.score >= 0 "
    "GROUP BY users.id HAVING n >= 2 ORDER BY 1, 2, 3, 4",
    "SELECT count(*), sum(score), min(name), max(score) FROM users {u}",
    "SELECT name, score FROM users {u} WHERE id IN "
    "(SELECT user_id FROM orders {o} WHERE total > 10) ORDER BY name, score",
]

ids = st.integers(1, 6)
names = st.sampled_from(["ann", "ben", "cy", "dee"])
amounts = st.integers(0, 30)

operations = st.one_of(
    st.tuples(
        st.just("INSERT OR REPLACE INTO users VALUES (?, ?, ?)"), st.tuples(ids, names, amounts)
    ),
    st.tuples(
        st.just("INSERT OR IGNORE INTO users VALUES (?, ?, ?)"), st.tuples(ids, names, amounts)
    ),
    st.tuples(st.just("UPDATE users SET score = score + ? WHERE id = ?"), st.tuples(amounts, ids)),
    st.tuples(st.just("UPDATE users SET name = ? WHERE score > ?"), st.tuples(names, amounts)),
    st.tuples(st.just("UPDATE OR IGNORE users SET id = ? WHERE id = ?"), st.tuples(ids, ids)),
    st.tuples(st.just("DELETE FROM users WHERE id = ?"), st.tuples(ids)),
    st.tuples(
        st.just("INSERT OR REPLACE INTO orders VALUES (?, ?, ?)"), st.tuples(ids, ids, amounts)
    ),
    st.tuples(st.just("UPDATE orders SET total = total * 2 WHERE user_id = ?"), st.tuples(ids)),
    st.tuples(st.just("DELETE FROM orders WHERE total > ?"), st.tuples(amounts)),
)


@dataclass
class Step:
    ops: list[tuple[str, tuple]]
    mode: str  # "auto" (one statement alone), "commit", "rollback", "context_rollback"
    check_now: bool


steps = st.builds(
    Step,
    ops=st.lists(operations, min_size=1, max_size=4),
    mode=st.sampled_from(["auto", "commit", "commit", "rollback", "context_rollback"]),
    check_now=st.booleans(),
)


class Boom(Exception):
    """Raised inside ``db.transaction()`` to roll it back."""


def answers(run: Callable[[str], Iterable], clause: str, table_clause: str) -> list[list[tuple]]:
    out = []
    for query in QUERIES:
        sql = query.format(u=table_clause, o=table_clause, q=clause)
        out.append([tuple(r) for r in run(sql)])
    return out


def apply(step: Step, db: ChronoDB, plain: sqlite3.Connection) -> None:
    if step.mode == "auto":
        for sql, params in step.ops:
            db.execute(sql, params)
            plain.execute(sql, params)
        return
    plain.execute("BEGIN")
    for sql, params in step.ops:
        plain.execute(sql, params)
    plain.execute("ROLLBACK" if "rollback" in step.mode else "COMMIT")
    if step.mode == "context_rollback":
        try:
            with db.transaction():
                for sql, params in step.ops:
                    db.execute(sql, params)
                raise Boom
        except Boom:
            pass
        return
    db.execute("BEGIN")
    for sql, params in step.ops:
        db.execute(sql, params)
    db.execute("ROLLBACK" if step.mode == "rollback" else "COMMIT")


def check(db: ChronoDB, seen: list[tuple[int, float, list[list[tuple]]]]) -> None:
    for tx_id, tx_time, expected in seen:
        by_tx = f"AS OF TRANSACTION {tx_id}"
        assert answers(db.execute, by_tx, by_tx) == expected, f"AS OF TRANSACTION {tx_id}"
        by_time = f"AS OF TIMESTAMP {tx_time!r}"
        assert answers(db.execute, by_time, by_time) == expected, f"AS OF TIMESTAMP {tx_time!r}"


@settings(max_examples=40, deadline=None)
@given(workload=st.lists(steps, min_size=1, max_size=12))
def test_as_of_matches_a_replay_in_plain_sqlite(workload: list[Step]) -> None:
    plain = sqlite3.connect(":memory:", isolation_level=None)
    db = ChronoDB(":memory:", user="oracle")
    try:
        for sql in SCHEMA:
            db.execute(sql)
            plain.execute(sql)
        seen: list[tuple[int, float, list[list[tuple]]]] = []
        for step in workload:
            apply(step, db, plain)
            last = db.transactions(1)[0]
            tx_id, tx_us = last["tx_id"], round(last["tx_time"] * 1e6)
            current = answers(plain.execute, "", "")
            # the current tables agree with the replay, and so does AS OF the last transaction
            assert answers(db.execute, "", "") == current
            seen.append((tx_id, tx_us / 1e6, current))
            if step.check_now:
                check(db, seen)
        check(db, seen)
    finally:
        db.close()
        plain.close()
