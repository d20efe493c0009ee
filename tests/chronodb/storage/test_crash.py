"""A writer killed with SIGKILL at random moments: every commit kept whole, nothing half-done."""

from __future__ import annotations

import random
import signal
import sys
import time
from pathlib import Path

import pytest
from storage_support import assert_sound

from chronodb import ChronoDB

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")

ROUNDS = 10


def kill_at_random(spawn, path: Path, rng: random.Random, wait_until_ready: bool) -> set[int]:
    """Run the crash worker, SIGKILL it at a random moment, return the seqs it reported."""
    proc = spawn("crash", path)
    assert proc.stdout is not None
    if wait_until_ready:
        assert proc.stdout.readline().split()[0] == "ready"
    time.sleep(rng.uniform(0.0, 0.4))
    proc.send_signal(signal.SIGKILL)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == -signal.SIGKILL, err
    assert "Traceback" not in err, err
    # The last line may have been cut short by the kill: only whole lines count.
    lines = out.split("\n")[:-1]
    return {int(line.split()[1]) for line in lines if line.startswith("committed ")}


@pytest.mark.slow
def test_sigkill_never_loses_or_splits_a_transaction(tmp_path: Path, spawn) -> None:
    path = tmp_path / "crash.db"
    rng = random.Random(20240521)
    reported: set[int] = set()
    for round_ in range(ROUNDS):
        # Some rounds kill the worker while it is still starting (opening, recovering the WAL).
        reported |= kill_at_random(spawn, path, rng, wait_until_ready=round_ % 4 != 3)
        with ChronoDB(path) as db:
            seqs = {r[0] for r in db.execute("SELECT seq FROM items")}
            counter = db.execute("SELECT n FROM counter WHERE id = 1").scalar()
            # Every reported commit is there, and commits are never skipped over.
            assert reported <= seqs
            assert seqs == set(range(1, len(seqs) + 1))
            # Each transaction inserted one item and bumped the counter: never one alone.
            assert counter == len(seqs)
            bumps = [v["tx_id"] for v in db.get_change_history("counter", 1)[1:]]
            inserts = [c["tx_id"] for c in db.changes("items")]
            assert bumps == inserts and len(set(bumps)) == counter
            assert_sound(db)
    assert len(reported) > ROUNDS, "the worker should have committed in most rounds"
