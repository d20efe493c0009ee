"""A view read AS OF a point is the view as it was defined then, over its tables then."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from chronodb import ChronoDB, SchemaError


def rows(db: ChronoDB, sql: str, params: object = None) -> list[tuple]:
    return [tuple(r) for r in db.execute(sql, params)]


def _places(db: ChronoDB) -> tuple[ChronoDB, int, int]:
    """``p`` with a view over it; the ids of a transaction before the view and one after."""
    db.execute("CREATE TABLE p (id INTEGER PRIMARY KEY, city TEXT)")
    early = db.execute("INSERT INTO p VALUES (1, 'Oslo')").tx_id
    db.execute("CREATE VIEW vw AS SELECT id, city FROM p")
    later = db.execute("INSERT INTO p VALUES (2, 'Rome')").tx_id
    return db, early, later


@pytest.fixture
def places(db: ChronoDB) -> tuple[ChronoDB, int, int]:
    """:func:`_places` on SQLite, whose views follow renames of their columns and may be
    dropped under a view that reads them."""
    return _places(db)


@pytest.fixture
def any_places(backend_db: ChronoDB) -> tuple[ChronoDB, int, int]:
    """:func:`_places` on each backend: a view reads AS OF a point alike on both."""
    return _places(backend_db)


def test_a_view_reads_its_definition_from_before_a_column_was_renamed(
    places: tuple[ChronoDB, int, int],
) -> None:
    db, _, later = places
    db.execute('ALTER TABLE p RENAME COLUMN city TO "home city"')
    past = db.execute("SELECT * FROM vw AS OF TRANSACTION ? ORDER BY id", [later])
    assert past.columns == ["id", "city"]
    assert [tuple(r) for r in past] == [(1, "Oslo"), (2, "Rome")]
    db.execute('ALTER TABLE p RENAME COLUMN "home city" TO town')
    assert rows(db, "SELECT * FROM vw AS OF TRANSACTION ? ORDER BY id", [later]) == [
        (1, "Oslo"),
        (2, "Rome"),
    ]
    now = db.execute("SELECT * FROM vw AS OF TIMESTAMP 9e9 ORDER BY id")
    assert now.columns == ["id", "town"]


def test_a_view_reads_its_definition_from_before_its_table_was_renamed(
    any_places: tuple[ChronoDB, int, int],
) -> None:
    db, _, later = any_places
    db.execute("ALTER TABLE p RENAME TO places")
    db.execute("INSERT INTO places VALUES (3, 'Nice')")
    assert rows(db, "SELECT city FROM vw AS OF TRANSACTION ? ORDER BY id", [later]) == [
        ("Oslo",),
        ("Rome",),
    ]
    assert rows(db, "SELECT count(*) FROM vw") == [(3,)]


def test_a_dropped_view_reads_as_it_was(any_places: tuple[ChronoDB, int, int]) -> None:
    db, _, later = any_places
    db.execute("DROP VIEW vw")
    assert rows(db, "SELECT city FROM vw AS OF TRANSACTION ? ORDER BY id", [later]) == [
        ("Oslo",),
        ("Rome",),
    ]
    with pytest.raises(SchemaError, match="no such table: vw"):
        db.execute("SELECT * FROM vw AS OF TIMESTAMP 9e9")


def test_a_view_did_not_exist_before_it_was_created(any_places: tuple[ChronoDB, int, int]) -> None:
    db, early, _ = any_places
    with pytest.raises(SchemaError, match="no such table: vw"):
        db.execute("SELECT * FROM vw AS OF TRANSACTION ?", [early])


def test_each_definition_answers_for_its_own_span(places: tuple[ChronoDB, int, int]) -> None:
    db, _, later = places
    db.execute("CREATE VIEW far AS SELECT count(*) AS n FROM vw")
    db.execute("DROP VIEW vw")
    db.execute("CREATE VIEW vw AS SELECT id, upper(city) AS city FROM p WHERE id > 1")
    redefined = db.execute("INSERT INTO p VALUES (3, 'Nice')").tx_id
    sql = "SELECT city FROM vw AS OF TRANSACTION ? ORDER BY id"
    assert rows(db, sql, [later]) == [("Oslo",), ("Rome",)]
    assert rows(db, sql, [redefined]) == [("ROME",), ("NICE",)]
    # a view over a view: both as defined at the point
    sql = "SELECT n FROM far AS OF TRANSACTION ?"
    assert db.execute(sql, [redefined]).scalar() == 2
    db.execute("INSERT INTO p VALUES (4, 'Kyiv')")
    assert db.execute(sql, [redefined]).scalar() == 2
    assert db.execute("SELECT n FROM far").scalar() == 3


def test_a_temporary_view_is_not_recorded(db: ChronoDB) -> None:
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    db.execute("INSERT INTO t VALUES (1)")
    assert db.execute("CREATE TEMP VIEW tv AS SELECT id FROM t").tx_id is None
    assert rows(db, "SELECT id FROM tv") == [(1,)]
    recorded = db.connection.execute("SELECT count(*) FROM _chrono_views").fetchone()[0]
    assert recorded == 0


def test_a_view_made_by_another_chronodb_reads_as_of_its_points(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    with ChronoDB(path) as first, ChronoDB(path) as second:
        first.execute("CREATE TABLE p (id INTEGER PRIMARY KEY, city TEXT)")
        first.execute("INSERT INTO p VALUES (1, 'Oslo')")
        first.execute("CREATE VIEW vw AS SELECT id, city FROM p")
        made = first.execute("INSERT INTO p VALUES (2, 'Rome')").tx_id
        first.execute("ALTER TABLE p RENAME COLUMN city TO town")
        assert rows(second, "SELECT city FROM vw AS OF TRANSACTION ? ORDER BY id", [made]) == [
            ("Oslo",),
            ("Rome",),
        ]


def test_a_view_sqlite_made_reads_as_it_is_now(tmp_path: Path) -> None:
    """Nothing recorded its past definitions: today's counts at every point, as before."""
    path = tmp_path / "outside.db"
    with ChronoDB(path) as db:
        db.execute("CREATE TABLE p (id INTEGER PRIMARY KEY, city TEXT)")
        made = db.execute("INSERT INTO p VALUES (1, 'Oslo')").tx_id
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE VIEW vw AS SELECT city FROM p")
    with ChronoDB(path) as db:
        assert rows(db, "SELECT * FROM vw AS OF TRANSACTION ?", [made]) == [("Oslo",)]
