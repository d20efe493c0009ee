"""A busy ledgered database file, and the tamperer's tools: plain sqlite3 on that file."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from chronodb import ChronoDB
from chronodb.layout import WRITE_GUARD


def write_busy(db: ChronoDB) -> None:
    """Inserts, updates, deletes, every kind of DDL, composite and rowid keys, transactions."""
    db.execute(
        "CREATE TABLE accounts (id INTEGER PRIMARY KEY, owner TEXT, balance REAL, note BLOB)"
    )
    db.executemany(
        "INSERT INTO accounts VALUES (?, ?, ?, ?)",
        [(i, f"owner{i}", i * 10.0, bytes([i])) for i in range(1, 21)],
    )
    db.execute("UPDATE accounts SET balance = balance + 1 WHERE id <= 5")
    db.execute("DELETE FROM accounts WHERE id = 20")
    db.execute("CREATE TABLE stock (shop TEXT, sku INTEGER, qty INTEGER, PRIMARY KEY (shop, sku))")
    db.execute("INSERT INTO stock VALUES ('a', 1, 5), ('a', 2, 6), ('b', 1, 7)")
    db.execute("UPDATE stock SET qty = qty - 1 WHERE shop = 'a'")
    db.execute("CREATE TABLE events (kind TEXT, payload TEXT)")  # rowid key
    db.execute("INSERT INTO events VALUES ('login', 'x'), ('logout', 'y')")
    db.execute("UPDATE events SET payload = 'z' WHERE kind = 'login'")
    db.execute("DELETE FROM events WHERE kind = 'logout'")
    db.execute("ALTER TABLE accounts ADD COLUMN tier TEXT")
    db.execute("UPDATE accounts SET tier = 'gold' WHERE id = 1")
    db.execute("ALTER TABLE accounts RENAME COLUMN tier TO level")
    db.execute("UPDATE accounts SET level = 'silver' WHERE id = 2")
    db.execute("ALTER TABLE accounts DROP COLUMN level")
    db.execute("ALTER TABLE stock RENAME TO inventory")
    db.execute("UPDATE inventory SET qty = 0 WHERE shop = 'b'")
    db.execute("CREATE TABLE rich AS SELECT id, owner FROM accounts WHERE balance > 100")
    db.execute("DROP TABLE events")
    with db.transaction():
        db.execute("INSERT INTO accounts (id, owner, balance) VALUES (30, 'carol', 1)")
        db.execute("UPDATE accounts SET balance = 2 WHERE id = 30")
        db.execute("UPDATE inventory SET qty = 9 WHERE shop = 'a' AND sku = 1")
    db.execute("BEGIN")
    db.execute("DELETE FROM rich WHERE id = 11")
    db.execute("COMMIT")


@pytest.fixture
def busy_path(tmp_path: Path) -> Path:
    path = tmp_path / "busy.db"
    db = ChronoDB(path, user="alice")
    write_busy(db)
    db.close()
    return path


def tamper(path: Path, *statements: str | tuple[str, tuple[Any, ...]]) -> None:
    """Run ``statements`` (SQL, or SQL and its parameters) on the file with plain sqlite3,
    behind ChronoDB's back.

    The versioning triggers are ChronoDB's connections' own, so such edits leave no history;
    the guard that refuses other connections' writes is passed as a tamperer would, by
    defining its collation.
    """
    conn = sqlite3.connect(path)
    conn.create_collation(WRITE_GUARD, lambda _a, _b: 0)
    try:
        for statement in statements:
            sql, args = (statement, ()) if isinstance(statement, str) else statement
            conn.execute(sql, args)
        conn.commit()
    finally:
        conn.close()


def assert_named(location: str | Path, kind: str, tx: int | None, table: Any, row: Any) -> None:
    """The database at ``location`` fails verification, its first problem is ``kind`` in
    transaction ``tx``, ``table`` and ``row``, and it still opens read-only to be looked at."""
    db = ChronoDB(location)  # still opens
    assert db.verify_audit_integrity() is False
    report = db.audit_trail.verify()
    assert not report.ok
    first = report.first_problem
    assert first is not None
    assert (first.kind, first.tx_id, first.table, first.row) == (kind, tx, table, row), (
        report.summary()
    )
    assert f"first problem: {kind}" in report.summary()
    db.close()
    read_only = ChronoDB(location, read_only=True)
    assert read_only.execute("SELECT count(*) FROM accounts").scalar() >= 3
    assert not read_only.audit_trail.verify().ok
    read_only.close()
