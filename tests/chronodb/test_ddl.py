"""Schema changes keep the past readable with the columns and names it had then: what only
SQLite has (``test_backends_schema.py`` runs the rest on both backends)."""

from __future__ import annotations

import pytest

from chronodb import ChronoDB


def rows(db: ChronoDB, sql: str, params: object = None) -> list[tuple]:
    return [tuple(r) for r in db.execute(sql, params)]


@pytest.fixture
def people(db: ChronoDB) -> tuple[ChronoDB, float]:
    """A table with two rows; returns the database and the time they were written."""
    db.execute("CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT, age INTEGER)")
    at = db.execute("INSERT INTO people VALUES (1, 'Ann', 30), (2, 'Ben', 40)").tx_time
    return db, at


def test_create_table_if_not_exists_twice(db: ChronoDB) -> None:
    db.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY)")
    db.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY)")
    db.execute("INSERT INTO t VALUES (1)")
    assert len(db.get_change_history("t", 1)) == 1


def test_index_and_view_are_kept(people: tuple[ChronoDB, float]) -> None:
    db, _ = people
    db.execute("CREATE INDEX people_age ON people (age)")
    db.execute("CREATE VIEW adults AS SELECT name FROM people WHERE age >= 35")
    kinds = rows(db, "SELECT type, name FROM sqlite_schema WHERE name IN ('people_age', 'adults')")
    assert sorted(kinds) == [("index", "people_age"), ("view", "adults")]
    assert rows(db, "SELECT * FROM adults") == [("Ben",)]
    db.execute("DROP VIEW adults")
    assert rows(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'adults'") == [(0,)]


@pytest.mark.parametrize(
    "create",
    [
        "CREATE TABLE w (k TEXT PRIMARY KEY, v INTEGER) WITHOUT ROWID",
        "CREATE TABLE w (k TEXT PRIMARY KEY, v INTEGER) STRICT",
        "CREATE TABLE w (k TEXT NOT NULL PRIMARY KEY, v INTEGER CHECK (v >= 0)) "
        "STRICT, WITHOUT ROWID",
    ],
)
def test_table_options_are_versioned(db: ChronoDB, create: str) -> None:
    db.execute(create)
    at = db.execute("INSERT INTO w VALUES ('a', 1)").tx_time
    db.execute("UPDATE w SET v = 2")
    assert db.tables() == ["w"]
    assert rows(db, "SELECT * FROM w AS OF TIMESTAMP ?", [at]) == [("a", 1)]
    assert [h["values"]["v"] for h in db.get_change_history("w", "a")] == [1, 2]


@pytest.mark.parametrize(
    ("column", "stored"),
    [
        ("note TEXT DEFAULT 3", "3"),
        ("rate REAL DEFAULT 1", 1.0),
        ("n INTEGER DEFAULT '7'", 7),
        ("x DEFAULT 2.5", 2.5),
        ("big REAL DEFAULT 1e308", 1e308),
        ("b BLOB DEFAULT x'00ff'", b"\x00\xff"),
    ],
)
def test_added_column_reads_the_default_the_table_stores(
    people: tuple[ChronoDB, float], column: str, stored: object
) -> None:
    db, _ = people
    added = db.execute(f"ALTER TABLE people ADD COLUMN {column}").tx_id
    name = column.split()[0]
    now = db.execute(f"SELECT {name} FROM people ORDER BY id").rows
    past = db.execute(f"SELECT {name} FROM people AS OF TRANSACTION {added} ORDER BY id").rows
    assert [(v, type(v)) for (v,) in now] == [(stored, type(stored))] * 2
    assert [(v, type(v)) for (v,) in past] == [(stored, type(stored))] * 2
    assert db.check_history() == []


def test_type_names_of_several_words_as_sqlite_takes_them(db: ChronoDB) -> None:
    db.execute(
        "CREATE TABLE wide (id BIG INT PRIMARY KEY, a UNSIGNED BIG INT, "
        "b VARYING CHARACTER(20) NOT NULL DEFAULT 'q', c DOUBLE PRECISION)"
    )
    db.execute("INSERT INTO wide (id, a, c) VALUES (1, '7', '2')")
    now = db.execute("SELECT *, typeof(a), typeof(c) FROM wide").to_dicts()
    assert now == [
        {"id": 1, "a": 7, "b": "q", "c": 2.0, "typeof(a)": "integer", "typeof(c)": "real"}
    ]


def test_a_column_added_with_a_type_name_of_several_words(db: ChronoDB) -> None:
    db.execute("CREATE TABLE narrow (id INTEGER PRIMARY KEY)")
    db.execute("INSERT INTO narrow VALUES (1)")
    db.execute("ALTER TABLE narrow ADD COLUMN n UNSIGNED BIG INT")
    db.execute("UPDATE narrow SET n = '7'")
    assert db.execute("SELECT n, typeof(n) FROM narrow").to_dicts() == [
        {"n": 7, "typeof(n)": "integer"}
    ]
