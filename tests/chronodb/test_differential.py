"""Differential: ChronoDB answers what plain sqlite3 answers, now and AS OF any past point.

Random workloads run against ChronoDB and, statement for statement, against a plain
sqlite3 database. The schema has every column affinity (and none), the BINARY, NOCASE and
RTRIM collations, a keyword and a quoted name, rowid, composite (NULL-able) and WITHOUT
ROWID keys, a UNIQUE constraint REPLACE resolves by deleting another row, a view and user
triggers; the workload mixes INSERT OR REPLACE/IGNORE, UPSERT, UPDATE OR REPLACE, key
changes, deletes, rolled-back transactions and schema changes of every kind.

After every committed transaction the plain database answers a battery of queries built
for the schema of that moment (comparisons with strings and numbers, DISTINCT, GROUP BY,
ORDER BY, UNION, IN, joins, views, windows, CTEs, typeof), each with one answer whatever
order SQLite reads rows in. Plain statements must do on
ChronoDB what they did on sqlite3 (the same rows, or an error on both sides); then every
recorded point is asked again AS OF TRANSACTION and AS OF TIMESTAMP, and the latest state
through AS OF TIMESTAMP 9e9, which must match exactly: value, type, REALs bit for bit.
Finally, no honest write may look like tampering: ``check_history()`` is empty and the
ledger verifies.

``CHRONODB_DIFF_EXAMPLES=2000 pytest tests/chronodb/test_differential.py`` runs longer.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chronodb import ChronoDB, ChronoDBError

EXAMPLES = int(os.environ.get("CHRONODB_DIFF_EXAMPLES", "25"))

SCHEMA = [
    'CREATE TABLE "order" (id INTEGER PRIMARY KEY, "customer name" TEXT COLLATE NOCASE, '
    "total REAL, note)",
    "CREATE TABLE items (oid INTEGER, sku TEXT COLLATE NOCASE, qty INTEGER NOT NULL DEFAULT 1, "
    "price NUMERIC, tag TEXT COLLATE RTRIM, PRIMARY KEY (oid, sku))",
    "CREATE TABLE log (msg TEXT UNIQUE, lvl INT, body BLOB)",
    "CREATE TABLE kv (k TEXT PRIMARY KEY COLLATE NOCASE, v) WITHOUT ROWID",
    'CREATE VIEW big AS SELECT id, "customer name" AS who, total FROM "order" WHERE total > 10',
    "CREATE TRIGGER touch AFTER UPDATE ON log BEGIN "
    "UPDATE log SET lvl = lvl + 1 WHERE rowid = NEW.rowid AND lvl < 100; END",
    'CREATE TRIGGER cascade AFTER DELETE ON "order" BEGIN '
    "DELETE FROM items WHERE oid = OLD.id; END",
]

# Values of every storage class, with the near-equal ones that only an exact comparison tells
# apart: case and trailing spaces (NOCASE, RTRIM), 5 / 5.0 / '5', -0.0, tiny and huge REALs.
texts = st.sampled_from(["bob", "BOB", "Bob", "alice", "bob  ", "5", "2.5", "", "é", "ÉCOLE"])
numbers = st.sampled_from([0, 1, 5, 5.0, -0.0, 2.5, 0.1, 1e-300, 1.7976931348623157e308, 10**12])
anything = st.one_of(texts, numbers, st.none(), st.sampled_from([b"\x00\x01", b"bob"]))
ids = st.integers(1, 5)
skus = st.one_of(st.sampled_from(["a", "A", "b"]), st.none())

Op = tuple[str, tuple[Any, ...]]

# SQLite lets two rows hold the same key when it holds a NULL ((1, NULL) twice: NULLs never
# conflict); history knows a row by its key, so it keeps such twins as one row (a known
# limit, in the README). The workload makes at most one row of each NULL-holding key.
_ONE_NULL_KEY = (
    "SELECT ?1, ?2, ?3, ?4, ?5 WHERE ?2 IS NOT NULL OR NOT EXISTS "
    "(SELECT 1 FROM items WHERE oid IS ?1 AND sku IS NULL)"
)

writes: st.SearchStrategy[Op] = st.one_of(
    st.tuples(
        st.sampled_from(
            [
                'INSERT OR REPLACE INTO "order" VALUES (?, ?, ?, ?)',
                'INSERT OR IGNORE INTO "order" VALUES (?, ?, ?, ?)',
                'INSERT INTO "order" VALUES (?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET '
                '"customer name" = excluded."customer name", total = excluded.total',
            ]
        ),
        st.tuples(ids, texts, numbers, anything),
    ),
    st.tuples(
        st.just('UPDATE "order" SET "customer name" = ?, total = ? WHERE id = ?'),
        st.tuples(texts, numbers, ids),
    ),
    st.tuples(st.just('UPDATE OR REPLACE "order" SET id = ? WHERE id = ?'), st.tuples(ids, ids)),
    st.tuples(st.just('DELETE FROM "order" WHERE id = ?'), st.tuples(ids)),
    st.tuples(
        st.sampled_from(
            [
                f"INSERT OR REPLACE INTO items (oid, sku, qty, price, tag) {_ONE_NULL_KEY}",
                f"INSERT OR IGNORE INTO items (oid, sku, qty, price, tag) {_ONE_NULL_KEY}",
            ]
        ),
        st.tuples(ids, skus, st.integers(0, 3), anything, texts),
    ),
    st.tuples(
        st.just(
            "UPDATE items SET sku = ?1 WHERE oid = ?2 AND (?1 IS NOT NULL "
            "OR (SELECT count(*) FROM items AS o WHERE o.oid = ?2) = 1)"
        ),
        st.tuples(skus, ids),
    ),
    st.tuples(
        st.just("UPDATE items SET price = ?, tag = ? WHERE oid = ?"),
        st.tuples(anything, texts, ids),
    ),
    st.tuples(
        st.sampled_from(
            [
                "INSERT OR REPLACE INTO log (msg, lvl, body) VALUES (?, ?, ?)",
                "REPLACE INTO log (msg, lvl, body) VALUES (?, ?, ?)",
                "INSERT OR IGNORE INTO log (msg, lvl, body) VALUES (?, ?, ?)",
            ]
        ),
        st.tuples(texts, st.integers(0, 3), anything),
    ),
    st.tuples(st.just("UPDATE log SET body = ? WHERE msg = ?"), st.tuples(anything, texts)),
    st.tuples(st.just("DELETE FROM log WHERE lvl > ?"), st.tuples(st.integers(0, 5))),
    st.tuples(
        st.sampled_from(
            [
                "INSERT OR REPLACE INTO kv VALUES (?, ?)",
                "INSERT INTO kv VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v",
            ]
        ),
        st.tuples(texts, anything),
    ),
    st.tuples(st.just("UPDATE kv SET k = ? WHERE k = ?"), st.tuples(texts, texts)),
)

# Schema changes. Some fail on a given schema (a column already gone, one a view needs):
# they must then fail on both sides and change nothing.
schema_changes: st.SearchStrategy[Op] = st.sampled_from(
    [
        ('ALTER TABLE "order" ADD COLUMN extra TEXT DEFAULT 3', ()),
        ("ALTER TABLE items ADD COLUMN rate REAL DEFAULT 1", ()),
        ('ALTER TABLE "order" RENAME COLUMN note TO "the note"', ()),
        ('ALTER TABLE "order" DROP COLUMN note', ()),
        ("ALTER TABLE log RENAME COLUMN body TO payload", ()),
        ("ALTER TABLE kv RENAME TO kv2", ()),
        ("ALTER TABLE kv2 RENAME TO kv", ()),
        ("DROP VIEW IF EXISTS big", ()),
        (
            'CREATE VIEW IF NOT EXISTS big AS SELECT id, "customer name" AS who, total '
            'FROM "order" WHERE total < 10',
            (),
        ),
        ("CREATE INDEX IF NOT EXISTS items_price ON items (price)", ()),
        ("DROP INDEX IF EXISTS items_price", ()),
        ("CREATE TABLE IF NOT EXISTS extra (id INTEGER PRIMARY KEY, x)", ()),
        ("DROP TABLE IF EXISTS extra", ()),
    ]
)


@dataclass
class Step:
    ops: list[Op]
    mode: str  # "auto": each statement alone; "commit"; "rollback"


steps = st.builds(
    Step,
    ops=st.lists(st.one_of(writes, writes, writes, schema_changes), min_size=1, max_size=3),
    mode=st.sampled_from(["auto", "auto", "commit", "rollback"]),
)


@dataclass
class Point:
    tx_id: int
    tx_time: float
    answers: dict[str, Any] = field(default_factory=dict)  # template -> rows or error


def _columns(conn: sqlite3.Connection, table: str) -> list[tuple[str, str]]:
    """(name, declared type) of ``table``'s columns, as the plain database has them now."""
    quoted = '"' + table.replace('"', '""') + '"'
    return [(r[1], r[2]) for r in conn.execute(f"PRAGMA table_info({quoted})")]


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def battery(conn: sqlite3.Connection) -> list[str]:
    """Queries for the schema ``conn`` has now; ``{c}`` takes each table's temporal clause."""
    tables = {
        r[0] for r in conn.execute("SELECT name FROM sqlite_schema WHERE type IN ('table', 'view')")
    }
    out: list[str] = []
    for table in sorted(tables):
        if table.startswith("sqlite_"):
            continue
        cols = _columns(conn, table)
        names = [_q(c) for c, _ in cols]
        every = ", ".join(names)
        t = _q(table)
        # A total order: each column's value and its type, so that NOCASE ties are broken.
        order = ", ".join(f"{n} COLLATE BINARY, typeof({n})" for n in names)
        types = ", ".join(f"typeof({n})" for n in names)
        out.append(f"SELECT {every}, {types} FROM {t} {{c}} ORDER BY {order}")
        out.append(f"SELECT count(*) FROM {t} {{c}}")
        out.append(
            f"SELECT json_group_array(json_array({every})) "
            f"FROM (SELECT * FROM {t} {{c}} WHERE typeof({names[-1]}) <> 'blob' ORDER BY {order})"
        )
        for name, _decl in cols:
            n = _q(name)
            # Aggregates that do not depend on the order rows are read in: which of several
            # equal values (5 and 5.0, 'bob' and 'BOB' under NOCASE) stands for a group is
            # unspecified in SQLite, and an AS OF read scans in another order.
            kinds = ", ".join(
                f"sum(typeof({n}) = '{kind}')" for kind in ("integer", "real", "text", "blob")
            )
            out.append(
                f"SELECT count(*), {kinds}, total(length(CAST({n} AS BLOB))) FROM {t} {{c}} "
                f"GROUP BY {n} ORDER BY 1, 2, 3, 4, 5, 6"
            )
            out.append(
                f"SELECT sum({n} = 'Bob'), sum({n} = '5'), sum({n} > '2.5'), sum({n} = 5), "
                f"sum({n} = 'bob  '), sum({n} IN ('bob', 5, '1', 2.5)) FROM {t} {{c}}"
            )
            out.append(
                f"SELECT count(*) FROM (SELECT {n} FROM {t} {{c}} UNION SELECT {n} FROM {t} {{c}})"
            )
    if {"order", "items"} <= tables:
        out.append(
            'SELECT o.id, count(i.sku), total(i.qty) FROM "order" AS o {c} '
            "LEFT JOIN items AS i {c} ON i.oid = o.id GROUP BY o.id ORDER BY o.id"
        )
        out.append(
            "WITH s AS (SELECT oid, count(*) AS n FROM items {c} GROUP BY oid) "
            'SELECT o.id, s.n FROM "order" AS o {c} JOIN s ON s.oid = o.id ORDER BY 1'
        )
    return out


def _exact(value: Any) -> Any:
    """A value compared exactly: a REAL by its bits (0.0 and -0.0 differ), others as is."""
    if isinstance(value, float):
        return ("real", value.hex())
    return (type(value).__name__, value)


def ask(run: Callable[..., Any], sql: str, params: Any = ()) -> Any:
    try:
        return [tuple(_exact(v) for v in row) for row in run(sql, params)]
    except (sqlite3.Error, ChronoDBError) as err:
        return ("error", type(err).__name__)


def _same(chrono: Any, plain: Any) -> bool:
    """Rows equal; an error on both sides counts as the same answer."""
    if isinstance(plain, tuple) and plain[0] == "error":
        return isinstance(chrono, tuple) and chrono[0] == "error"
    return chrono == plain


def _run_step(step: Step, db: ChronoDB, plain: sqlite3.Connection) -> None:
    """Run ``step`` on both databases; a statement plain sqlite3 refuses must fail on
    ChronoDB too, and is left out of both."""
    explicit = step.mode != "auto"
    if explicit:
        plain.execute("BEGIN")
        db.execute("BEGIN")
    for sql, params in step.ops:
        if explicit:
            plain.execute("SAVEPOINT s")
            db.execute("SAVEPOINT s")
        try:
            plain.execute(sql, params)
        except sqlite3.Error:
            refused = True
        else:
            refused = False
        try:
            db.execute(sql, params)
        except ChronoDBError:
            assert refused, f"ChronoDB refused what sqlite3 ran: {sql} {params!r}"
            if explicit:
                db.execute("ROLLBACK TO s")
                plain.execute("ROLLBACK TO s")
            continue
        assert not refused, f"ChronoDB ran what sqlite3 refused: {sql} {params!r}"
        if explicit:
            plain.execute("RELEASE s")
            db.execute("RELEASE s")
    if explicit:
        end = "ROLLBACK" if step.mode == "rollback" else "COMMIT"
        plain.execute(end)
        db.execute(end)


def _check_points(db: ChronoDB, points: list[Point]) -> None:
    for point in points:
        for template, expected in point.answers.items():
            for clause, at in (
                ("AS OF TRANSACTION ?", point.tx_id),
                ("AS OF TIMESTAMP ?", point.tx_time),
            ):
                sql = template.format(c=clause)
                got = ask(db.execute, sql, [at] * sql.count("?"))
                assert _same(got, expected), (template, clause, got, expected)


def run_workload(workload: list[Step]) -> int:
    """Run one workload on both sides, checking as it goes; returns the queries compared."""
    plain = sqlite3.connect(":memory:", isolation_level=None)
    db = ChronoDB(":memory:", user="differential")
    compared = 0
    try:
        for sql in SCHEMA:
            plain.execute(sql)
            db.execute(sql)
        points: list[Point] = []
        for step in workload:
            _run_step(step, db, plain)
            last = db.transactions(1)[0]
            if points and points[-1].tx_id == last["tx_id"]:
                continue  # nothing committed: the recorded point still holds
            point = Point(last["tx_id"], last["tx_time"])
            for template in battery(plain):
                expected = ask(plain.execute, template.format(c=""))
                now = ask(db.execute, template.format(c=""))
                assert _same(now, expected), ("now", template, now, expected)
                sql = template.format(c="AS OF TIMESTAMP ?")
                latest = ask(db.execute, sql, [9e9] * sql.count("?"))
                assert _same(latest, expected), ("AS OF now", template, latest, expected)
                point.answers[template] = expected
                compared += 3
            points.append(point)
        _check_points(db, points)
        compared += 2 * sum(len(p.answers) for p in points)
        assert db.check_history() == []
        assert db.verify_audit_integrity()
    finally:
        db.close()
        plain.close()
    return compared


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(workload=st.lists(steps, min_size=1, max_size=8))
def test_chronodb_answers_as_sqlite3_does_now_and_as_of(workload: list[Step]) -> None:
    run_workload(workload)
