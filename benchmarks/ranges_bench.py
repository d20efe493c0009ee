"""Benchmark ranges of versions and changes over a range (issue 25's "Speed"), vs raw sqlite3.

The same database as ``ui_bench.py``: ``users`` with ``--keys`` rows, each updated until it
has ``--versions`` versions (1M versions by default), and ``orders``; then one more
transaction updates 50 users. Every figure is the best of ``--reps`` runs, in one run, and
set against a plain query on raw sqlite3 reading as many rows (a table ``v`` holding the
versions' columns and periods):

1. ``count(*) FROM users FOR SYSTEM_TIME ALL`` vs ``count(email)`` of ``v``. Target <= 3x.
2. The same with the periods read (``max(sys_to)``), which seeks each version's end, vs
   ``max(t)`` of ``v``.
3. ``FOR SYSTEM_TIME BETWEEN`` a point ``AND`` itself (the versions alive then), counted.
4. ``db.changes`` of the last transaction (50 changes) vs reading those 50 rows.
5. The AS OF join + GROUP BY ``ORDER BY users.id LIMIT 50`` of ``ui_bench.py``. Target <= 5x.

"Former shape" lines run, on raw sqlite3 over the same history table, the window over the
key index that computed every version's end before (``lead`` over ``PARTITION BY`` key),
so one run shows before and after.

    python benchmarks/ranges_bench.py            # 200k keys x 5 versions
    python benchmarks/ranges_bench.py --quick    # 20k x 5
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ui_bench import JOIN, JOIN_TARGET, RANGE_TARGET, plain_versions, populate

from chronodb import ChronoDB
from chronodb.layout import OP, SEQ, TX

HISTORY = '"_chrono_h1_users"'  # users is the file's first table


def best_ms(fn: Callable[[], Any], reps: int) -> float:
    fn()  # warm the caches and the rewrite cache
    best = float("inf")
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keys", type=int, default=200_000)
    parser.add_argument("--versions", type=int, default=5)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="20k keys")
    args = parser.parse_args()
    keys = 20_000 if args.quick else args.keys
    versions = keys * args.versions
    warnings.simplefilter("ignore")
    failed: list[str] = []

    def report(name: str, ours: float, base: float, target: float | None = None) -> None:
        verdict = ""
        if target is not None:
            verdict = f" (<= {target}x) " + ("ok" if ours <= base * target else "OVER")
            if ours > base * target:
                failed.append(name)
        print(f"{name}: {ours:.2f} ms vs {base:.2f} ms raw = {ours / base:.1f}x{verdict}")

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ranges.db"
        point = populate(path, keys, args.versions)
        with ChronoDB(path) as db:
            last = db.execute("UPDATE users SET name = name || '!' WHERE id <= 50")
        print(f"{keys} keys x {args.versions} versions ({versions} versions), 1 run")
        plain = Path(tmp) / "plain.db"
        plain_versions(plain, keys, versions)
        db = ChronoDB(path, read_only=True)
        raw = sqlite3.connect(path)
        flat = sqlite3.connect(plain)
        reps = args.reps

        def ours(sql: str, params: list[Any] | None = None) -> float:
            return best_ms(lambda: db.execute(sql, params).rows, reps)

        def base(conn: sqlite3.Connection, sql: str, params: Sequence[Any] = ()) -> float:
            return best_ms(lambda: conn.execute(sql, params).fetchall(), reps)

        scan = base(flat, "SELECT count(email) FROM v")
        report(
            f"count(*) FOR SYSTEM_TIME ALL, {versions} versions",
            ours("SELECT count(*) FROM users FOR SYSTEM_TIME ALL"),
            scan,
            RANGE_TARGET,
        )
        window = (
            f"SELECT count(*), max(n) FROM (SELECT *, lead({TX}) OVER (PARTITION BY id "
            f"ORDER BY {TX}, {SEQ}) AS n FROM {HISTORY}) WHERE {OP} <> 'D' AND n IS NOT {TX}"
        )
        report("  former shape (window over the key index)", base(raw, window), scan)
        report(
            "max(sys_to) FOR SYSTEM_TIME ALL (each version's end)",
            ours("SELECT count(*), max(sys_to) FROM users FOR SYSTEM_TIME ALL"),
            base(flat, "SELECT count(*), max(t) FROM v"),
        )
        report(
            "count(*) FOR SYSTEM_TIME BETWEEN t AND t (the versions alive at t)",
            ours("SELECT count(*) FROM users FOR SYSTEM_TIME BETWEEN ? AND ?", [point, point]),
            scan,
        )
        report(
            "db.changes of the last transaction (50 changes)",
            best_ms(lambda: db.changes("users", last.tx_time - 1e-6, last.tx_time), reps),
            base(raw, "SELECT * FROM users WHERE id <= 50"),
        )
        mid = keys // 2
        report(
            "AS OF join+GROUP BY, ORDER BY key LIMIT 50",
            ours(JOIN.format(a=" AS OF TIMESTAMP ?"), [point, point, mid]),
            base(raw, JOIN.format(a=""), [mid]),
            JOIN_TARGET,
        )
        db.close()
        raw.close()
        flat.close()
    print("over target: " + (", ".join(failed) if failed else "none"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
