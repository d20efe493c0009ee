"""Benchmark ranges of versions and changes over a range (issue 25's "Speed"), vs raw sqlite3.

The same database as ``ui_bench.py``: ``users`` with ``--keys`` rows, each updated until it
has ``--versions`` versions (1M versions by default), and ``orders``; then one more
transaction updates 50 users. Every figure is the best of ``--reps`` runs, in one run, and
set against a plain query on raw sqlite3 reading as many rows (a table ``v`` holding the
versions' columns and periods):

1. ``count(*) FROM users FOR SYSTEM_TIME ALL`` vs ``count(email)`` of ``v``. Target <= 3x.
2. The same with the periods read (``max(sys_to)``), which seeks each version's end, vs
   ``max(t)`` of ``v``.
3. ``FOR SYSTEM_TIME BETWEEN`` a point ``AND`` itself (the versions alive then), and
   ``FROM`` the point ``TO`` the last transaction, counted (each filters on the versions'
   ends), vs ``count(email)`` of ``v``. Target <= 3x.
4. ``db.changes`` of the last transaction (50 changes) vs reading those 50 rows.
5. The AS OF join + GROUP BY ``ORDER BY users.id LIMIT 50`` of ``ui_bench.py``. Target <= 5x.

"Former shape" lines run, on raw sqlite3 over the same history table, the SQL that read
before: for ``ALL``, the window over the key index that computed every version's end
(``lead`` over ``PARTITION BY`` key); for a period, every version with its end sought
(``snapshots.versions`` filtered by ``snapshots.range_condition``). So one run shows before
and after. Each figure is the best of ``--reps`` runs, taken in turns with its baseline's,
the median in brackets; ratios are of the bests.

    python benchmarks/ranges_bench.py            # 200k keys x 5 versions
    python benchmarks/ranges_bench.py --quick    # 20k x 5
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from ui_bench import JOIN, JOIN_TARGET, RANGE_TARGET, plain_versions, populate

from chronodb import ChronoDB
from chronodb.layout import OP, SEQ, TX
from chronodb.sql import snapshots
from chronodb.versioning.catalog import Catalog

HISTORY = '"_chrono_h1_users"'  # users is the file's first table


class Timing(NamedTuple):
    """Runs of one statement (ms): the best and the median."""

    best: float
    median: float


def timed(a: Callable[[], Any], b: Callable[[], Any], reps: int) -> tuple[Timing, Timing]:
    """``reps`` runs of ``a`` and of ``b`` in turns, after one of each that warms the caches
    and the rewrite cache: on a shared machine both see the same load."""
    a(), b()
    samples: tuple[list[float], list[float]] = ([], [])
    for _ in range(reps):
        for fn, out in zip((a, b), samples, strict=True):
            start = time.perf_counter()
            fn()
            out.append((time.perf_counter() - start) * 1000)
    return Timing(min(samples[0]), statistics.median(samples[0])), Timing(
        min(samples[1]), statistics.median(samples[1])
    )


def former_period(path: Path, kind: str) -> str:
    """The SQL a period of ``users`` read as before ``snapshots.period``: every version, each
    one's end sought, then filtered (bounds ``?1``, ``?2`` in microseconds)."""
    conn = sqlite3.connect(path)
    catalog = Catalog()
    catalog.load(conn)
    conn.close()
    sv = catalog.latest("users")
    assert sv is not None
    condition = snapshots.range_condition(kind, "?1", "?2")
    return f"SELECT count(*) FROM ({snapshots.versions(sv, condition, epoch=catalog.epoch)})"


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

    def report(
        name: str,
        ours_fn: Callable[[], Any],
        base_fn: Callable[[], Any],
        target: float | None = None,
    ) -> None:
        ours, base = timed(ours_fn, base_fn, args.reps)
        ratio = ours.best / base.best
        verdict = ""
        if target is not None:
            verdict = f" (<= {target}x) " + ("ok" if ratio <= target else "OVER")
            if ratio > target:
                failed.append(name)
        print(
            f"{name}: {ours.best:.2f} [{ours.median:.2f}] ms vs {base.best:.2f} "
            f"[{base.median:.2f}] ms raw = {ratio:.2f}x{verdict}"
        )

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

        def ours(sql: str, params: list[Any] | None = None) -> Callable[[], Any]:
            return lambda: db.execute(sql, params).rows

        def base(
            conn: sqlite3.Connection, sql: str, params: Sequence[Any] = ()
        ) -> Callable[[], Any]:
            return lambda: conn.execute(sql, params).fetchall()

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
        at, end = round(point * 1e6), round(last.tx_time * 1e6)
        for name, sql, bounds, kind in [
            (
                "BETWEEN t AND t (the versions alive at t)",
                "BETWEEN ? AND ?",
                [point] * 2,
                "BETWEEN",
            ),
            ("FROM t TO the last transaction", "FROM ? TO ?", [point, last.tx_time], "FROM"),
        ]:
            report(
                f"count(*) FOR SYSTEM_TIME {name}",
                ours(f"SELECT count(*) FROM users FOR SYSTEM_TIME {sql}", bounds),
                scan,
                RANGE_TARGET,
            )
            former_sql, former_bounds = (
                former_period(path, kind),
                [at, at if kind == "BETWEEN" else end],
            )
            same = db.execute(f"SELECT count(*) FROM users FOR SYSTEM_TIME {sql}", bounds).scalar()
            assert same == raw.execute(former_sql, former_bounds).fetchone()[0], name
            former = base(raw, former_sql, former_bounds)
            report("  former shape (every version's end sought)", former, scan)
        report(
            "db.changes of the last transaction (50 changes)",
            lambda: db.changes("users", last.tx_time - 1e-6, last.tx_time),
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
