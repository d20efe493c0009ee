"""ChronoDB on SQLite files that other tools made before ChronoDB opened them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from chronodb import ChronoDB


def plain_sqlite_file(path: Path) -> Path:
    """A file the sqlite3 module writes, as an application's own database would be."""
    con = sqlite3.connect(path)
    con.executescript(
        """
        CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT NOT NULL);
        INSERT INTO items VALUES (1, 'pen'), (2, 'ink');
        CREATE TABLE notes(body TEXT, stars INT);
        INSERT INTO notes VALUES ('first', 3);
        CREATE TABLE empty_keyed(id INTEGER PRIMARY KEY);
        """
    )
    con.commit()
    con.close()
    return path


@pytest.mark.parametrize("ledger", [True, False])
def test_a_file_made_by_plain_sqlite_opens_and_keeps_its_history(
    tmp_path: Path, ledger: bool
) -> None:
    path = plain_sqlite_file(tmp_path / "app.db")
    with ChronoDB(path, ledger=ledger) as db:
        assert db.execute("SELECT * FROM empty_keyed").rows == []
        opened = db.transactions()[-1]["tx_id"]
        db.execute("UPDATE items SET name = 'quill' WHERE id = 1")
        db.execute("INSERT INTO notes VALUES ('second', 5)")
        db.execute("INSERT INTO empty_keyed VALUES (7)")

        then = db.execute("SELECT id, name FROM items AS OF TRANSACTION ? ORDER BY id", [opened])
        assert [tuple(r) for r in then.rows] == [(1, "pen"), (2, "ink")]
        notes = db.execute("SELECT body, stars FROM notes AS OF TRANSACTION ?", [opened])
        assert [tuple(r) for r in notes.rows] == [("first", 3)]
        now = db.execute("SELECT id, name FROM items ORDER BY id")
        assert [tuple(r) for r in now.rows] == [(1, "quill"), (2, "ink")]
        assert db.check_history() == []
        if ledger:
            assert db.verify_audit_integrity() is True
    # Opening it again finds it ready and leaves its history as it was.
    with ChronoDB(path, ledger=ledger) as db:
        again = db.execute("SELECT id, name FROM items AS OF TRANSACTION ? ORDER BY id", [opened])
        assert [tuple(r) for r in again.rows] == [(1, "pen"), (2, "ink")]
        assert db.check_history() == []
