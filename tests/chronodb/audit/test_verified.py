"""The ledger's last verification is the database's (``audit/verified.py``): every connection
and process sees it, with its result, and it survives closing and opening again."""

from __future__ import annotations

import time
from pathlib import Path

import psycopg
import pytest
from tests.chronodb import pgserver
from tests.chronodb.audit.conftest import tamper

from chronodb import ChronoDB
from chronodb.optimizer.health import render


def _ledger(db: ChronoDB) -> dict:
    return db.get_health_report()["ledger"]


def _bank(backend: str) -> ChronoDB:
    db = ChronoDB(backend, user="tester")
    db.execute("CREATE TABLE accounts (id INTEGER PRIMARY KEY, owner TEXT, balance REAL)")
    db.execute("INSERT INTO accounts VALUES (1, 'ann', 10), (2, 'bob', 20)")
    db.execute("UPDATE accounts SET balance = 11 WHERE id = 1")
    return db


def _tamper(backend: str) -> None:
    """Change a current row behind ChronoDB's back: history no longer says so."""
    if backend.startswith("postgresql://"):
        with psycopg.connect(backend, autocommit=True) as conn:
            conn.execute("SET session_replication_role = replica")  # no trigger fires
            conn.execute("UPDATE accounts SET balance = 99 WHERE id = 2")
        return
    tamper(Path(backend), "UPDATE accounts SET balance = 99 WHERE id = 2")


def test_every_connection_sees_the_last_verification_and_a_reopen_keeps_it(
    backend: str,
) -> None:
    first = _bank(backend)
    other = ChronoDB(backend, user="tester")  # another server's or process's connection
    try:
        assert _ledger(other)["last_verification"] is None
        assert "Ledger: never verified" in render(other.get_health_report())
        report = first.audit_trail.verify()
        seen = _ledger(other)
        assert seen["valid"] is True and seen["problems"] == 0
        assert seen["verified_tree_size"] == report.tree_size == len(first.transactions())
        assert abs(seen["last_verification"] - time.time()) < 60
        assert seen == {k: v for k, v in _ledger(first).items() if k in seen}
    finally:
        first.close()
        other.close()
    with ChronoDB(backend, user="tester") as reopened:
        assert _ledger(reopened) == seen


def test_a_failed_verification_is_kept_with_its_problems(backend: str) -> None:
    _bank(backend).close()
    _tamper(backend)
    with ChronoDB(backend, user="tester") as db:
        report = db.audit_trail.verify()
        assert not report.ok
    with ChronoDB(backend, user="tester") as later:
        ledger = _ledger(later)
        line = next(x for x in render(later.get_health_report()).splitlines() if "Ledger" in x)
    assert ledger["valid"] is False and ledger["problems"] == len(report.problems) > 0
    assert line.endswith(f"INVALID ({len(report.problems)} problem(s))")


def test_a_newer_verification_replaces_the_stored_one(backend: str) -> None:
    with _bank(backend) as db:
        db.audit_trail.verify()
        first = _ledger(db)
        db.execute("INSERT INTO accounts VALUES (3, 'cy', 30)")
        db.audit_trail.verify()
        second = _ledger(db)
    assert second["last_verification"] > first["last_verification"]
    assert second["verified_tree_size"] == first["verified_tree_size"] + 1


def test_a_read_only_connection_keeps_its_verification_to_itself(backend: str) -> None:
    _bank(backend).close()
    with ChronoDB(backend, read_only=True) as reader, ChronoDB(backend) as other:
        assert reader.verify_audit_integrity()
        assert _ledger(reader)["valid"] is True  # its own, in memory
        assert _ledger(other)["last_verification"] is None  # nothing was written


def test_a_verification_inside_a_transaction_is_not_undone_by_its_rollback() -> None:
    with ChronoDB(":memory:") as db:
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
        db.execute("INSERT INTO t VALUES (1)")
        db.execute("BEGIN")
        assert db.verify_audit_integrity()
        db.execute("ROLLBACK")
        # remembered by the connection, written nowhere the ROLLBACK could take it from
        assert _ledger(db)["valid"] is True
        stored = "SELECT count(*) FROM _chrono_meta WHERE key = 'verified'"
        assert db.execute(stored).rows[0][0] == 0
        assert db.verify_audit_integrity()  # outside a transaction: stored
        assert db.execute(stored).rows[0][0] == 1


@pytest.fixture
def url(pg_url: str) -> str:
    return pgserver.as_url(pg_url)


def test_a_database_installed_before_the_table_still_opens_and_reports(url: str) -> None:
    _bank(url).close()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE _chrono_meta")  # as ChronoDB installed it before
    with ChronoDB(url, read_only=True) as reader:
        assert _ledger(reader)["last_verification"] is None
        assert reader.verify_audit_integrity()  # read-only: kept in memory
        assert _ledger(reader)["valid"] is True
    with ChronoDB(url) as writer:  # a read-write open installs the table
        assert writer.verify_audit_integrity()
    with ChronoDB(url, read_only=True) as reader:
        assert _ledger(reader)["valid"] is True
