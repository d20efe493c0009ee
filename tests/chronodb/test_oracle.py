"""Oracle: any past state read AS OF equals a plain database replaying the workload up to then.

Random workloads of inserts, upserts, updates (key changes included), deletes and
multi-statement transactions, some rolled back, run against ChronoDB and are replayed into a
plain database of the same kind: plain sqlite3 for SQLite, a plain PostgreSQL database (no
ChronoDB objects in it) for PostgreSQL, so both sides compute with the same engine's types,
collation and arithmetic. After each transaction the plain database's answers are recorded
with the last committed tx_id and its tx_time; at random points, and at the end, every
recorded point is asked again AS OF TRANSACTION k and AS OF TIMESTAMP t and must answer the
same. The workload's SQL runs unchanged on both backends, plus SQLite's own conflict clauses
(``INSERT OR REPLACE``…) on SQLite.
"""

from __future__ import annotations

import itertools
import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.chronodb import pgserver

from chronodb import ChronoDB

SCHEMA = [
    "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, score INTEGER)",
    "CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER, total INTEGER)",
]

# {u} and {o} take a table's own clause, {q} a query-wide one; the plain database gets ''.
QUERIES = [
    "SELECT * FROM users {u} ORDER BY id, name, score",
    "SELECT * FROM orders {o} ORDER BY id, user_id, total",
    "SELECT users.id, users.name, count(orders.id) AS n, sum(orders.total) AS spent "
    "FROM users JOIN orders ON orders.user_id = users.id {q} WHERE users.score >= 0 "
    "GROUP BY users.id HAVING count(orders.id) >= 2 ORDER BY 1, 2, 3, 4",
    "SELECT count(*), sum(score), min(name), max(score) FROM users {u}",
    "SELECT name, score FROM users {u} WHERE id IN "
    "(SELECT user_id FROM orders {o} WHERE total > 10) ORDER BY name, score",
]

ids = st.integers(1, 6)
names = st.sampled_from(["ann", "ben", "cy", "dee"])
amounts = st.integers(0, 30)

# Statements that run unchanged on both backends; none of them can fail, so a transaction
# never aborts part way.
PORTABLE = [
    st.tuples(
        st.just(
            "INSERT INTO users VALUES (?, ?, ?) ON CONFLICT (id) "
            "DO UPDATE SET name = excluded.name, score = excluded.score"
        ),
        st.tuples(ids, names, amounts),
    ),
    st.tuples(
        st.just("INSERT INTO users VALUES (?, ?, ?) ON CONFLICT DO NOTHING"),
        st.tuples(ids, names, amounts),
    ),
    st.tuples(st.just("UPDATE users SET score = score + ? WHERE id = ?"), st.tuples(amounts, ids)),
    st.tuples(st.just("UPDATE users SET name = ? WHERE score > ?"), st.tuples(names, amounts)),
    st.tuples(
        st.just(
            "UPDATE users SET id = ? WHERE id = ? "
            "AND NOT EXISTS (SELECT 1 FROM users AS taken WHERE taken.id = ?)"
        ),
        ids.flatmap(lambda new: st.tuples(st.just(new), ids, st.just(new))),
    ),
    st.tuples(st.just("DELETE FROM users WHERE id = ?"), st.tuples(ids)),
    st.tuples(
        st.just(
            "INSERT INTO orders VALUES (?, ?, ?) ON CONFLICT (id) "
            "DO UPDATE SET user_id = excluded.user_id, total = excluded.total"
        ),
        st.tuples(ids, ids, amounts),
    ),
    st.tuples(st.just("UPDATE orders SET total = total * 2 WHERE user_id = ?"), st.tuples(ids)),
    st.tuples(st.just("DELETE FROM orders WHERE total > ?"), st.tuples(amounts)),
]
SQLITE_ONLY = [
    st.tuples(
        st.just("INSERT OR REPLACE INTO users VALUES (?, ?, ?)"), st.tuples(ids, names, amounts)
    ),
    st.tuples(
        st.just("INSERT OR IGNORE INTO users VALUES (?, ?, ?)"), st.tuples(ids, names, amounts)
    ),
    st.tuples(st.just("UPDATE OR IGNORE users SET id = ? WHERE id = ?"), st.tuples(ids, ids)),
    st.tuples(
        st.just("INSERT OR REPLACE INTO orders VALUES (?, ?, ?)"), st.tuples(ids, ids, amounts)
    ),
]
OPERATIONS = {
    "sqlite": st.one_of(*PORTABLE, *SQLITE_ONLY),
    "postgresql": st.one_of(*PORTABLE),
}


@dataclass
class Step:
    ops: list[tuple[str, tuple]]
    mode: str  # "auto" (one statement alone), "commit", "rollback", "context_rollback"
    check_now: bool


def workloads(kind: str) -> st.SearchStrategy[list[Step]]:
    step = st.builds(
        Step,
        ops=st.lists(OPERATIONS[kind], min_size=1, max_size=4),
        mode=st.sampled_from(["auto", "commit", "commit", "rollback", "context_rollback"]),
        check_now=st.sampled_from([False, False, False, True]),
    )
    return st.lists(step, min_size=1, max_size=12)


_TABLES = re.compile(r"\b(?:users|orders)\b")


def renamed(sql: str, number: int) -> str:
    """``sql`` on example ``number``'s own tables (one PostgreSQL database serves them all)."""
    return _TABLES.sub(lambda m: f"{m.group(0)}_{number}", sql) if number else sql


@dataclass
class Example:
    """One example's databases: ChronoDB and the plain oracle, each with its tables named
    for the example's ``number`` (0: the plain names)."""

    db: ChronoDB
    plain: Callable[[str, tuple], list[tuple]]
    number: int

    def chrono(self, sql: str, params: tuple = ()) -> list[tuple]:
        return [tuple(r) for r in self.db.execute(renamed(sql, self.number), params)]

    def replay(self, sql: str, params: tuple = ()) -> list[tuple]:
        return self.plain(renamed(sql, self.number), params)


class Boom(Exception):
    """Raised inside ``db.transaction()`` to roll it back."""


def answers(run: Callable[[str], Iterable], clause: str, table_clause: str) -> list[list[tuple]]:
    out = []
    for query in QUERIES:
        sql = query.format(u=table_clause, o=table_clause, q=clause)
        out.append([tuple(r) for r in run(sql)])
    return out


def apply(step: Step, ex: Example) -> None:
    if step.mode == "auto":
        for sql, params in step.ops:
            ex.chrono(sql, params)
            ex.replay(sql, params)
        return
    ex.replay("BEGIN")
    for sql, params in step.ops:
        ex.replay(sql, params)
    ex.replay("ROLLBACK" if "rollback" in step.mode else "COMMIT")
    if step.mode == "context_rollback":
        try:
            with ex.db.transaction():
                for sql, params in step.ops:
                    ex.chrono(sql, params)
                raise Boom
        except Boom:
            pass
        return
    ex.chrono("BEGIN")
    for sql, params in step.ops:
        ex.chrono(sql, params)
    ex.chrono("ROLLBACK" if step.mode == "rollback" else "COMMIT")


def check(ex: Example, seen: list[tuple[int, float, list[list[tuple]]]]) -> None:
    for tx_id, tx_time, expected in seen:
        by_tx = f"AS OF TRANSACTION {tx_id}"
        assert answers(ex.chrono, by_tx, by_tx) == expected, f"AS OF TRANSACTION {tx_id}"
        by_time = f"AS OF TIMESTAMP {tx_time!r}"
        assert answers(ex.chrono, by_time, by_time) == expected, f"AS OF TIMESTAMP {tx_time!r}"


@pytest.fixture
def kind(backend: str) -> str:
    return "postgresql" if backend.startswith("postgresql://") else "sqlite"


def _sqlite_run(conn: sqlite3.Connection) -> Callable[[str, tuple], list[tuple]]:
    return lambda sql, params: [tuple(r) for r in conn.execute(sql, params)]


@pytest.fixture
def fresh(kind: str, backend: str) -> Iterator[Callable[[], Any]]:
    """Per example: an empty ChronoDB database and an empty plain one of the same kind. On
    PostgreSQL, where opening a database costs more than an example, every example has
    tables of its own in the ``backend`` database and in one plain database."""
    if kind == "sqlite":

        @contextmanager
        def in_memory() -> Iterator[Example]:
            plain = sqlite3.connect(":memory:", isolation_level=None)
            db = ChronoDB(":memory:", user="oracle")
            try:
                yield Example(db, _sqlite_run(plain), 0)
            finally:
                db.close()
                plain.close()

        yield in_memory
        return
    import psycopg

    with (
        pgserver.fresh_database(pgserver.server_url()) as conninfo,
        psycopg.connect(conninfo, autocommit=True) as conn,
        ChronoDB(backend, user="oracle") as db,
    ):

        def run(sql: str, params: tuple) -> list[tuple]:
            cursor = conn.execute(sql.replace("?", "%s"), params or None)
            return [tuple(r) for r in cursor.fetchall()] if cursor.description else []

        @contextmanager
        def tables_of_its_own() -> Iterator[Example]:
            try:
                yield Example(db, run, next(_examples))
            finally:  # a failed example leaves no transaction open for the next
                if db.in_transaction:
                    db.execute("ROLLBACK")
                if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                    conn.execute("ROLLBACK")

        yield tables_of_its_own


_examples = itertools.count(1)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_as_of_matches_a_replay(fresh: Callable[[], Any], kind: str, data: st.DataObject) -> None:
    workload = data.draw(workloads(kind), label="workload")
    with fresh() as ex:
        for sql in SCHEMA:
            ex.chrono(sql)
            ex.replay(sql)
        seen: list[tuple[int, float, list[list[tuple]]]] = []
        for step in workload:
            apply(step, ex)
            current = answers(ex.replay, "", "")
            # the current tables agree with the replay, and so does AS OF the last transaction
            assert answers(ex.chrono, "", "") == current
            # (on PostgreSQL a transaction that changed no row has no id, CREATE TABLE's too)
            for last in ex.db.transactions(1):
                seen.append((last["tx_id"], round(last["tx_time"] * 1e6) / 1e6, current))
            if step.check_now:
                check(ex, seen)
        check(ex, seen)
