"""ChronoDB on SQLite files that other tools made before ChronoDB opened them; and a closed
database, on each backend, saying so at every call."""

from __future__ import annotations

import inspect
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from chronodb import ChronoDB, ChronoDBError, ClosedError


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


def public_methods(cls: type) -> list[str]:
    return [
        name
        for name, member in vars(cls).items()
        if not name.startswith("_") and inspect.isfunction(member)
    ]


def test_every_public_method_of_a_closed_database_says_it_is_closed(backend: str) -> None:
    """On each backend (``backend``, ``conftest.py``)."""
    db = ChronoDB(backend)
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    trail = db.audit_trail
    db.close()
    db.close()  # closing twice is harmless
    assert db.closed
    arguments: dict[str, tuple[Any, ...]] = {
        "changes": ("t",),
        "erase": ("t", 1),
        "execute": ("SELECT 1",),
        "executemany": ("INSERT INTO t VALUES (?)", [(1,)]),
        "executescript": ("SELECT 1;",),
        "get_change_history": ("t", 1),
        "prune_history": (0,),
        "tx_hash": (1,),
    }
    names = [n for n in public_methods(ChronoDB) if n != "close"]
    assert {"transactions", "tables", "check_history", "verify_audit_integrity"} <= set(names)
    for name in names:
        with pytest.raises(ClosedError, match=re.escape(f"{backend} is closed")) as info:
            call = getattr(db, name)(*arguments.get(name, ()))
            if name == "transaction":
                call.__enter__()
        assert isinstance(info.value, ChronoDBError), name
    with pytest.raises(ClosedError):
        db.connection  # noqa: B018
    trail_arguments = {"verify_transaction": ("00",), "prove": ("00",), "export_digest": ("x",)}
    for name in public_methods(type(trail)):
        with pytest.raises(ClosedError):
            getattr(trail, name)(*trail_arguments.get(name, ()))
