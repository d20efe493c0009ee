"""Full verification on healthy databases: busy workloads, pruning, erasure, progress."""

from __future__ import annotations

import time
from pathlib import Path

from tests.chronodb.audit.conftest import write_busy

from chronodb import ChronoDB


def test_a_busy_database_verifies(busy_path: Path) -> None:
    db = ChronoDB(busy_path)
    report = db.audit_trail.verify()
    assert report.ok, report.summary()
    assert db.verify_audit_integrity()
    transactions = db.execute("SELECT count(*) FROM _chrono_tx").scalar()
    assert report.checked["leaves"] == report.checked["transactions"] == transactions
    assert report.tree_size == transactions
    assert report.checked["tables"] == 3  # accounts, inventory, rich
    versions = sum(
        db.execute(f'SELECT count(*) FROM "{name}"').scalar()
        for (name,) in db.execute(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name GLOB '_chrono_h[0-9]*'"
        )
    )
    assert report.checked["row_versions"] == versions > 40
    assert report.problems == [] and report.first_problem is None
    assert report.summary().startswith("Audit verification OK")
    assert report.to_dict()["root"] == report.root
    db.close()


def test_in_memory_database_verifies(db: ChronoDB) -> None:
    write_busy(db)
    assert db.audit_trail.verify().ok


def test_progress_is_reported_up_to_the_total(busy_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    db = ChronoDB(busy_path)
    report = db.audit_trail.verify(progress=lambda done, total: calls.append((done, total)))
    assert calls, "progress was never called"
    done = [c[0] for c in calls]
    assert done == sorted(done)
    assert done[-1] == calls[-1][1] == report.checked["row_versions"]
    db.close()


def test_pruning_keeps_the_ledger_verifiable_and_says_so(tmp_path: Path) -> None:
    db = ChronoDB(tmp_path / "p.db")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)")
    db.execute("INSERT INTO t VALUES (1, 0), (2, 0)")
    for i in range(1, 4):
        db.execute("UPDATE t SET v = ? WHERE id = 1", [i])
    cut = time.time()
    db.execute("UPDATE t SET v = 9 WHERE id = 2")
    assert db.prune_history(cut) > 0
    report = db.audit_trail.verify()
    assert report.ok, report.summary()
    assert any("pruned or erased" in note for note in report.notes)
    assert "note:" in report.summary()
    db.execute("UPDATE t SET v = 10 WHERE id = 1")  # and it goes on
    assert db.verify_audit_integrity()
    db.close()


def test_erasing_a_row_keeps_the_ledger_verifiable_and_says_so(busy_path: Path) -> None:
    db = ChronoDB(busy_path)
    assert db.erase("accounts", 3, reason="GDPR request") > 0
    report = db.audit_trail.verify()
    assert report.ok, report.summary()
    assert report.notes
    assert db.get_change_history("accounts", 3) == []
    db.close()


def test_verification_works_on_a_read_only_handle(busy_path: Path) -> None:
    db = ChronoDB(busy_path, read_only=True)
    assert db.audit_trail.verify().ok
    db.close()
