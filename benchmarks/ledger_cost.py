"""The audit ledger's cost on writes, per table shape: ledger on vs off in one process.

For each shape a file with the ledger (the default) and one without (``ledger=False``) get
the same rows; then autocommit UPDATEs by primary key, and batched UPDATEs (every row, one
transaction, ``executemany``), run on both, taking turns within each repetition so a busy
moment on the shared machine hits both sides alike. Each run counts the WAL checkpoint of
what it wrote (``wal_cycle.checkpointed``). The figure is the best of several repetitions;
the ledger's cost is the throughput it loses: ``1 - on / off``, budget 25%.

    python benchmarks/ledger_cost.py            # full size
    python benchmarks/ledger_cost.py --quick    # smaller, for a smoke run
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from wal_cycle import checkpointed

from chronodb import ChronoDB

BUDGET = 25.0


@dataclass(frozen=True)
class Shape:
    name: str
    create: str
    insert: str
    row: Callable[[int], tuple]
    update: str  # parameters: the new values, then the id
    values: Callable[[int, int], tuple]  # (run number, id) -> the new values


SHAPES = (
    Shape(
        "3 columns (audit_bench)",
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER, name TEXT)",
        "INSERT INTO t VALUES (?, ?, ?)",
        lambda i: (i, 0, "row"),
        "UPDATE t SET v = ? WHERE id = ?",
        lambda n, i: (n,),
    ),
    Shape(
        "users, 5 columns (performance_test)",
        "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, email TEXT, age INTEGER, score REAL)",
        "INSERT INTO t VALUES (?, ?, ?, ?, ?)",
        lambda i: (i, f"user{i}", f"user{i}@example.com", 20 + i % 50, i * 0.5),
        "UPDATE t SET score = ?, age = ? WHERE id = ?",
        lambda n, i: (n * 1.25 + i, 20 + (n + i) % 60),
    ),
    Shape(
        "10 columns with text",
        "CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b TEXT, c TEXT, d TEXT, "
        "e INTEGER, f INTEGER, g REAL, h TEXT, k INTEGER)",
        "INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        lambda i: (
            i,
            f"alpha {i}",
            "lorem ipsum dolor sit amet " * 2,
            f"c{i % 97}",
            None,
            i,
            i % 7,
            i / 3,
            "x" * 40,
            -i,
        ),
        "UPDATE t SET e = ?, h = ? WHERE id = ?",
        lambda n, i: (n + i, f"updated {n} {i}"),
    ),
)


def _open(tmp: Path, shape: Shape, index: int, ledger: bool, rows: int) -> ChronoDB:
    db = ChronoDB(tmp / f"shape{index}-{ledger}.db", ledger=ledger)
    db.execute(shape.create)
    db.executemany(shape.insert, [shape.row(i) for i in range(rows)])
    return db


def measure(
    tmp: Path, index: int, shape: Shape, rows: int, autocommits: int, reps: int
) -> dict[tuple[bool, str], float]:
    """Updates/s for ledger off/on x autocommit/batched on one shape, best of ``reps``."""
    dbs = {ledger: _open(tmp, shape, index, ledger, rows) for ledger in (False, True)}
    counter = iter(range(1, 10**9))
    rng = random.Random(index)
    ids = [rng.randrange(rows) for _ in range(autocommits)]

    def autocommit(db: ChronoDB) -> float:
        n = next(counter)
        work_rows = [(*shape.values(n, i), i) for i in ids]

        def work() -> int:
            for params in work_rows:
                db.execute(shape.update, params)
            return len(work_rows)

        done = checkpointed(db.execute, work)
        return done / done.seconds

    def batched(db: ChronoDB) -> float:
        n = next(counter)
        work_rows = [(*shape.values(n, i), i) for i in range(rows)]

        def work() -> int:
            db.executemany(shape.update, work_rows)
            return rows

        done = checkpointed(db.execute, work)
        return done / done.seconds

    best: dict[tuple[bool, str], float] = {}
    for rep in range(reps):
        for kind, run in (("autocommit", autocommit), ("batched", batched)):
            order = (False, True) if rep % 2 == 0 else (True, False)
            for ledger in order:
                rate = run(dbs[ledger])
                best[(ledger, kind)] = max(best.get((ledger, kind), 0.0), rate)
    for db in dbs.values():
        db.close()
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument("--reps", type=int, help="repetitions (best of)")
    args = parser.parse_args(argv)
    rows, autocommits, reps = (2_000, 500, 3) if args.quick else (20_000, 4_000, 7)
    reps = args.reps or reps
    met = True
    print(
        f"Ledger cost per table shape (1 - on/off throughput; best of {reps}; budget {BUDGET:.0f}%)"
    )
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for index, shape in enumerate(SHAPES):
            rates = measure(tmp, index, shape, rows, autocommits, reps)
            print(f"  {shape.name}, {rows:,} rows")
            for kind, what in (
                ("autocommit", f"{autocommits:,} single UPDATEs by pk"),
                ("batched", f"{rows:,} UPDATEs in one tx"),
            ):
                off, on = rates[(False, kind)], rates[(True, kind)]
                cost = (1 - on / off) * 100
                met &= cost <= BUDGET
                print(
                    f"    {kind:10s} off {off:>9,.0f}/s  on {on:>9,.0f}/s  "
                    f"ledger cost {cost:5.1f}%  ({what})"
                )
    print("  budget met on every shape" if met else "  budget MISSED on some shape")
    return 0


if __name__ == "__main__":
    sys.exit(main())
