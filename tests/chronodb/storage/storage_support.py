"""Checks shared by the storage tests: a worker's outcome, and a whole database's soundness."""

from __future__ import annotations

import subprocess
from itertools import pairwise
from pathlib import Path

from chronodb import ChronoDB

WORKER = Path(__file__).with_name("chrono_worker.py")


def assert_sound(db: ChronoDB) -> None:
    """SQLite's own check passes, data and history agree, and tx times strictly increase."""
    assert db.connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.check_history() == []
    times = [r[0] for r in db.connection.execute("SELECT tx_time FROM _chrono_tx ORDER BY tx_id")]
    assert all(a < b for a, b in pairwise(times))


def finish(proc: subprocess.Popen[str], timeout: float = 30) -> list[str]:
    """Wait for a worker, fail with its stderr if it failed, and return its stdout lines."""
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err
    assert "locked" not in err and "Traceback" not in err, err
    return out.splitlines()
