"""Affinity and collation read from a table's declarations, as SQLite reads them."""

from __future__ import annotations

import sqlite3

import pytest

from chronodb.versioning.columns import affinity, collations, history_type


@pytest.mark.parametrize(
    ("decl", "expected"),
    [
        ("INTEGER", "INTEGER"),
        ("BIGINT", "INTEGER"),
        ("VARCHAR(10)", "TEXT"),
        ("CLOB", "TEXT"),
        ("", "BLOB"),
        ("BLOB", "BLOB"),
        ("DOUBLE PRECISION", "REAL"),
        ("FLOATING POINT", "INTEGER"),  # "INT" wins, as in SQLite
        ("DECIMAL(10, 2)", "NUMERIC"),
        ("DATETIME", "NUMERIC"),
    ],
)
def test_affinity_follows_sqlites_rules(decl: str, expected: str) -> None:
    assert affinity(decl) == expected
    conn = sqlite3.connect(":memory:")
    conn.execute(f"CREATE TABLE t (a {decl}, b {history_type(decl)})")
    conn.execute("INSERT INTO t VALUES ('12', '12')")
    assert conn.execute("SELECT typeof(a) = typeof(b) FROM t").fetchone() == (1,)


def test_collations_are_read_from_column_definitions_only() -> None:
    sql = (
        "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT COLLATE NOCASE, "
        '"b, c" /* COLLATE x */ COLLATE rtrim NOT NULL, '
        "d VARCHAR(10) CHECK (d COLLATE NOCASE <> 'x, COLLATE y') COLLATE \"my coll\", e, "
        "[f] text collate binary, UNIQUE (e COLLATE nocase)) WITHOUT ROWID"
    )
    assert collations(sql) == {"name": "NOCASE", "b, c": "rtrim", "d": "my coll", "f": "binary"}
    assert collations("CREATE TABLE t(a, b)") == {}
