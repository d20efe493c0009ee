"""Benchmark the DB-API driver's primary-key SELECT against sqlite3's cursor (issue 26).

Both read one row by primary key from the same kind of file (WAL, 10,000 rows), through a
reused cursor: ``cur.execute(sql, (k,)); cur.fetchone()``. Time is this thread's CPU time
(``time.thread_time``), so other processes on a shared machine do not count. The target is
a ratio of at most 1.3 (chronodb.dbapi time / sqlite3 time). Each figure is the best of
several rounds, the two alternating.

    python benchmarks/dbapi_bench.py            # full size
    python benchmarks/dbapi_bench.py --quick    # smaller, for a smoke run
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chronodb import dbapi

ROWS = 10_000
SELECT = "SELECT id, name, qty FROM items WHERE id = ?"


def fill(cursor: Any) -> None:
    cursor.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, qty INTEGER)")
    cursor.executemany(
        "INSERT INTO items VALUES (?, ?, ?)", [(i, f"item {i}", i % 97) for i in range(ROWS)]
    )


def per_select(lookups: int, cursor: Any) -> float:
    """Seconds per pk select over ``lookups`` selects."""
    keys = [(i * 7919) % ROWS for i in range(lookups)]
    start = time.thread_time()
    for k in keys:
        cursor.execute(SELECT, (k,))
        cursor.fetchone()
    return (time.thread_time() - start) / lookups


def opened(open_conn: Callable[[Path], Any], path: Path) -> Any:
    conn = open_conn(path)
    fill(conn.cursor())
    conn.commit()
    return conn


def plain(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = WAL")
    return conn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer lookups and repetitions")
    args = parser.parse_args()
    repeats, lookups = (3, 2_000) if args.quick else (15, 10_000)
    with tempfile.TemporaryDirectory() as tmp:
        plain_conn = opened(plain, Path(tmp) / "plain.db")
        chrono_conn = opened(dbapi.connect, Path(tmp) / "chrono.db")
        plain_cursor, chrono_cursor = plain_conn.cursor(), chrono_conn.cursor()
        # Rounds alternate between the two, so a busy machine slows both alike.
        base = ours = float("inf")
        for _ in range(repeats):
            base = min(base, per_select(lookups, plain_cursor))
            ours = min(ours, per_select(lookups, chrono_cursor))
        plain_conn.close()
        chrono_conn.close()
    print(f"pk select, sqlite3 cursor:        {base * 1e6:7.2f} us")
    print(f"pk select, chronodb.dbapi cursor: {ours * 1e6:7.2f} us")
    verdict = "ok" if ours / base <= 1.3 else "over target"
    print(f"ratio: {ours / base:.2f}x (target <= 1.30x: {verdict})")


if __name__ == "__main__":
    main()
