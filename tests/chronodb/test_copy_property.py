"""A property of ``copy_database``: SQLite to PostgreSQL and back changes no answer about
the past, whatever the workload."""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path
from typing import Any

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.chronodb import pgserver

from chronodb import ChronoDB, copy_database

_VALUES = {
    "INTEGER": st.integers(-(2**63), 2**63 - 1),
    "TEXT": st.text(max_size=8),
    "REAL": st.floats(allow_nan=False),
    "BLOB": st.binary(max_size=6),
}
_TABLES = ("a", "b")
_COLUMNS = {"a": ("INTEGER", "TEXT"), "b": ("REAL", "BLOB")}


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
    return f"INSERT OR REPLACE INTO {table} (id, x, y) VALUES (?, ?, ?)", values


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


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(workload=_WORKLOAD)
def test_a_round_trip_through_postgresql_changes_no_answer(
    pg_url: str, workload: list[list[tuple[str, tuple[Any, ...]]]]
) -> None:
    _empty_schema(pg_url)
    with tempfile.TemporaryDirectory() as folder:
        source = str(Path(folder) / "source.db")
        with ChronoDB(source, user="hyp") as db:
            for table, (first, second) in _COLUMNS.items():
                db.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, x {first}, y {second})")
            for number, transaction in enumerate(workload):
                with db.transaction():
                    for step, (sql, params) in enumerate(transaction):
                        db.execute(sql.replace("{}", f"{number}_{step}"), params)
        url = pgserver.as_url(pg_url)
        copy_database(source, url)
        back = str(Path(folder) / "back.db")
        copy_database(url, back)
        expected = _past(source)
        assert _past(url) == expected
        assert _past(back) == expected
