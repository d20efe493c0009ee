"""Schema changes by one connection while others write: every connection keeps versioning.

Each ChronoDB connection versions writes with its own TEMP triggers, remade when another
connection changed the schema (``ChronoDB._follow_schema``). Here two or three connections
on one file take turns at random writes and schema changes of every kind; after each step
history agrees with the data and the ledger verifies from every connection, and AS OF every
committed transaction equals a plain sqlite3 database replaying the same statements.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chronodb import ChronoDB
from chronodb.errors import IntegrityError

WORKER = Path(__file__).parent / "storage" / "chrono_worker.py"


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[ChronoDB, ChronoDB]]:
    """Two connections on one file; afterwards, both find history and ledger sound."""
    a, b = ChronoDB(tmp_path / "r.db"), ChronoDB(tmp_path / "r.db")
    yield a, b
    for db in (a, b):
        assert db.check_history() == []
        assert db.verify_audit_integrity() is True
        db.close()


@pytest.mark.parametrize(
    ("changes", "after"),
    [
        (["ALTER TABLE acc DROP COLUMN note", "DROP TABLE side"], {}),
        (
            [
                "ALTER TABLE acc ADD COLUMN extra TEXT DEFAULT 'x'",
                "UPDATE acc SET extra = 'y'",
                "DROP TABLE side",
            ],
            {"note": None, "extra": "y"},
        ),
    ],
    ids=["dropped column", "added column"],
)
def test_the_other_connection_writes_on_after_a_schema_change(
    pair: tuple[ChronoDB, ChronoDB], changes: list[str], after: dict[str, object]
) -> None:
    """Another connection changes a table and drops one (whose TEMP triggers SQLite drops
    here too): this one's writes go on, versioned with the table's new columns."""
    a, b = pair
    a.execute("CREATE TABLE acc (id INTEGER PRIMARY KEY, bal INTEGER, note TEXT)")
    a.execute("CREATE TABLE side (id INTEGER PRIMARY KEY)")
    a.execute("INSERT INTO acc VALUES (1, 100, NULL)")
    for change in changes:
        b.execute(change)
    a.execute("UPDATE acc SET bal = bal - 1 WHERE id = 1")
    a.execute("UPDATE acc SET bal = bal - 1 WHERE id = 1")
    assert [v["values"] for v in a.get_change_history("acc", 1)][-2:] == [
        {"id": 1, "bal": 99, **after},
        {"id": 1, "bal": 98, **after},
    ]


def test_a_renamed_table_leaves_no_trigger_to_come_back(pair: tuple[ChronoDB, ChronoDB]) -> None:
    """A table renamed elsewhere and a new one made under the old name: writes to the new
    one are versioned as its own, not as the renamed table's."""
    a, b = pair
    a.execute("CREATE TABLE acc (id INTEGER PRIMARY KEY, bal INTEGER)")
    a.execute("INSERT INTO acc VALUES (1, 100)")
    b.execute("ALTER TABLE acc RENAME TO old")
    a.execute("UPDATE old SET bal = 1")
    b.execute("CREATE TABLE acc (id INTEGER PRIMARY KEY, bal INTEGER)")
    a.execute("INSERT INTO acc VALUES (7, 7)")
    a.execute("UPDATE old SET bal = 2")
    assert [v["values"]["bal"] for v in a.get_change_history("old", 1)] == [100, 1, 2]
    assert [v["values"]["bal"] for v in a.get_change_history("acc", 7)] == [7]


# ------------------------------------------------------------------ the property


@dataclass
class Table:
    """The model of one table: its name now, value columns, and the index on it, if any."""

    tid: int
    name: str
    cols: list[str]
    index: str | None = None


@dataclass
class Then:
    """A table as it was at a committed transaction: its name, value columns and rows."""

    name: str
    cols: list[str]
    rows: list[tuple[Any, ...]]


@dataclass
class Model:
    oracle: sqlite3.Connection
    tables: list[Table] = field(default_factory=list)
    # (tx_id, tx_time, {table id: Then}) after each committed transaction
    points: list[tuple[int, Any, dict[int, Then]]] = field(default_factory=list)
    made: int = 0

    def snapshot(self) -> dict[int, Then]:
        return {
            t.tid: Then(
                t.name,
                list(t.cols),
                sorted(self.oracle.execute(f'SELECT * FROM "{t.name}"').fetchall()),
            )
            for t in self.tables
        }

    def fresh(self, prefix: str) -> str:
        self.made += 1
        return f"{prefix}{self.made}"


steps = st.lists(
    st.tuples(
        st.integers(0, 2),  # which connection
        st.sampled_from(
            [
                "insert",
                "insert",
                "update",
                "update",
                "delete",
                "many",
                "txn",
                "add_col",
                "drop_col",
                "rename_col",
                "create",
                "drop",
                "rename",
                "index",
                "vacuum",
                "prune",
                "erase",
                "script",
                "sql_txn",
                "temporal",
                "failing",
                "autocreate",
            ]
        ),
        st.integers(0, 1000),  # picks a table, a key, a point: taken modulo
        st.integers(-50, 50),  # a value
    ),
    min_size=1,
    max_size=14,
)


def _write(db: ChronoDB, model: Model, t: Table, key: int, value: int) -> Any:
    """Upsert one row on both sides; returns ChronoDB's result."""
    names = ", ".join(["id", *t.cols])
    marks = ", ".join("?" * (len(t.cols) + 1))
    sql = f'INSERT OR REPLACE INTO "{t.name}" ({names}) VALUES ({marks})'
    row = [key] + [value + i for i in range(len(t.cols))]
    model.oracle.execute(sql, row)
    return db.execute(sql, row)


def _step(db: ChronoDB, model: Model, action: str, pick: int, value: int) -> Any:
    """Run one step on ``db`` and the oracle; returns a result whose tx_id committed, if any."""
    both = model.oracle.execute
    tables = model.tables
    t = tables[pick % len(tables)] if tables else None
    key = pick % 5 + 1
    if action == "create" or t is None:
        t = Table(model.made + 1, model.fresh("t"), ["a"])
        sql = f'CREATE TABLE "{t.name}" (id INTEGER PRIMARY KEY, a INTEGER)'
        both(sql)
        tables.append(t)
        return db.execute(sql)
    if action == "insert":
        return _write(db, model, t, key, value)
    if action == "update" and t.cols:
        sql = f'UPDATE "{t.name}" SET "{t.cols[0]}" = ? WHERE id = ?'
        both(sql, (value, key))
        return db.execute(sql, (value, key))
    if action == "delete":
        sql = f'DELETE FROM "{t.name}" WHERE id = ?'
        both(sql, (key,))
        return db.execute(sql, (key,))
    if action == "many":
        sql = f'INSERT OR REPLACE INTO "{t.name}" (id) VALUES (?)'
        rows = [(key,), (key % 5 + 2,)]
        model.oracle.executemany(sql, rows)
        return db.executemany(sql, rows)
    if action == "txn":
        with db.transaction():
            result = _write(db, model, t, key, value)
            other = tables[(pick // 7) % len(tables)]
            _write(db, model, other, key % 5 + 2, -value)
        return result
    if action == "add_col":
        col = model.fresh("c")
        sql = f"ALTER TABLE \"{t.name}\" ADD COLUMN {col} TEXT DEFAULT 'd{value}'"
        both(sql)
        t.cols.append(col)
        return db.execute(sql)
    if action == "drop_col" and t.cols:
        col = t.cols[-1]
        if t.index is not None:
            both(f'DROP INDEX "{t.index}"')
            db.execute(f'DROP INDEX "{t.index}"')
            t.index = None
        sql = f'ALTER TABLE "{t.name}" DROP COLUMN "{col}"'
        both(sql)
        t.cols.pop()
        return db.execute(sql)
    if action == "rename_col" and t.cols:
        col = model.fresh("r")
        sql = f'ALTER TABLE "{t.name}" RENAME COLUMN "{t.cols[0]}" TO {col}'
        both(sql)
        t.cols[0] = col
        return db.execute(sql)
    if action == "drop":
        sql = f'DROP TABLE "{t.name}"'
        both(sql)
        tables.remove(t)
        return db.execute(sql)
    if action == "rename":
        name = model.fresh("n")
        sql = f'ALTER TABLE "{t.name}" RENAME TO {name}'
        both(sql)
        t.name = name
        return db.execute(sql)
    if action == "index" and t.cols:
        if t.index is None:
            t.index = model.fresh("i")
            sql = f'CREATE INDEX {t.index} ON "{t.name}" ("{t.cols[0]}")'
        else:
            sql, t.index = f'DROP INDEX "{t.index}"', None
        both(sql)
        return db.execute(sql)
    if action == "vacuum":
        db.execute("VACUUM")
        return None
    if action == "prune" and model.points:
        at = pick % len(model.points)
        db.prune_history(model.points[at][1])
        del model.points[:at]  # AS OF earlier points lost versions that ended by then
        return None
    if action == "erase":
        db.erase(t.name, key)
        both(f'DELETE FROM "{t.name}" WHERE id = ?', (key,))
        for _tx, _time, tables_then in model.points:
            if t.tid in tables_then:
                then = tables_then[t.tid]
                then.rows = [r for r in then.rows if r[0] != key]
        return None
    if action in ("script", "sql_txn", "temporal", "failing", "autocreate"):
        return _batch(db, model, action, t, pick, value)
    return _write(db, model, t, key, value)  # an action its table has no column for


def _batch(db: ChronoDB, model: Model, action: str, t: Table, pick: int, value: int) -> Any:
    """The steps of several statements: scripts, transactions in SQL, temporal writes, a
    failing batch, and a table created by its first INSERT."""
    both = model.oracle.execute
    key = pick % 5 + 1
    if action == "script":
        col = model.fresh("c")
        script = (
            f'INSERT OR REPLACE INTO "{t.name}" (id) VALUES ({key});'
            f'ALTER TABLE "{t.name}" ADD COLUMN {col} INTEGER DEFAULT {value};'
            f'UPDATE "{t.name}" SET {col} = {col} + 1 WHERE id = {key}'
        )
        model.oracle.executescript(script)
        t.cols.append(col)
        db.executescript(script)
        return None
    if action == "sql_txn":
        col = model.fresh("c")
        statements = [
            "BEGIN",
            f'INSERT OR REPLACE INTO "{t.name}" (id) VALUES ({key})',
            "SAVEPOINT s",
            f'DELETE FROM "{t.name}"',
            f'ALTER TABLE "{t.name}" ADD COLUMN gone{col}',
            "ROLLBACK TO s",
            f'ALTER TABLE "{t.name}" ADD COLUMN {col} DEFAULT {value}',
            "RELEASE s",
        ]
        result = None
        for statement in statements:
            both(statement)
            result = db.execute(statement)
        t.cols.append(col)
        both("COMMIT")
        db.execute("COMMIT")
        return result
    if action == "temporal":
        for tx, _time, tables_then in reversed(model.points):
            then = tables_then.get(t.tid)
            if then is not None and then.name == t.name and then.cols == t.cols:
                names = ", ".join(["id", *t.cols])
                sql = (
                    f'INSERT OR REPLACE INTO "{t.name}" ({names}) '
                    f'SELECT {", ".join(["id + 10", *t.cols])} FROM "{t.name}" AS OF TRANSACTION ?'
                )
                marks = ", ".join("?" * (len(t.cols) + 1))
                model.oracle.executemany(
                    f'INSERT OR REPLACE INTO "{t.name}" ({names}) VALUES ({marks})',
                    [(r[0] + 10, *r[1:]) for r in then.rows],
                )
                return db.execute(sql, [tx])
        return _write(db, model, t, key, value)
    if action == "failing":
        row = both(f'SELECT id FROM "{t.name}" LIMIT 1').fetchone()
        if row is None:
            return _write(db, model, t, key, value)
        with pytest.raises(IntegrityError):
            db.executemany(f'INSERT INTO "{t.name}" (id) VALUES (?)', [(row[0] + 50,), row])
        return None
    assert action == "autocreate"
    fresh = Table(model.made + 1, model.fresh("auto"), ["a"])
    both(f'CREATE TABLE "{fresh.name}" (id INTEGER PRIMARY KEY, a INTEGER)')
    sql = f'INSERT INTO "{fresh.name}" (id, a) VALUES (?, ?)'
    both(sql, (key, value))
    model.tables.append(fresh)
    return db.execute(sql, (key, value))
    return _write(db, model, t, key, value)


def _check_as_of(db: ChronoDB, model: Model) -> None:
    for tx, _time, tables_then in model.points:
        for then in tables_then.values():
            got = db.execute(f'SELECT * FROM "{then.name}" AS OF TRANSACTION ?', [tx])
            assert sorted(tuple(r) for r in got) == then.rows, (then.name, tx)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(connections=st.integers(2, 3), plan=steps)
def test_interleaved_schema_changes_and_writes_keep_history(
    connections: int, plan: list[tuple[int, str, int, int]]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        dbs = [ChronoDB(Path(tmp) / "f.db", user=f"u{i}") for i in range(connections)]
        model = Model(sqlite3.connect(":memory:", isolation_level=None))
        try:
            for n, (which, action, pick, value) in enumerate(plan):
                db = dbs[which % connections]
                result = _step(db, model, action, pick, value)
                if result is not None and result.tx_id is not None:
                    model.points.append((result.tx_id, result.tx_time, model.snapshot()))
                for each in dbs:
                    assert each.check_history() == [], (n, action)
                    assert each.verify_audit_integrity() is True, (n, action)
                _check_as_of(dbs[(n + 1) % connections], model)
            for each in dbs:
                _check_as_of(each, model)
        finally:
            for each in dbs:
                each.close()
            model.oracle.close()


def test_worker_processes_keep_versioning_through_schema_changes(tmp_path: Path) -> None:
    """Three processes write while this one changes the schema in every way it can."""
    path = tmp_path / "shared.db"
    db = ChronoDB(path, user="schema")
    db.execute("CREATE TABLE acc (id INTEGER PRIMARY KEY, bal INTEGER NOT NULL, note TEXT)")
    db.execute("CREATE TABLE side (id INTEGER PRIMARY KEY, v INTEGER)")
    db.executemany("INSERT INTO acc (id, bal) VALUES (?, 0)", [(w,) for w in range(3)])
    db.execute("INSERT INTO side VALUES (1, 1)")
    count = 120
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), "follow", str(path), str(w), str(count)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(3)
    ]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    changes = [
        "ALTER TABLE acc DROP COLUMN note",
        "ALTER TABLE acc ADD COLUMN note TEXT DEFAULT 'added'",
        "CREATE INDEX acc_note ON acc (note)",
        "ALTER TABLE acc RENAME COLUMN note TO remark",
        "DROP INDEX acc_note",
        "ALTER TABLE side ADD COLUMN w INTEGER DEFAULT 5",
        "DROP TABLE side",
        "CREATE TABLE side (id INTEGER PRIMARY KEY, v INTEGER)",
        "ALTER TABLE side RENAME TO side_old",
        "CREATE TABLE side (id INTEGER PRIMARY KEY, v INTEGER)",
        "VACUUM",
        "ALTER TABLE acc ADD COLUMN later INTEGER DEFAULT 7",
    ]
    for statement in changes:  # while the workers write (each for about a second)
        time.sleep(0.05)
        db.execute(statement)
    db.prune_history(time.time() - 3600)
    db.erase("side_old", 1)
    ChronoDB(path, retention_days=1).close()  # retention applied on open
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        outputs.append(out.splitlines())
    for w, lines in enumerate(outputs):
        assert lines[-1] == "sound", lines[-3:]
        bals = [v["values"]["bal"] for v in db.get_change_history("acc", w)]
        assert bals == list(range(count + 1))
    assert db.check_history() == []
    assert db.verify_audit_integrity() is True
    latest = db.execute("SELECT id, bal, remark, later FROM acc ORDER BY id").fetchall()
    assert [tuple(r) for r in latest] == [(w, count, "added", 7) for w in range(3)]
    db.close()
