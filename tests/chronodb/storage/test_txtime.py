"""Transaction time: microseconds, strictly increasing, whatever the wall clocks say."""

from __future__ import annotations

import time
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import pytest
from storage_support import assert_sound, finish

from chronodb import ChronoDB
from chronodb.versioning import timeline

HOUR_US = 3600 * 1_000_000


class Clock:
    """A wall clock for ``time.time_ns`` that a test can set, step back or freeze."""

    def __init__(self) -> None:
        self.now_ns = time.time_ns()

    def __call__(self) -> int:
        return self.now_ns

    def step(self, seconds: float) -> None:
        self.now_ns += int(seconds * 1e9)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    fake = Clock()
    monkeypatch.setattr(time, "time_ns", fake)
    yield fake


def raw_times(db: ChronoDB) -> list[int]:
    """Transaction times as stored: integer microseconds, in transaction order."""
    return [r["tx_time"] for r in reversed(timeline.transactions(db.connection))]


def test_time_is_the_clock_in_microseconds(db: ChronoDB, clock: Clock) -> None:
    db.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)")
    clock.step(1.5)
    result = db.execute("INSERT INTO t VALUES (1, 'a')")
    assert raw_times(db)[-1] == clock.now_ns // 1000
    assert result.tx_time == pytest.approx(clock.now_ns / 1e9, abs=2e-6)


def test_clock_stepping_back_still_moves_time_forward(db: ChronoDB, clock: Clock) -> None:
    db.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v INTEGER)")
    first = db.execute("INSERT INTO t VALUES (1, 0)")
    clock.step(-3600)  # NTP steps the clock back an hour
    later = [db.execute("UPDATE t SET v = ? WHERE k = 1", (i,)) for i in range(1, 6)]
    times = raw_times(db)
    assert all(a < b for a, b in pairwise(times))
    # Each step back costs one microsecond, not a jump: time resumes right after the last.
    assert times[-5:] == [times[-6] + i for i in range(1, 6)]
    assert all(r.tx_id > first.tx_id for r in later)
    # Time travel still sees the versions in order.
    for i, r in enumerate(later, start=1):
        assert db.execute("SELECT v FROM t AS OF TRANSACTION ?", (r.tx_id,)).scalar() == i
    assert_sound(db)


def test_frozen_clock_gives_distinct_times(db: ChronoDB, clock: Clock) -> None:
    db.execute("CREATE TABLE t (k INTEGER PRIMARY KEY)")
    results = [db.execute("INSERT INTO t VALUES (?)", (k,)) for k in range(50)]
    assert len({r.tx_time for r in results}) == 50
    assert all(a < b for a, b in pairwise(raw_times(db)))


def test_time_survives_reopening_after_the_clock_went_back(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "clock.db"
    with ChronoDB(path) as db:
        db.execute("CREATE TABLE t (k INTEGER PRIMARY KEY)")
        last = db.execute("INSERT INTO t VALUES (1)").tx_time
    clock.step(-86400)
    with ChronoDB(path) as db:
        assert db.execute("INSERT INTO t VALUES (2)").tx_time > last
        assert_sound(db)


def test_processes_with_different_clocks(tmp_path: Path, spawn) -> None:
    """A process whose clock is an hour ahead, then one that is right, then both at once."""
    path = tmp_path / "clocks.db"
    with ChronoDB(path) as db:
        db.execute("SELECT 1")
    finish(spawn("write", path, 0, 10, clock_offset_us=HOUR_US))
    finish(spawn("write", path, 1, 10))
    both = [spawn("write", path, 2, 20, clock_offset_us=-HOUR_US), spawn("write", path, 3, 20)]
    for proc in both:
        finish(proc)
    with ChronoDB(path) as db:
        times = raw_times(db)
        assert all(a < b for a, b in pairwise(times))
        ahead = [
            r[0]
            for r in db.connection.execute(
                "SELECT DISTINCT t.tx_time FROM _chrono_tx AS t WHERE t.user = 'worker0'"
            )
        ]
        # The honest process's transactions come after the fast one's, by microseconds.
        first_honest = db.connection.execute(
            "SELECT min(tx_time) FROM _chrono_tx WHERE user = 'worker1'"
        ).fetchone()[0]
        assert first_honest > max(ahead)
        assert db.execute("SELECT count(*) FROM events").scalar() == 60
        assert_sound(db)


def test_connections_taking_turns_with_a_clock_ahead(tmp_path: Path, clock: Clock) -> None:
    """Each connection remembers its own last transaction; another's, later, still counts."""
    path = tmp_path / "turns.db"
    first, second = ChronoDB(path), ChronoDB(path)
    first.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v INTEGER)")
    first.execute("INSERT INTO t VALUES (1, 0)")
    first.execute("UPDATE t SET v = 1 WHERE k = 1")
    clock.step(3600)
    ahead = second.execute("UPDATE t SET v = 2 WHERE k = 1").tx_time
    clock.step(-3600)  # back to first's time: its next transaction must still come later
    after = [first.execute("UPDATE t SET v = ? WHERE k = 1", (v,)).tx_time for v in (3, 4)]
    assert after[0] > ahead
    assert all(a < b for a, b in pairwise(raw_times(first)))
    assert_sound(first)
    first.close()
    second.close()
