"""The SQL ``sql/snapshots.py`` builds for AS OF and ranges: golden text per call, SQL that
SQLite compiles, and SQL that reads the right rows whatever the table's and columns' names.

``fixtures/snapshots.sql`` holds ``# title:`` cases of two lines: a call of a builder of
:mod:`chronodb.sql.snapshots` on the tables of :data:`TABLES` (as named in
:data:`NAMESPACE`), and the SQL it returns.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
from fixtures import load
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chronodb import ChronoDB
from chronodb.sql import snapshots
from chronodb.versioning.catalog import Catalog
from chronodb.versioning.timeline import Epoch, tx_at_micros

TABLES = {
    "users": "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT COLLATE NOCASE, v REAL)",
    "accounts": "CREATE TABLE accounts (id INTEGER, region TEXT, v, PRIMARY KEY (id, region))",
    "named": "CREATE TABLE named (k TEXT COLLATE NOCASE PRIMARY KEY, v)",
    "plain": "CREATE TABLE plain (v, w TEXT COLLATE RTRIM)",
    "nullable": "CREATE TABLE nullable (k TEXT PRIMARY KEY, v)",
    "odd": 'CREATE TABLE "o""dd tab" ("sel ect" INTEGER PRIMARY KEY, "ü" TEXT COLLATE RTRIM, '
    '"order")',
}
"""The fixture's tables, created in this order (so their history tables' names are fixed)."""


@pytest.fixture(scope="module")
def catalog() -> Iterator[tuple[sqlite3.Connection, Catalog]]:
    db = ChronoDB(":memory:")
    for create in TABLES.values():
        db.execute(create)
    catalog = Catalog()
    catalog.load(db.connection)
    yield db.connection, catalog
    db.close()


def _namespace(catalog: Catalog) -> dict[str, Any]:
    """What a fixture's call may name: the builders, the tables' schema versions, epochs."""
    names = {name: catalog.current(name) for name in TABLES if name != "odd"}
    return {
        **names,
        "odd": catalog.current('o"dd tab'),
        "as_of": snapshots.as_of,
        "period": snapshots.period,
        "versions": snapshots.versions,
        "range_condition": snapshots.range_condition,
        "tx_at_micros": tx_at_micros,
        "E0": Epoch(1_000_000, 0),  # every transaction's time is counted from the origin
        "E5": Epoch(1_000_000, 5),  # transactions up to 5 have recorded times
    }


@pytest.mark.parametrize(("call", "expected"), load("snapshots.sql"))
def test_sql_equals_golden_and_compiles(
    catalog: tuple[sqlite3.Connection, Catalog], call: str, expected: str
) -> None:
    conn, cat = catalog
    sql = eval(call, {"__builtins__": {}}, _namespace(cat))  # the fixture's own calls
    assert sql == expected
    numbered = max((int(n) for n in re.findall(r"\?(\d+)", sql)), default=0)
    conn.execute(f"EXPLAIN QUERY PLAN {sql}", [0] * numbered)


def test_a_positional_parameter_survives_rendering(
    catalog: tuple[sqlite3.Connection, Catalog],
) -> None:
    _, cat = catalog
    users = cat.current("users")
    assert users is not None
    sql = snapshots.as_of(users, "?7", users, ["?3"])
    assert "?7" in sql and "?3" in sql
    assert ":" not in sql


def test_an_unknown_period_predicate_is_refused(
    catalog: tuple[sqlite3.Connection, Catalog],
) -> None:
    with pytest.raises(ValueError, match="OVERLAPS"):
        snapshots.range_condition("OVERLAPS", "?1", "?2")


# Any name SQLite takes as a quoted identifier: quotes, spaces, capitals, keywords, unicode.
# Not SQLite's or ChronoDB's own names, nor the rowid's aliases (which a column hides), nor
# "true"/"false": SQLite 3.40 cannot name a subquery's column so called through its alias
# (plain sqlite3 refuses SELECT v."true" FROM (SELECT * FROM t) AS v too).
_RESERVED = ("sqlite_", "_chrono_")
_name = st.text(
    st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)),
    min_size=1,
    max_size=10,
).filter(
    lambda n: (
        not n.lower().startswith(_RESERVED)
        and n.lower() not in ("rowid", "oid", "_rowid_", "true", "false")
    )
)
_keywords = st.sampled_from(["order", "select", "Group", "from", "sys_from", "k y", 'q"t', "é"])


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(_name, _keywords),
    st.lists(st.one_of(_name, _keywords), min_size=2, max_size=3, unique_by=str.lower),
    st.sampled_from(["INTEGER PRIMARY KEY", "TEXT PRIMARY KEY", "TEXT COLLATE NOCASE", ""]),
)
def test_any_names_read_the_right_rows(table: str, columns: list[str], key: str) -> None:
    """AS OF a transaction (by scan and by the key's seek) and each range read what the
    table held, whatever its name and its columns' names."""
    db = ChronoDB(":memory:")
    try:
        t, c = _quote(table), [_quote(n) for n in columns]
        first = f"{c[0]} {key}" if key != "TEXT COLLATE NOCASE" else f"{c[0]} {key} PRIMARY KEY"
        db.execute(f"CREATE TABLE {t} ({first}, {', '.join(f'{x} TEXT' for x in c[1:])})")
        rows = [(i, *[f"{n}{i}" for n in columns[1:]]) for i in range(1, 4)]
        marks = ", ".join("?" * len(c))
        tx1 = db.execute(f"INSERT INTO {t} VALUES ({marks})", rows[0]).tx_id
        db.execute(f"INSERT INTO {t} VALUES ({marks})", rows[1])
        tx2 = db.execute(f"UPDATE {t} SET {c[1]} = 'new' WHERE {c[0]} = 1").tx_id
        tx3 = db.execute(f"DELETE FROM {t} WHERE {c[0]} = 2").tx_id
        then = [tuple(map(str, r)) for r in rows[:1]]

        def at(tx: int) -> str:
            return f"SELECT * FROM {t} AS OF TRANSACTION {tx}"

        def read(sql: str, *params: Any) -> list[tuple]:
            return sorted(tuple(map(str, r)) for r in db.execute(sql, list(params)))

        assert read(at(tx1)) == then
        assert read(at(tx1) + f" WHERE {c[0]} = ?", 1) == then
        assert read(at(tx2) + f" WHERE {c[0]} = ?", 2) == [tuple(map(str, rows[1]))]
        assert read(at(tx3)) == read(f"SELECT * FROM {t}")
        ranged = f"SELECT {c[0]} FROM {t} FOR SYSTEM_TIME "
        assert read(ranged + "ALL") == [("1",), ("1",), ("2",)]
        assert read(ranged + "FROM 0 TO 9e9") == [("1",), ("1",), ("2",)]
        assert read(ranged + "BETWEEN 9e9 AND 9e9") == [("1",)]
        assert read(ranged + "CONTAINED IN (0, 9e9)") == [("1",), ("2",)]
    finally:
        db.close()
