"""A separate process writing one ChronoDB file, for the multi-process and crash tests.

    python chrono_worker.py write PATH WORKER COUNT   COUNT transactions of known content
    python chrono_worker.py crash PATH                write forever, reporting each commit
    python chrono_worker.py hold PATH SECONDS         hold a write transaction until a line (or
                                                      EOF) on stdin, SECONDS more, then commit

Each prints one line per event on stdout (flushed), so the parent knows what committed.
``CHRONO_CLOCK_OFFSET_US`` in the environment shifts this process's wall clock.
"""

from __future__ import annotations

import os
import sys
import time

from chronodb import ChronoDB

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS events (w INTEGER, i INTEGER, note TEXT, PRIMARY KEY (w, i))",
    "CREATE TABLE IF NOT EXISTS counters (w INTEGER PRIMARY KEY, n INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS items (seq INTEGER PRIMARY KEY, payload TEXT)",
    "CREATE TABLE IF NOT EXISTS counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)",
)


def create_schema(db: ChronoDB) -> None:
    for statement in SCHEMA:
        db.execute(statement)
    db.execute("INSERT OR IGNORE INTO counter VALUES (1, 0)")


def say(*words: object) -> None:
    sys.stdout.write(" ".join(map(str, words)) + "\n")
    sys.stdout.flush()


def shift_clock() -> None:
    offset = int(os.environ.get("CHRONO_CLOCK_OFFSET_US", "0")) * 1000
    if offset:
        real = time.time_ns
        time.time_ns = lambda: real() + offset


def write(path: str, worker: int, count: int) -> None:
    """Transactions alternate between explicit blocks and autocommit statement pairs."""
    db = ChronoDB(path, user=f"worker{worker}")
    create_schema(db)
    db.execute("INSERT OR IGNORE INTO counters VALUES (?, 0)", (worker,))
    for i in range(count):
        if i % 2:
            with db.transaction():
                db.execute("INSERT INTO events VALUES (?, ?, ?)", (worker, i, f"tx {i}"))
                result = db.execute("UPDATE counters SET n = n + 1 WHERE w = ?", (worker,))
        else:
            db.execute("INSERT INTO events VALUES (?, ?, ?)", (worker, i, f"auto {i}"))
            result = db.execute("UPDATE counters SET n = n + 1 WHERE w = ?", (worker,))
        say("tx", i, result.tx_id, result.tx_time)
    db.close()
    say("done")


def crash(path: str) -> None:
    """Each transaction inserts item ``seq`` and bumps the counter; reports ``seq`` committed."""
    db = ChronoDB(path, user="crasher")
    create_schema(db)
    seq = db.execute("SELECT coalesce(max(seq), 0) FROM items").scalar()
    say("ready", seq)
    while True:
        seq += 1
        with db.transaction():
            db.execute("INSERT INTO items VALUES (?, ?)", (seq, os.urandom(1500).hex()))
            db.execute("UPDATE counter SET n = n + 1 WHERE id = 1")
        say("committed", seq)


def hold(path: str, seconds: float) -> None:
    """Open a write transaction, report it, keep it open until the parent says so (a line or
    the end of stdin) and ``seconds`` more, then commit."""
    db = ChronoDB(path, user="holder")
    with db.transaction():
        db.execute("INSERT INTO events VALUES (-1, -1, 'held')")
        say("holding")
        sys.stdin.readline()
        time.sleep(seconds)
    say("released")
    db.close()


if __name__ == "__main__":
    shift_clock()
    command, target, *rest = sys.argv[1:]
    if command == "write":
        write(target, int(rest[0]), int(rest[1]))
    elif command == "crash":
        crash(target)
    elif command == "hold":
        hold(target, float(rest[0]))
    else:
        raise SystemExit(f"unknown command {command!r}")
