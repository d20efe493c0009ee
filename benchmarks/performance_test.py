"""ChronoDB against raw sqlite3 on the same data, in the same run (seed 004's benchmark table).

Both sides are file databases in a temporary directory, in WAL mode with
``synchronous=NORMAL``. The data: 20,000 users, each written five times (an insert and
four updates, each round its own transaction), and two orders per user for the join.
Each figure is the best of several repetitions (the machine is shared and noisy), in
microseconds per operation; the ratio is ChronoDB / sqlite3, and the AS OF cases are
compared with sqlite3 reading the current state, the nearest thing it can do. Reads are
timed on files at rest (the load checkpointed out of the WAL on both sides).

    python benchmarks/performance_test.py            # full run, both configurations
    python benchmarks/performance_test.py --quick    # fewer operations and repetitions
    python benchmarks/performance_test.py --ledger on  # only the default configuration

Two configurations, one after the other in the same run: the engine alone
(``ledger=False``), held to the engine's targets, and the default, which also seals every
write into the audit ledger. The ledger has a budget of its own (at most 25% less write
throughput than without it), so the default's write targets are the engine's divided by
0.75; its read targets are the engine's (the ledger does not touch reads).

Versioned writes always write new values (an UPDATE that changes nothing makes no version).
The write cases run on copies of the loaded files, so that they are timed on the data
above (five versions a row), not on the deeper history the cases and runs before them
wrote: every batched run on fresh copies (a run adds four versions to every row), the
autocommit runs on one copy a side (a run adds one version to a fifth of the rows). Copies
are made and opened outside the timing. The write cases time
whole cycles of WAL work on both sides: each run is several transactions (4 of 20,000 rows,
or 4,000 autocommits), starts on an emptied WAL and ends by checkpointing what it wrote,
inside the timing. A checkpoint is where a WAL database pays for the pages it wrote (it
syncs them to disk), ChronoDB writes about four pages per autocommit where sqlite3 writes
one, and the best of short runs would leave that out.

The exit code is 0 either way: this is a report, not a test.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from wal_cycle import Timed, checkpointed

from chronodb import ChronoDB

USERS = 20_000
UPDATE_ROUNDS = 4
ORDERS_PER_USER = 2
DEPTHS = (1, 10, 100, 1_000)
BATCHES_PER_RUN = 4  # transactions of the batched UPDATE case per timed run
LEDGER_BUDGET = 0.75  # with the ledger, write throughput at least 75% of without it

SCHEMA = (
    "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, email TEXT, age INTEGER, score REAL)",
    "CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER, total REAL, status TEXT)",
    "CREATE INDEX orders_user ON orders (user_id)",
    "CREATE TABLE deep (id INTEGER PRIMARY KEY, value INTEGER)",
)
INSERT_USER = "INSERT INTO users (id, name, email, age, score) VALUES (?, ?, ?, ?, ?)"
UPDATE_USER = "UPDATE users SET score = ?, age = ? WHERE id = ?"
INSERT_ORDER = "INSERT INTO orders (id, user_id, total, status) VALUES (?, ?, ?, ?)"
PK_SELECT = "SELECT * FROM users WHERE id = ?"
PK_AS_OF = "SELECT * FROM users AS OF TIMESTAMP ? WHERE id = ?"
JOIN = (
    "SELECT users.id, users.name, COUNT(orders.id) AS n, SUM(orders.total) AS total "
    "FROM users JOIN orders ON orders.user_id = users.id "
    "WHERE users.age >= 30 GROUP BY users.id"
)
JOIN_AS_OF = (
    "SELECT users.id, users.name, COUNT(orders.id) AS n, SUM(orders.total) AS total "
    "FROM users JOIN orders ON orders.user_id = users.id AS OF TIMESTAMP ? "
    "WHERE users.age >= 30 GROUP BY users.id"
)
DEEP_AS_OF = "SELECT * FROM deep AS OF TIMESTAMP ? WHERE id = ?"


@dataclass
class Case:
    name: str
    chronodb_us: float
    sqlite_us: float
    target: float | None

    @property
    def ratio(self) -> float:
        return self.chronodb_us / self.sqlite_us

    @property
    def met(self) -> bool | None:
        return None if self.target is None else self.ratio <= self.target


def best_us(run: Callable[[], int], repeats: int) -> float:
    """The fastest of ``repeats`` runs of ``run`` (which returns its operation count), µs/op."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        count = run()
        elapsed = count.seconds if isinstance(count, Timed) else time.perf_counter() - start
        best = min(best, elapsed / count * 1e6)
    return best


def user_row(i: int, round_: int) -> tuple:
    return (i, f"user{i}", f"user{i}@example.com", 20 + (i + round_) % 50, float(round_))


def load(db: ChronoDB, raw: sqlite3.Connection) -> float:
    """The same data on both sides; returns a point in time in the middle of the updates."""
    for statement in SCHEMA:
        db.execute(statement)
        raw.execute(statement)
    users = [user_row(i, 0) for i in range(1, USERS + 1)]
    orders = [
        (n, 1 + n % USERS, float(n % 97), "shipped" if n % 3 else "new")
        for n in range(1, USERS * ORDERS_PER_USER + 1)
    ]
    middle = 0.0
    with db.transaction():
        db.executemany(INSERT_USER, users)
        db.executemany(INSERT_ORDER, orders)
    raw.execute("BEGIN")
    raw.executemany(INSERT_USER, users)
    raw.executemany(INSERT_ORDER, orders)
    raw.execute("COMMIT")
    for round_ in range(1, UPDATE_ROUNDS + 1):
        updates = [(float(round_), 20 + (i + round_) % 50, i) for i in range(1, USERS + 1)]
        with db.transaction():
            db.executemany(UPDATE_USER, updates)
        raw.execute("BEGIN")
        raw.executemany(UPDATE_USER, updates)
        raw.execute("COMMIT")
        if round_ == UPDATE_ROUNDS // 2:
            time.sleep(0.002)
            middle = time.time()
            time.sleep(0.002)
    return middle


def load_deep(db: ChronoDB) -> float:
    """Rows with 1, 10, 100 and 1,000 versions (one transaction each); returns 'now'."""
    for key, depth in enumerate(DEPTHS, start=1):
        db.execute("INSERT INTO deep (id, value) VALUES (?, 0)", [key])
        for version in range(1, depth):
            db.execute("UPDATE deep SET value = ? WHERE id = ?", [version, key])
    time.sleep(0.002)
    return time.time()


def measure(workdir: Path, quick: bool, ledger: bool) -> list[Case]:
    repeats = 3 if quick else 11
    lookups = 1_000 if quick else 4_000
    batch = 2_000 if quick else USERS
    autocommits = 600 if quick else 4_000

    db = ChronoDB(workdir / "chrono.db", durability="normal", ledger=ledger)
    raw = sqlite3.connect(workdir / "raw.db", isolation_level=None)
    raw.execute("PRAGMA journal_mode=WAL")
    raw.execute("PRAGMA synchronous=NORMAL")
    middle = load(db, raw)
    now = load_deep(db)
    # Reads are timed on files at rest: the load's pages moved from the WAL into the file on
    # both sides. Otherwise where each side's last automatic checkpoint happened to fall
    # decides how many pages a read finds through the WAL's index (ChronoDB checkpoints
    # every 10,000 pages, sqlite3 every 1,000).
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    rng = random.Random(4)
    ids = [rng.randint(1, USERS) for _ in range(lookups)]
    cases: list[Case] = []

    def add(
        name: str,
        ours: Callable[[], int],
        theirs: Callable[[], int],
        target: float | None,
        times: int = repeats,
    ) -> None:
        ours()  # warm caches (statement plans, pages) on both sides before timing
        theirs()
        # The two sides take turns, so a busy moment on this shared machine hits both.
        best_ours = best_theirs = float("inf")
        for _ in range(times):
            best_ours = min(best_ours, best_us(ours, 1))
            best_theirs = min(best_theirs, best_us(theirs, 1))
        # Each case against the baseline timed beside it: a busy spell of the shared machine
        # during one case then slows both sides, instead of only ours against a baseline
        # taken in a quiet moment of another case.
        cases.append(Case(name, best_ours, best_theirs, target))

    def db_pk() -> int:
        for i in ids:
            db.execute(PK_SELECT, [i])
        return len(ids)

    def raw_pk() -> int:
        for i in ids:
            raw.execute(PK_SELECT, (i,)).fetchall()
        return len(ids)

    def db_pk_as_of() -> int:
        for i in ids:
            db.execute(PK_AS_OF, [middle, i])
        return len(ids)

    def db_join() -> int:
        db.execute(JOIN)
        return 1

    def raw_join() -> int:
        raw.execute(JOIN).fetchall()
        return 1

    def db_join_as_of() -> int:
        db.execute(JOIN_AS_OF, [middle])
        return 1

    # Every run writes values no earlier run wrote: an UPDATE that changes nothing makes no
    # version (and no transaction), so repeating one list would time no-op writes.
    runs = iter(range(1, 10**9))

    def batch_rows() -> list[tuple]:
        score = 1_000.0 + next(runs)
        return [(score, 20 + rng.randint(0, 49), i) for i in range(1, batch + 1)]

    def single_rows() -> list[tuple]:
        score = 1_000.0 + next(runs)
        return [(score, 30, ids[n % len(ids)]) for n in range(autocommits)]

    def fresh_db(case: str = "batch") -> ChronoDB:
        path = copy(db.connection, f"{case}-chrono")
        return ChronoDB(path, durability="normal", ledger=ledger)

    def fresh_raw(case: str = "batch") -> sqlite3.Connection:
        plain = sqlite3.connect(copy(raw, f"{case}-raw"), isolation_level=None)
        plain.execute("PRAGMA journal_mode=WAL")
        plain.execute("PRAGMA synchronous=NORMAL")
        return plain

    def copy(source: sqlite3.Connection, name: str) -> Path:
        """A copy of the loaded file (SQLite's backup keeps its pages as they are)."""
        path = workdir / f"{name}.db"
        for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            stale.unlink(missing_ok=True)
        with closing(sqlite3.connect(path)) as target:
            source.backup(target)
        return path

    def on_copy(
        open_copy: Callable[[], ChronoDB | sqlite3.Connection],
        work: Callable[[ChronoDB | sqlite3.Connection], Callable[[], int]],
    ) -> Callable[[], int]:
        """A timed run of ``work`` on a fresh copy: the copy and its opening are not timed.

        For the batched case: a run adds four versions to every row, so on one file each run
        would be timed on a history the runs before it had nearly doubled.
        """

        def run() -> int:
            target = open_copy()
            try:
                return checkpointed(target.execute, work(target))
            finally:
                target.close()

        return run

    def batches(target: ChronoDB | sqlite3.Connection) -> Callable[[], int]:
        rounds = [batch_rows() for _ in range(BATCHES_PER_RUN)]
        transaction = db_tx if isinstance(target, ChronoDB) else raw_tx

        def work() -> int:
            for updates in rounds:
                transaction(target, updates)
            return sum(len(updates) for updates in rounds)

        return work

    def db_tx(target: ChronoDB, updates: list[tuple]) -> None:
        with target.transaction():
            target.executemany(UPDATE_USER, updates)

    def raw_tx(target: sqlite3.Connection, updates: list[tuple]) -> None:
        target.execute("BEGIN")
        target.executemany(UPDATE_USER, updates)
        target.execute("COMMIT")

    def singles(target: ChronoDB | sqlite3.Connection) -> Callable[[], int]:
        rows = single_rows()

        def work() -> int:
            for row in rows:
                target.execute(UPDATE_USER, row)
            return len(rows)

        return work

    add("pk SELECT", db_pk, raw_pk, 1.5)
    add("pk SELECT AS OF (vs current)", db_pk_as_of, raw_pk, 2.5)
    # one statement per run: more runs, so that the best one is not a noisy one
    add("JOIN + GROUP BY", db_join, raw_join, 1.2, times=3 * repeats)
    add("JOIN + GROUP BY AS OF (vs current)", db_join_as_of, raw_join, 3.0, times=3 * repeats)
    write_budget = LEDGER_BUDGET if ledger else 1.0
    # A write run is a few tenths of a second (several transactions, checkpoints included),
    # as many runs as the reads get: the noise of this shared machine's disk is the widest.
    writes = repeats
    add(
        f"UPDATE {batch:,} rows in one tx",
        on_copy(fresh_db, batches),
        on_copy(fresh_raw, batches),
        4.0 / write_budget,
        writes,
    )
    # One copy a side for all autocommit runs: a run adds a version to a fifth of the rows,
    # and the connection's page cache stays warm, as in a long-running application.
    single_db, single_raw = fresh_db("autocommit"), fresh_raw("autocommit")
    add(
        "autocommit UPDATE by pk",
        lambda: checkpointed(single_db.execute, singles(single_db)),
        lambda: checkpointed(single_raw.execute, singles(single_raw)),
        3.0 / write_budget,
        writes,
    )

    depth_us = {}
    for key, depth in enumerate(DEPTHS, start=1):

        def deep(key: int = key) -> int:
            for _ in range(lookups // 4):
                db.execute(DEEP_AS_OF, [now, key])
            return lookups // 4

        deep()
        depth_us[depth] = deep
    runs = dict(depth_us)
    depth_us = {depth: float("inf") for depth in runs}
    for _ in range(repeats):  # depths take turns too
        for depth, run in runs.items():
            depth_us[depth] = min(depth_us[depth], best_us(run, 1))
    print("AS OF pk latency by history depth (µs):")
    for depth, us in depth_us.items():
        print(f"  {depth:>5} versions  {us:8.2f}  ({us / depth_us[DEPTHS[0]]:.2f}x depth 1)")
    print()
    cases.append(
        Case(f"AS OF depth {DEPTHS[-1]:,} vs 1", depth_us[DEPTHS[-1]], depth_us[DEPTHS[0]], 1.5)
    )
    for connection in (db, raw, single_db, single_raw):
        connection.close()
    return cases


def report(cases: list[Case]) -> list[str]:
    header = f"{'case':<36} {'chronodb':>12} {'sqlite3':>12} {'ratio':>7} {'target':>7}  met"
    print(header)
    print("-" * len(header))
    misses = []
    for c in cases:
        target = f"{c.target:.1f}x" if c.target is not None else "-"
        met = {True: "yes", False: "NO", None: "-"}[c.met]
        print(
            f"{c.name:<36} {c.chronodb_us:>10.2f}µs {c.sqlite_us:>10.2f}µs "
            f"{c.ratio:>6.2f}x {target:>7}  {met}"
        )
        if c.met is False:
            misses.append(f"{c.name}: {c.ratio:.2f}x > {c.target:.1f}x")
    print()
    if misses:
        print("MISSED TARGETS:")
        for miss in misses:
            print(f"  {miss}")
    else:
        print("ALL TARGETS MET")
    return misses


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smaller, faster run")
    parser.add_argument(
        "--ledger",
        choices=("off", "on", "both"),
        default="both",
        help="off: the engine alone; on: the default, with the audit ledger; both (default)",
    )
    args = parser.parse_args(argv)
    configs = {"off": [False], "on": [True], "both": [False, True]}[args.ledger]
    started = time.perf_counter()
    results: dict[bool, list[Case]] = {}
    with tempfile.TemporaryDirectory(prefix="chronodb-bench-") as tmp:
        for ledger in configs:
            title = (
                "ChronoDB with the audit ledger (the default); write targets / "
                f"{LEDGER_BUDGET} (the ledger's budget)"
                if ledger
                else "ChronoDB engine (ledger=False), engine targets"
            )
            print(f"== {title}")
            workdir = Path(tmp) / ("ledger" if ledger else "engine")
            workdir.mkdir()
            results[ledger] = measure(workdir, args.quick, ledger)
            report(results[ledger])
            print()
    if len(results) == 2:
        # From the ratios, not the raw times: each configuration is timed against the sqlite3
        # baseline measured beside it, so a busy spell on this shared machine during one
        # configuration's run does not count as the ledger's cost (or saving).
        print(
            "The ledger's cost on writes, from the two configurations' ratios (its budget, at\n"
            "most 25% less throughput, is measured by audit_bench.py, which times ledger on and\n"
            "off side by side rather than each against sqlite3 minutes apart):"
        )
        for off, on in zip(results[False], results[True], strict=True):
            if "UPDATE" in off.name:
                drop = 1 - off.ratio / on.ratio
                print(f"  {off.name:<34} {drop:6.1%} less throughput")
    print(f"({time.perf_counter() - started:.1f} s, sqlite {sqlite3.sqlite_version})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
