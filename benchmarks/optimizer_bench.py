"""The learned optimizer, measured (issue 6).

1. A workload with missing indexes over 200,000 rows: run it while the optimizer learns,
   apply its recommendations (each verified, kept only if it helped), run it again.
   Target: at least 10x faster end to end.
2. The same workload on a database that is already well indexed: nothing kept that changes
   its time by more than 5%.
3. The cost model's error (MAPE on held-out measurements) and the capture overhead on a
   primary-key SELECT (target: at most 5%).

With ``--postgresql URL`` the same runs go to fresh databases made on that server (and
dropped afterwards), filled by the server itself; what-if indexes use hypopg if the server
has it (the benchmark creates the extension), and kept indexes are built CONCURRENTLY.

    python benchmarks/optimizer_bench.py [--rows 200000] [--statements 400]
    python benchmarks/optimizer_bench.py --postgresql postgresql://postgres@127.0.0.1/postgres
"""

from __future__ import annotations

import argparse
import random
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from chronodb import ChronoDB

CATEGORIES = [f"cat{i}" for i in range(500)]
STATUSES = ["new", "paid", "shipped", "delivered", "returned"]
INDEXES = (
    "CREATE INDEX p_sku ON products (sku)",
    "CREATE INDEX p_cat_price ON products (category, price)",
    "CREATE INDEX o_customer_status ON orders (customer_id, status)",
)


SERVER: str | None = None  # --postgresql: the server's URL
_MADE: list[str] = []  # databases made on it, dropped at the end


def _fresh_url() -> str:
    """A new database on the server, for one build."""
    import psycopg

    assert SERVER is not None
    name = f"chronodb_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(SERVER, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    _MADE.append(name)
    return urlsplit(SERVER)._replace(path="/" + name).geturl()


@contextmanager
def dropping_databases() -> Iterator[None]:
    try:
        yield
    finally:
        if _MADE:
            import psycopg

            with psycopg.connect(SERVER, autocommit=True) as admin:
                for name in _MADE:
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def build_pg(rows: int, indexed: bool) -> ChronoDB:
    """The same tables on the server, filled there (random values from a fixed seed)."""
    url = _fresh_url()
    db = ChronoDB(url, ml_optimizer={"enabled": False})
    db.execute("CREATE EXTENSION IF NOT EXISTS hypopg")
    db.execute(
        "CREATE TABLE products (id INTEGER PRIMARY KEY, category TEXT, price REAL, sku TEXT)"
    )
    db.execute(
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, product_id INTEGER, customer_id INTEGER, "
        "status TEXT)"
    )
    db.execute("SELECT setseed(0.42)")
    db.execute(
        "INSERT INTO products SELECT g, 'cat' || floor(random() * ?)::int, "
        "round((random() * 1000)::numeric, 2)::real, 'SKU-' || (g - 1) "
        "FROM generate_series(1, ?) AS g",
        (len(CATEGORIES), rows),
    )
    db.execute(
        "INSERT INTO orders SELECT g, 1 + floor(random() * (? - 1))::int, "
        "floor(random() * ?)::int, (?::text[])[1 + floor(random() * ?)::int] "
        "FROM generate_series(1, ?) AS g",
        (rows, rows // 10, STATUSES, len(STATUSES), rows),
    )
    if indexed:
        for ddl in INDEXES:
            db.execute(ddl)
    db.execute("VACUUM ANALYZE")
    db.close()
    # Opened again: the optimizer learns from the workload, not from the filling.
    return ChronoDB(url, ml_optimizer={"training_interval": 200})


def build(rows: int, indexed: bool) -> ChronoDB:
    if SERVER is not None:
        return build_pg(rows, indexed)
    rnd = random.Random(42)
    db = ChronoDB(":memory:", ml_optimizer={"training_interval": 200})
    db.execute(
        "CREATE TABLE products (id INTEGER PRIMARY KEY, category TEXT, price REAL, sku TEXT)"
    )
    db.execute(
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, product_id INTEGER, customer_id INTEGER, "
        "status TEXT)"
    )
    db.executemany(
        "INSERT INTO products (category, price, sku) VALUES (?, ?, ?)",
        [(rnd.choice(CATEGORIES), round(rnd.random() * 1000, 2), f"SKU-{i}") for i in range(rows)],
    )
    db.executemany(
        "INSERT INTO orders (product_id, customer_id, status) VALUES (?, ?, ?)",
        [
            (rnd.randrange(1, rows), rnd.randrange(rows // 10), rnd.choice(STATUSES))
            for _ in range(rows)
        ],
    )
    if indexed:
        for ddl in INDEXES:
            db.execute(ddl)
    return db


def workload(rows: int, statements: int, seed: int) -> list[tuple[str, tuple]]:
    rnd = random.Random(seed)
    out: list[tuple[str, tuple]] = []
    for i in range(statements):
        kind = i % 4
        if kind == 0:
            out.append(("SELECT * FROM products WHERE sku = ?", (f"SKU-{rnd.randrange(rows)}",)))
        elif kind == 1:
            out.append(
                (
                    "SELECT id, price FROM products WHERE category = ? AND price > ? "
                    "ORDER BY price LIMIT 20",
                    (rnd.choice(CATEGORIES), rnd.random() * 900),
                )
            )
        elif kind == 2:
            out.append(
                (
                    "SELECT count(*) FROM orders WHERE customer_id = ? AND status = ?",
                    (rnd.randrange(rows // 10), rnd.choice(STATUSES)),
                )
            )
        else:
            out.append(("SELECT * FROM products WHERE id = ?", (rnd.randrange(1, rows),)))
    return out


def run(db: ChronoDB, statements: list[tuple[str, tuple]]) -> float:
    start = time.perf_counter()
    for sql, params in statements:
        db.execute(sql, params).fetchall()
    return time.perf_counter() - start


def report_outcomes(outcomes: list[dict]) -> None:
    for o in outcomes:
        state = "kept" if o["kept"] else "reverted"
        print(f"    {state:8} {o['index']}: {o['reason']}")


def missing_indexes(rows: int, statements: int) -> float:
    print(f"1. Missing indexes, {rows:,} rows per table, {statements} statements per run")
    db = build(rows, indexed=False)
    before = run(db, workload(rows, statements, seed=1))
    print(f"    learning run (no indexes):       {before:8.3f} s")
    recs = db.ml_optimizer.recommendations()
    for r in recs:
        calls = sum(s["calls"] for s in r.statements)
        print(
            f"    recommended ({r.source}): {r.sql}  [{calls} calls, "
            f"predicted gain {r.predicted_gain_ms:.1f} ms, write cost {r.write_cost_ms:.1f} ms]"
        )
    t = time.perf_counter()
    outcomes = db.ml_optimizer.apply_recommendations(recs)
    print(f"    applying and verifying took {time.perf_counter() - t:.2f} s")
    report_outcomes(outcomes)
    after = run(db, workload(rows, statements, seed=2))
    speedup = before / after
    print(f"    same workload after applying:    {after:8.3f} s")
    print(
        f"    end-to-end speedup: {speedup:.1f}x  (target >= 10x: "
        f"{'met' if speedup >= 10 else 'NOT met'})"
    )
    metrics = db.ml_optimizer.get_performance_metrics()
    mape = metrics["model"]["mape"]
    print(
        f"    cost model: {metrics['model']['trainings']} trainings on "
        f"{metrics['model']['trained_on']} samples, "
        f"error (MAPE, held out) {'-' if mape is None else f'{mape * 100:.1f}%'}"
    )
    print()
    print(db.ml_optimizer.generate_training_report())
    db.close()
    return speedup


def well_indexed(rows: int, statements: int) -> None:
    print(f"\n2. Already well indexed, {rows:,} rows per table")
    db = build(rows, indexed=True)
    plan = workload(rows, statements, seed=3)
    run(db, plan)  # learn
    outcomes = db.ml_optimizer.apply_recommendations()
    kept = [o for o in outcomes if o["kept"]]
    print(f"    recommendations tried: {len(outcomes)}, kept: {len(kept)}")
    report_outcomes(outcomes)
    before = after = float("inf")
    twin = build(rows, indexed=True)  # the same database, untouched by the optimizer
    for _ in range(5):  # interleaved, best of five
        before = min(before, run(twin, plan))
        after = min(after, run(db, plan))
    change = (after / before - 1) * 100
    print(
        f"    workload time untouched / after: {before:.4f} s / {after:.4f} s "
        f"({change:+.1f}%; kept changes: {len(kept)})"
    )
    db.close()
    twin.close()


def capture_overhead() -> None:
    print("\n3. Capture cost on a primary-key SELECT")
    dbs = []
    for options in ({"enabled": False}, {}):
        db = ChronoDB(_fresh_url() if SERVER else ":memory:", ml_optimizer=options)
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        db.executemany("INSERT INTO t VALUES (?, ?)", [(i, str(i)) for i in range(1000)])
        dbs.append(db)

    def timed(db: ChronoDB) -> Callable[[], float]:
        def go() -> float:
            start = time.perf_counter()
            for i in range(20_000):
                db.execute("SELECT * FROM t WHERE id = ?", (i % 1000,))
            return (time.perf_counter() - start) / 20_000

        return go

    runs = [timed(db) for db in dbs]
    for r in runs:
        r()  # warm up
    best = [float("inf")] * 2
    for _ in range(15):
        for i, r in enumerate(runs):
            best[i] = min(best[i], r())
    off, on = best
    print(
        f"    disabled {off * 1e6:.3f} us/statement, enabled {on * 1e6:.3f} us/statement: "
        f"{(on / off - 1) * 100:+.1f}% (target <= 5%)"
    )
    for db in dbs:
        db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--statements", type=int, default=400)
    parser.add_argument("--postgresql", metavar="URL", help="run on this PostgreSQL server")
    args = parser.parse_args()
    global SERVER
    SERVER = args.postgresql
    print(f"Backend: {'PostgreSQL' if SERVER else 'SQLite'}\n")
    with dropping_databases():
        missing_indexes(args.rows, args.statements)
        well_indexed(args.rows, args.statements)
        capture_overhead()


if __name__ == "__main__":
    main()
