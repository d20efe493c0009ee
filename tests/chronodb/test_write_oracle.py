"""Oracle for writes SQLite resolves itself: every committed state, read back AS OF, is exact.

Random workloads of REPLACE (in each of its forms: INSERT OR REPLACE, REPLACE, UPDATE OR
REPLACE, a constraint's own ON CONFLICT REPLACE), UPSERT, key changes and a user's trigger
that updates the row it fired for, over NOCASE and RTRIM columns, a NOCASE text key, a
composite key that may hold a NULL, and untyped columns given integers, integral reals,
text differing only in case or trailing spaces, and blobs. They run against ChronoDB and
a plain sqlite3 database; after each step the plain tables are recorded, and at the end
every recorded state must equal ChronoDB's tables AS OF that transaction, value by value
and storage class by storage class. History must then pass its own checks.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from chronodb import ChronoDB, ChronoDBError

SCHEMA = [
    "CREATE TABLE p (id INTEGER PRIMARY KEY, name TEXT COLLATE NOCASE UNIQUE, "
    "tag TEXT COLLATE RTRIM, val)",
    "CREATE TABLE q (code TEXT COLLATE NOCASE PRIMARY KEY, n INTEGER DEFAULT 0, note)",
    "CREATE TABLE r (a, b, v, PRIMARY KEY (a, b), UNIQUE (v) ON CONFLICT REPLACE)",
    # A "touch" trigger: it updates the row it fired for, once (recursive triggers are off).
    "CREATE TRIGGER touch AFTER UPDATE OF note ON q "
    "BEGIN UPDATE q SET n = n + 1 WHERE code = NEW.code; END",
]
TABLES = ("p", "q", "r")

ids = st.integers(1, 4)
names = st.sampled_from(["ann", "ANN", "Ann", "bo", "BO", None])
texts = st.sampled_from(["x", "x ", "X", "y", "", None])
values = st.one_of(
    st.integers(-2, 2),
    st.sampled_from([0.0, 1.0, 2.0, 0.5]),
    st.sampled_from(["1", "a", "A", "a "]),
    st.sampled_from([b"a", b""]),
    st.none(),
)
codes = st.sampled_from(["k", "K", "m", "M"])
parts = st.one_of(st.integers(1, 2), st.sampled_from(["1", "x"]), st.none())

operations = st.one_of(
    st.tuples(
        st.just("INSERT OR REPLACE INTO p VALUES (?, ?, ?, ?)"),
        st.tuples(ids, names, texts, values),
    ),
    st.tuples(st.just("REPLACE INTO p (name, val) VALUES (?, ?)"), st.tuples(names, values)),
    st.tuples(
        st.just(
            "INSERT INTO p VALUES (?, ?, ?, ?) ON CONFLICT (id) "
            "DO UPDATE SET val = excluded.val, tag = excluded.tag"
        ),
        st.tuples(ids, names, texts, values),
    ),
    st.tuples(st.just("UPDATE OR REPLACE p SET name = ? WHERE id = ?"), st.tuples(names, ids)),
    st.tuples(st.just("UPDATE OR REPLACE p SET id = ? WHERE id = ?"), st.tuples(ids, ids)),
    st.tuples(st.just("UPDATE p SET tag = ?, val = ? WHERE id = ?"), st.tuples(texts, values, ids)),
    st.tuples(st.just("DELETE FROM p WHERE name = ?"), st.tuples(names)),
    st.tuples(
        st.just("INSERT OR REPLACE INTO q (code, note) VALUES (?, ?)"), st.tuples(codes, values)
    ),
    st.tuples(
        st.just(
            "INSERT INTO q (code, note) VALUES (?, ?) "
            "ON CONFLICT (code) DO UPDATE SET note = excluded.note"
        ),
        st.tuples(codes, values),
    ),
    st.tuples(st.just("UPDATE OR IGNORE q SET code = ? WHERE code = ?"), st.tuples(codes, codes)),
    st.tuples(st.just("UPDATE q SET note = ? WHERE code = ?"), st.tuples(values, codes)),
    st.tuples(st.just("DELETE FROM q WHERE code = ?"), st.tuples(codes)),
    # A key holding a NULL is inserted only if no row IS it: SQLite would take a second,
    # which history (keyed by the primary key) cannot tell apart.
    st.tuples(
        st.just(
            "INSERT OR REPLACE INTO r SELECT ?1, ?2, ?3 WHERE NOT EXISTS "
            "(SELECT 1 FROM r WHERE a IS ?1 AND b IS ?2 AND (?1 IS NULL OR ?2 IS NULL))"
        ),
        st.tuples(parts, parts, values),
    ),
    st.tuples(st.just("UPDATE r SET v = ? WHERE a IS ?"), st.tuples(values, parts)),
    st.tuples(st.just("DELETE FROM r WHERE b IS ?"), st.tuples(parts)),
)


@dataclass
class Step:
    ops: list[tuple[str, tuple]]
    mode: str  # "auto" (each statement alone), "commit", "rollback"


steps = st.builds(
    Step,
    ops=st.lists(operations, min_size=1, max_size=4),
    mode=st.sampled_from(["auto", "commit", "commit", "rollback"]),
)


def exact(run: Callable[[str], Iterable], table: str, clause: str = "") -> list[tuple]:
    """The table's rows, each value with its storage class, in a fixed order."""
    rows = [tuple((type(v).__name__, v) for v in r) for r in run(f"SELECT * FROM {table} {clause}")]
    return sorted(rows, key=repr)


def both(db: ChronoDB, plain: sqlite3.Connection, sql: str, params: tuple) -> None:
    """Run one write on each side; it fails on both (a UNIQUE conflict) or on neither."""
    try:
        plain.execute(sql, params)
        plain_failed = False
    except sqlite3.Error:
        plain_failed = True
    try:
        db.execute(sql, params)
        ours_failed = False
    except ChronoDBError:
        ours_failed = True
    assert ours_failed == plain_failed, sql


def apply(step: Step, db: ChronoDB, plain: sqlite3.Connection) -> None:
    if step.mode != "auto":
        db.execute("BEGIN")
        plain.execute("BEGIN")
    for sql, params in step.ops:
        both(db, plain, sql, params)
    if step.mode != "auto":
        end = "ROLLBACK" if step.mode == "rollback" else "COMMIT"
        db.execute(end)
        plain.execute(end)


@settings(max_examples=60, deadline=None)
@given(workload=st.lists(steps, min_size=1, max_size=10))
def test_every_committed_state_reads_back_exactly(workload: list[Step]) -> None:
    plain = sqlite3.connect(":memory:", isolation_level=None)
    db = ChronoDB(":memory:", user="oracle")
    try:
        for sql in SCHEMA:
            db.execute(sql)
            plain.execute(sql)
        seen: list[tuple[int, dict[str, list[tuple]]]] = []
        for step in workload:
            apply(step, db, plain)
            tx_id = db.transactions(1)[0]["tx_id"]
            state = {t: exact(plain.execute, t) for t in TABLES}
            assert {t: exact(db.execute, t) for t in TABLES} == state
            seen.append((tx_id, state))
        for tx_id, state in seen:
            as_of = f"AS OF TRANSACTION {tx_id}"
            assert {t: exact(db.execute, t, as_of) for t in TABLES} == state, as_of
        assert db.check_history() == []
        assert db.verify_audit_integrity()
    finally:
        db.close()
        plain.close()
