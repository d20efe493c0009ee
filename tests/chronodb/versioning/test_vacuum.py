"""VACUUM never detaches a rowid-keyed table's rows from their history."""

from __future__ import annotations

from pathlib import Path

import pytest

from chronodb import ChronoDB, SQLError


def notes(path: Path, deleted: tuple[str, ...] = ()) -> ChronoDB:
    """A table without INTEGER PRIMARY KEY (history keyed by rowid), some rows deleted."""
    db = ChronoDB(path)
    db.execute("CREATE TABLE notes (body TEXT)")
    for i in range(6):
        db.execute("INSERT INTO notes VALUES (?)", [f"n{i}"])
    for body in deleted:
        db.execute("DELETE FROM notes WHERE body = ?", [body])
    return db


def past(db: ChronoDB) -> list[list[str]]:
    """The table's rows as of every transaction so far."""
    return [
        [r[0] for r in db.execute("SELECT body FROM notes AS OF TRANSACTION ? ORDER BY 1", [t])]
        for t in sorted(t["tx_id"] for t in db.transactions())
    ]


def test_vacuum_with_gapped_rowids_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    db = notes(tmp_path / "gaps.db", deleted=("n1", "n4"))
    before = (db.execute("SELECT rowid, body FROM notes").rows, past(db))
    with pytest.raises(SQLError, match=r"VACUUM refused.*'notes'.*INTEGER PRIMARY KEY"):
        db.execute("VACUUM")
    assert (db.execute("SELECT rowid, body FROM notes").rows, past(db)) == before
    assert db.verify_audit_integrity()
    db.close()


def test_vacuum_runs_when_no_row_would_move(tmp_path: Path) -> None:
    db = notes(tmp_path / "dense.db", deleted=("n5",))  # rowids 1..5 still run 1 to n
    db.execute("CREATE TABLE keyed (id INTEGER PRIMARY KEY, v TEXT)")
    db.execute("INSERT INTO keyed VALUES (10, 'a'), (30, 'b')")  # gaps in a real key: fine
    before = past(db)
    db.execute("VACUUM")
    assert past(db) == before
    db.execute("UPDATE notes SET body = 'changed' WHERE body = 'n2'")
    assert [h["operation"] for h in db.get_change_history("notes", 3)] == ["INSERT", "UPDATE"]
    assert db.check_history() == []
    assert db.verify_audit_integrity()
    db.close()


def test_vacuum_into_copies_rowids_and_history(tmp_path: Path) -> None:
    db = notes(tmp_path / "gaps.db", deleted=("n1", "n4"))
    before = (db.execute("SELECT rowid, body FROM notes").rows, past(db))
    copy = tmp_path / "copy.db"
    db.execute("VACUUM INTO ?", [str(copy)])
    db.close()
    with ChronoDB(copy) as restored:
        assert (restored.execute("SELECT rowid, body FROM notes").rows, past(restored)) == before
        assert restored.verify_audit_integrity()
