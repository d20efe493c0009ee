"""A separate process writing one ChronoDB file, for the multi-process and crash tests.

    python chrono_worker.py write PATH WORKER COUNT   COUNT transactions of known content
    python chrono_worker.py crash PATH                write forever, reporting each commit
    python chrono_worker.py follow PATH WORKER COUNT  COUNT increments of acc row WORKER while
                                                      another process changes the schema
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
from chronodb.errors import SchemaError

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


def _side_insert(db: ChronoDB, key: int) -> None:
    """Insert into ``side``, which the other process drops, renames and makes again."""
    try:
        db.execute("INSERT INTO side (id, v) VALUES (?, ?)", (key, key))
    except SchemaError as err:
        if "no such table" not in str(err):
            raise


def follow(path: str, worker: int, count: int) -> None:
    """Increment acc row ``worker`` ``count`` times, by autocommit, in a transaction (with an
    insert into ``side``) and by executemany in turn; then report whether the file is sound."""
    db = ChronoDB(path, user=f"worker{worker}", auto_create_tables=False)
    say("ready")
    bump = "UPDATE acc SET bal = bal + 1 WHERE id = ?"
    for i in range(count):
        if i % 3 == 0:
            db.execute(bump, (worker,))
            _side_insert(db, (worker + 1) * 1000 + i)
        elif i % 3 == 1:
            with db.transaction():
                db.execute(bump, (worker,))
                _side_insert(db, (worker + 1) * 1000 + i)
        else:
            db.executemany(bump, [(worker,)])
        time.sleep(0.005)
    problems = db.check_history()
    say("sound" if not problems and db.verify_audit_integrity() else f"unsound {problems}")
    db.close()


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
    elif command == "follow":
        follow(target, int(rest[0]), int(rest[1]))
    elif command == "hold":
        hold(target, float(rest[0]))
    else:
        raise SystemExit(f"unknown command {command!r}")
