"""A property of ``copy_database``: a round trip to the other backend and back changes no
answer about the past, whatever the workload and wherever it was written."""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path
from typing import Any

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.chronodb import pgserver

from chronodb import ChronoDB, CopyError, copy_database

_VALUES = {
    "INTEGER": st.integers(-(2**63), 2**63 - 1),
    "TEXT": st.text(st.characters(exclude_characters="\x00"), max_size=8),
    "REAL": st.floats(allow_nan=False),
    "BLOB": st.binary(max_size=6),
}
_TABLES = ("a", "b")
_COLUMNS = {"a": ("INTEGER", "TEXT"), "b": ("REAL", "BLOB")}
_ON_POSTGRES = {"INTEGER": "bigint", "TEXT": "text", "REAL": "double precision", "BLOB": "bytea"}
_UPSERT = {
    "sqlite": "INSERT OR REPLACE INTO {t} (id, x, y) VALUES (?, ?, ?)",
    "postgresql": "INSERT INTO {t} (id, x, y) VALUES (?, ?, ?) "
    "ON CONFLICT (id) DO UPDATE SET x = excluded.x, y = excluded.y",
}


@st.composite
def _statement(draw: st.DrawFn) -> tuple[str, tuple[Any, ...]]:
    table = draw(st.sampled_from(_TABLES))
    key = draw(st.integers(1, 5))
    kind = draw(st.sampled_from(["upsert", "upsert", "delete", "alter"]))
    first, second = _COLUMNS[table]
    if kind == "delete":
        return f"DELETE FROM {table} WHERE id = ?", (key,)
    if kind == "alter":
        return f"ALTER TABLE {table} ADD COLUMN extra{{}} TEXT", ()
    values = (key, draw(st.none() | _VALUES[first]), draw(st.none() | _VALUES[second]))
    return "upsert " + table, values


_WORKLOAD = st.lists(st.lists(_statement(), min_size=1, max_size=3), min_size=1, max_size=8)


def _past(location: str) -> dict[str, Any]:
    """Every table at every transaction, the transactions, and the ledger's root."""
    with ChronoDB(location) as db, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        transactions = db.transactions()
        seen = {}
        for tx in transactions:
            for table in _TABLES:
                sql = f"SELECT * FROM {table} AS OF TRANSACTION {tx['tx_id']} ORDER BY id"
                seen[(tx["tx_id"], table)] = [tuple(r) for r in db.execute(sql)]
        assert db.verify_audit_integrity()
        return {
            "transactions": transactions,
            "rows": seen,
            "root": db.audit_trail.digest(save=False).root,
        }


def _empty_schema(conninfo: str) -> None:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


def _twice(workload: list[list[tuple[str, tuple[Any, ...]]]]) -> bool:
    """Whether some transaction writes one key of one table in two statements."""
    for transaction in workload:
        written = [
            (sql.split()[-1] if sql.startswith("upsert") else sql.split()[2], params[0])
            for sql, params in transaction
            if params
        ]
        if len(written) != len(set(written)):
            return True
    return False


def _write(location: str, kind: str, workload: list[list[tuple[str, tuple[Any, ...]]]]) -> None:
    with ChronoDB(location, user="hyp") as db:
        for table, columns in _COLUMNS.items():
            types = [_ON_POSTGRES[c] if kind == "postgresql" else c for c in columns]
            db.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, x {types[0]}, y {types[1]})")
        for number, transaction in enumerate(workload):
            with db.transaction():
                for step, (sql, params) in enumerate(transaction):
                    if sql.startswith("upsert "):
                        sql = _UPSERT[kind].format(t=sql.split()[1])
                    db.execute(sql.replace("{}", f"{number}_{step}"), params)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(workload=_WORKLOAD, kind=st.sampled_from(["sqlite", "postgresql"]))
def test_a_round_trip_through_the_other_backend_changes_no_answer(
    pg_url: str, workload: list[list[tuple[str, tuple[Any, ...]]]], kind: str
) -> None:
    _empty_schema(pg_url)
    url = pgserver.as_url(pg_url)
    with tempfile.TemporaryDirectory() as folder:
        file = str(Path(folder) / "source.db")
        if kind == "sqlite":
            source, there, back = file, url, str(Path(folder) / "back.db")
        else:
            source, there, back = url, file, None
        _write(source, kind, workload)
        expected = _past(source)
        try:
            copy_database(source, there)
        except CopyError as err:
            # PostgreSQL keeps a version per statement, SQLite one per transaction.
            assert kind == "postgresql" and _twice(workload), err
            assert "wrote one row in several statements" in str(err)
            assert not Path(there).exists()
            return
        assert _past(there) == expected
        if back is not None:
            copy_database(there, back)
            assert _past(back) == expected
