"""Exporting a ChronoDB file to plain SQLite, now or as of a past point (chronodb/export.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from tests.chronodb.foreign_files import (
    VERSIONED,
    make_app,
    plain_rows,
    schema_names,
    sorted_rows,
)

from chronodb import ChronoDB, ChronoDBError, NotADatabaseError
from chronodb.export import export


@pytest.fixture
def app(tmp_path: Path) -> tuple[Path, int]:
    """make_app's file adopted, then written: returns it and the adoption's transaction."""
    path = make_app(tmp_path / "app.db")
    with ChronoDB(path) as db:
        tx = db.transactions()[0]["tx_id"]
        db.execute("INSERT INTO users (name) VALUES ('later')")
        db.execute("DELETE FROM users WHERE id = 1")
        db.execute("UPDATE settings SET v = 99")
        db.execute("DELETE FROM notes WHERE score > 1")
        db.execute("CREATE TABLE added (a TEXT)")
        db.execute("INSERT INTO added VALUES ('new')")
    return path, tx


def _as_of(path: Path, table: str, point: object) -> list[tuple[object, ...]]:
    with ChronoDB(path, read_only=True) as db:
        sql = f"SELECT * FROM {table}"
        if point is not None:
            sql += " AS OF TRANSACTION ?" if isinstance(point, int) else " AS OF TIMESTAMP ?"
        return sorted_rows(db.execute(sql, [] if point is None else [point]))


def test_export_of_now_is_a_plain_file_with_the_current_rows(
    app: tuple[Path, int], tmp_path: Path
) -> None:
    path, _tx = app
    target = tmp_path / "plain.db"
    report = export(path, target)
    assert not [n for n in schema_names(target) if n.startswith("_chrono_")]
    for table in [*VERSIONED, "added", "docs"]:
        assert plain_rows(target, table) == _as_of(path, table, None)
    assert report.rows["users"] == 5
    conn = sqlite3.connect(target)
    source = sqlite3.connect(path)
    for kind in ("index", "view", "trigger"):
        query = f"SELECT name, sql FROM sqlite_schema WHERE type = '{kind}' AND sql IS NOT NULL"
        wanted = [r for r in source.execute(query) if not r[0].startswith("_chrono_")]
        assert conn.execute(query).fetchall() == wanted
    create = "SELECT sql FROM sqlite_schema WHERE name = 'orders'"
    assert conn.execute(create).fetchone() == source.execute(create).fetchone()
    source.close()
    # Other tools write it again: no guard refuses, the user's trigger fires, ids go on.
    conn.execute("INSERT INTO users (name) VALUES ('plain')")
    conn.execute("UPDATE settings SET v = 1")
    conn.commit()
    assert conn.execute("SELECT id FROM users WHERE name = 'plain'").fetchone() == (7,)
    assert conn.execute("SELECT msg FROM log ORDER BY rowid DESC").fetchone() == ("new plain",)
    assert conn.execute("SELECT title FROM docs WHERE docs MATCH 'body'").fetchall()
    conn.close()


def test_export_as_of_a_transaction_holds_the_rows_of_then(
    app: tuple[Path, int], tmp_path: Path
) -> None:
    path, tx = app
    target = tmp_path / "then.db"
    report = export(path, target, as_of=tx)
    for table in VERSIONED:
        assert plain_rows(target, table) == _as_of(path, table, tx)
    assert plain_rows(target, "settings") == [(f"k{i}", i) for i in range(5)]
    assert "added" not in schema_names(target)
    assert any(n.startswith("added: did not exist") for n in report.notes)
    conn = sqlite3.connect(target)
    conn.execute("DELETE FROM users")
    conn.commit()
    conn.close()


def test_export_as_of_a_time(app: tuple[Path, int], tmp_path: Path) -> None:
    path, tx = app
    with ChronoDB(path, read_only=True) as db:
        when = next(t["tx_time"] for t in db.transactions() if t["tx_id"] == tx)
    export(path, tmp_path / "then.db", as_of=when)
    for table in VERSIONED:
        assert plain_rows(tmp_path / "then.db", table) == _as_of(path, table, tx)


def test_export_refuses_to_overwrite_a_file(app: tuple[Path, int], tmp_path: Path) -> None:
    path, _tx = app
    target = tmp_path / "taken.db"
    target.write_bytes(b"mine")
    with pytest.raises(ChronoDBError, match="exists already"):
        export(path, target)
    assert target.read_bytes() == b"mine"


def test_export_of_a_plain_file_points_to_adopt(tmp_path: Path) -> None:
    path = make_app(tmp_path / "plain.db")
    with pytest.raises(ChronoDBError, match=r"plain SQLite already .*chronodb adopt"):
        export(path, tmp_path / "out.db")
    assert not (tmp_path / "out.db").exists()


def _shaped(path: Path) -> tuple[Path, int]:
    """A ChronoDB file whose tables change shape after a point: returns it and the point."""
    with ChronoDB(path) as db:
        db.execute(
            "CREATE TABLE items (id INTEGER PRIMARY KEY, label TEXT NOT NULL, "
            "gone INT, code TEXT COLLATE NOCASE)"
        )
        db.execute("CREATE INDEX items_label ON items (label)")
        db.execute("CREATE TABLE dropped (k TEXT, n INT, v TEXT, PRIMARY KEY (k, n))")
        db.execute("CREATE TABLE steady (id INTEGER PRIMARY KEY, n INT CHECK (n > 0))")
        db.execute("CREATE INDEX steady_n ON steady (n)")
        db.execute("CREATE VIEW labels AS SELECT label FROM items")
        db.executemany(
            "INSERT INTO items VALUES (?, ?, ?, ?)",
            [(i, f"l{i}", i * 10, f"c{i}") for i in range(3)],
        )
        db.executemany("INSERT INTO dropped VALUES (?, ?, ?)", [("a", 1, "x"), ("b", 2, "y")])
        db.execute("INSERT INTO steady VALUES (1, 5)")
        point = db.transactions(limit=1)[0]["tx_id"]
        db.execute("ALTER TABLE items RENAME COLUMN label TO title")
        db.execute("DROP VIEW labels")
        db.execute("ALTER TABLE items DROP COLUMN gone")
        db.execute("ALTER TABLE items ADD COLUMN extra TEXT DEFAULT 'new'")
        db.execute("UPDATE items SET title = 'changed' WHERE id = 0")
        db.execute("DROP TABLE dropped")
        db.execute("CREATE TABLE later (a INT)")
        db.execute("UPDATE steady SET n = 6")
    return path, point


def test_export_as_of_a_point_writes_the_tables_and_columns_of_then(tmp_path: Path) -> None:
    path, point = _shaped(tmp_path / "shaped.db")
    target = tmp_path / "then.db"
    report = export(path, target, as_of=point)
    conn = sqlite3.connect(target)
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")}
    assert names == {"items", "dropped", "steady"}
    columns = [r[1:3] + r[5:] for r in conn.execute("PRAGMA table_info(items)")]
    assert columns == [
        ("id", "INTEGER", 1),
        ("label", "TEXT", 0),
        ("gone", "INT", 0),
        ("code", "TEXT", 0),
    ]
    assert plain_rows(target, "items") == [(i, f"l{i}", i * 10, f"c{i}") for i in range(3)]
    assert conn.execute("SELECT count(*) FROM items WHERE code = 'C1'").fetchone() == (1,)
    assert [r[5] for r in conn.execute("PRAGMA table_info(dropped)")] == [1, 2, 0]
    assert plain_rows(target, "dropped") == [("a", 1, "x"), ("b", 2, "y")]
    assert plain_rows(target, "steady") == [(1, 5)]
    source = sqlite3.connect(path)
    create = "SELECT sql FROM sqlite_schema WHERE name = 'steady'"
    assert conn.execute(create).fetchone() == source.execute(create).fetchone()
    source.close()
    others = (
        "SELECT type, name FROM sqlite_schema WHERE type IN ('index', 'view') "
        "AND sql IS NOT NULL ORDER BY name"
    )
    assert conn.execute(others).fetchall() == [("view", "labels"), ("index", "steady_n")]
    assert conn.execute("SELECT * FROM labels ORDER BY 1").fetchall() == [("l0",), ("l1",), ("l2",)]
    assert any(
        n.startswith("items: changed since") and "without its other" in n for n in report.notes
    )
    assert any(n.startswith("dropped: dropped since") for n in report.notes)
    assert f"later: did not exist at {point}, left out" in report.notes
    assert not any(n.startswith("steady") for n in report.notes)
    conn.execute("INSERT INTO items VALUES (9, 'more', NULL, NULL)")
    conn.execute("INSERT INTO dropped VALUES ('a', 2, 'z')")
    conn.commit()
    conn.close()


def test_export_as_of_every_transaction_matches_as_of(tmp_path: Path) -> None:
    path, _point = _shaped(tmp_path / "shaped.db")
    with ChronoDB(path, read_only=True) as db:
        points = [t["tx_id"] for t in db.transactions()]
    checked: set[str] = set()
    for n, point in enumerate(points):
        target = tmp_path / f"at{n}.db"
        report = export(path, target, as_of=point)
        with ChronoDB(path, read_only=True) as db:
            for table in ("items", "dropped", "steady", "later"):
                if table not in report.rows:
                    continue
                result = db.execute(f"SELECT * FROM {table} AS OF TRANSACTION ?", [point])
                assert plain_rows(target, table) == sorted_rows(result), (point, table)
                conn = sqlite3.connect(target)
                exported = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
                conn.close()
                assert exported == result.columns, (point, table)
                checked.add(table)
    assert checked == {"items", "dropped", "steady", "later"}


def test_export_as_of_says_unversioned_tables_hold_their_current_rows(
    app: tuple[Path, int], tmp_path: Path
) -> None:
    path, tx = app
    report = export(path, tmp_path / "then.db", as_of=tx)
    assert f"docs: not versioned, exported with its current rows, not those of {tx}" in report.notes
    assert report.rows["docs"] == 5


def test_export_as_of_leaves_out_a_unique_index_the_rows_of_then_break(tmp_path: Path) -> None:
    path = tmp_path / "twins.db"
    with ChronoDB(path) as db:
        db.execute("CREATE TABLE people (id INTEGER PRIMARY KEY, email TEXT)")
        db.execute("INSERT INTO people (email) VALUES ('a@x'), ('a@x'), ('b@x')")
        point = db.transactions(limit=1)[0]["tx_id"]
        db.execute("DELETE FROM people WHERE id = 2")
        db.execute("CREATE UNIQUE INDEX people_email ON people (email)")
    report = export(path, tmp_path / "then.db", as_of=point)
    assert plain_rows(tmp_path / "then.db", "people") == [(1, "a@x"), (2, "a@x"), (3, "b@x")]
    assert any(n.startswith("people_email: left out, the rows of") for n in report.notes)
    assert "people_email" not in schema_names(tmp_path / "then.db")
    export(path, tmp_path / "now.db")
    assert "people_email" in schema_names(tmp_path / "now.db")


def test_export_of_a_file_that_is_no_database_says_so(tmp_path: Path) -> None:
    notes = tmp_path / "notes.db"
    notes.write_bytes(b"shopping list\n" * 500)
    with pytest.raises(NotADatabaseError, match=r"notes\.db: not an SQLite database") as info:
        export(notes, tmp_path / "out.db")
    assert info.value.path == str(notes)
    assert not (tmp_path / "out.db").exists()
