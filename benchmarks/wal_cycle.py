"""Timing writes with the WAL checkpoints they cost (shared by the write benchmarks).

A checkpoint is where a WAL database pays for what it wrote: it syncs the WAL, then copies
pages into the file. SQLite checkpoints once the WAL reaches a size, so a short run may or
may not contain one, and the best of several short runs picks those without: ChronoDB, which
writes several pages per transaction, would be timed without its checkpoints against a
baseline timed with them. :func:`checkpointed` starts each run on an emptied WAL and ends it
by checkpointing whatever the run left, inside the timing.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class Timed(int):
    """An operation count that carries its own elapsed time (set-up left out of the timing)."""

    seconds: float


def timed(count: int, start: float) -> Timed:
    result = Timed(count)
    result.seconds = time.perf_counter() - start
    return result


def checkpointed(execute: Callable[..., object], work: Callable[[], int]) -> Timed:
    """Run ``work`` (it returns its operation count) from an emptied WAL, checkpoint included.

    ``execute`` runs one SQL statement on the database ``work`` writes to.
    """
    execute("PRAGMA wal_checkpoint(RESTART)")
    start = time.perf_counter()
    count = work()
    execute("PRAGMA wal_checkpoint(PASSIVE)")
    return timed(count, start)
