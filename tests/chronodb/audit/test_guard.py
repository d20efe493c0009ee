"""Pruning and erasure refuse to amend transactions whose versions were tampered with."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from tests.chronodb.audit.conftest import tamper

from chronodb import ChronoDB
from chronodb.errors import AuditError


def _history(path: Path) -> tuple[ChronoDB, float]:
    db = ChronoDB(path)
    db.execute("CREATE TABLE acct (id INTEGER PRIMARY KEY, balance REAL)")
    db.execute("INSERT INTO acct VALUES (1, 10), (2, 20)")
    db.execute("INSERT INTO acct VALUES (3, 30)")
    db.execute("UPDATE acct SET balance = 11 WHERE id = 1")
    db.execute("UPDATE acct SET balance = 12 WHERE id = 1")
    time.sleep(0.01)
    cut = time.time()
    db.execute("UPDATE acct SET balance = 21 WHERE id = 2")
    return db, cut


def _edit_old_version(path: Path) -> None:
    tamper(path, "UPDATE _chrono_h1_acct SET balance = 999 WHERE id = 1 AND balance = 10")


def _tampered_history(path: Path) -> tuple[ChronoDB, float]:
    """:func:`_history`, then an old version edited behind ChronoDB's back, reopened."""
    db, cut = _history(path)
    db.close()
    _edit_old_version(path)
    return ChronoDB(path), cut


def test_prune_refuses_to_launder_a_tampered_version(tmp_path: Path) -> None:
    db, cut = _tampered_history(tmp_path / "g.db")
    before = db.execute("SELECT count(*) FROM _chrono_h1_acct").scalar()
    with pytest.raises(AuditError, match="no longer match the audit ledger"):
        db.prune_history(cut)
    assert db.execute("SELECT count(*) FROM _chrono_h1_acct").scalar() == before
    assert not db.verify_audit_integrity()
    # Forced, it prunes; verification then reflects what was recorded at that moment.
    assert db.prune_history(cut, force=True) > 0
    db.close()


def test_prune_and_erase_of_an_intact_history_stay_verifiable(tmp_path: Path) -> None:
    db, cut = _history(tmp_path / "ok.db")
    assert db.prune_history(cut) > 0
    assert db.erase("acct", 2) > 0
    assert db.verify_audit_integrity()
    db.close()


def test_erase_refuses_when_the_row_was_tampered_with(tmp_path: Path) -> None:
    db, _ = _tampered_history(tmp_path / "e.db")
    for key in (1, 2):  # row 2 was inserted by the same, tampered, transaction as row 1
        with pytest.raises(AuditError):
            db.erase("acct", key)
        assert db.execute("SELECT count(*) FROM acct WHERE id = ?", [key]).scalar() == 1
    assert db.erase("acct", 3) > 0  # a row whose transactions are intact
    db.close()


def test_retention_on_a_tampered_file_warns_and_still_opens(tmp_path: Path) -> None:
    db, _ = _history(tmp_path / "r.db")
    db.close()
    _edit_old_version(tmp_path / "r.db")
    from chronodb import ChronoDBWarning

    with pytest.warns(ChronoDBWarning, match="retention not applied"):
        db = ChronoDB(tmp_path / "r.db", retention_days=0)
    assert db.execute("SELECT balance FROM acct WHERE id = 1").scalar() == 12
    db.close()
