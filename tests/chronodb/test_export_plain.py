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

from chronodb import ChronoDB, ChronoDBError
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
