"""ChronoDB's facade on PostgreSQL against raw psycopg on the same server, in the same run.

Cases (20,000-row tables; ChronoDB and psycopg take turns, best of several rounds), each
printed with its ratio and the target it is held to (issue 23):

    pk SELECT                  db.execute("SELECT ... WHERE id = ?") vs cursor.execute  ≤ 1.3x
    AS OF pk SELECT, depth d   AS OF TRANSACTION at a key's newest and first version, for
                               keys with 1, 10, 100 and 1,000 versions, vs the raw current
                               pk lookup                                                ≤ 3x
    JOIN + GROUP BY            items JOIN orders grouped, current                      ≤ 1.2x
    the same AS OF             AS OF TRANSACTION after the JOIN, vs the raw current one ≤ 3x
    autocommit UPDATE by pk    one versioned write, its tx id read back                ≤ 2x
    UPDATE 20k rows, one stmt  one UPDATE of every row, one transaction                 ≤ 3x
    20k UPDATEs by pk, one tx  inside db.transaction()                                  ≤ 3x
    8 concurrent writers       8 processes, a ChronoDB (or a connection) each, doing
                               autocommit UPDATEs on disjoint keys: throughput kept   ≥ 0.5x

    python benchmarks/pg_facade_bench.py [--url postgresql://postgres@127.0.0.1:5432/postgres]
        [--rounds 5] [--seconds 3]
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from chronodb import ChronoDB

ROWS = 20_000
DEPTHS = (1, 10, 100, 1_000)
WRITERS = 8
JOIN = (
    "SELECT i.qty % 10 AS bucket, count(*), sum(o.amount) FROM {items} AS i "
    "JOIN {orders} AS o ON o.item_id = i.id {clause}GROUP BY 1 ORDER BY 1"
)


@dataclass
class Case:
    """ChronoDB's run against raw psycopg's: per call (µs, lower is better) or, for
    ``throughput``, calls a second (higher is better)."""

    label: str
    ours: Callable[[], float]
    theirs: Callable[[], float]
    target: float
    throughput: bool = False


def per_call(run: Callable[[], object], n: int) -> Callable[[], float]:
    """A timing of ``n`` calls of ``run``, in µs a call."""

    def timed() -> float:
        start = time.perf_counter()
        for _ in range(n):
            run()
        return (time.perf_counter() - start) / n * 1e6

    return timed


def measure(case: Case, rounds: int) -> tuple[float, float]:
    """Each side's best over ``rounds``, taking turns so that a change in the machine's
    load falls on both."""
    pick = max if case.throughput else min
    ours, theirs = [], []
    for _ in range(rounds):
        ours.append(case.ours())
        theirs.append(case.theirs())
    return pick(ours), pick(theirs)


def _writer(args: tuple[str, bool, int, float]) -> int:
    """One writer process: autocommit UPDATEs by pk on its own block of keys for
    ``seconds``; how many it did."""
    url, versioned, index, seconds = args
    block = ROWS // WRITERS
    done = 0
    if versioned:
        with ChronoDB(url, user=f"writer{index}") as db:
            end = time.perf_counter() + seconds
            while time.perf_counter() < end:
                key = 1 + index * block + done % block
                db.execute("UPDATE items SET qty = qty + 1 WHERE id = ?", [key])
                done += 1
        return done
    with psycopg.connect(url, autocommit=True) as conn:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            key = 1 + index * block + done % block
            conn.execute("UPDATE plain SET qty = qty + 1 WHERE id = %s", (key,))
            done += 1
    return done


def writers(url: str, versioned: bool, seconds: float) -> Callable[[], float]:
    """8 writer processes' UPDATEs a second."""

    def run() -> float:
        context = multiprocessing.get_context("spawn")
        with context.Pool(WRITERS) as pool:
            pool.map(_writer, [(url, versioned, i, 0.2) for i in range(WRITERS)])  # warm up
            counts = pool.map(_writer, [(url, versioned, i, seconds) for i in range(WRITERS)])
        return sum(counts) / seconds

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    name = f"chronodb_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(args.url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    conninfo = make_conninfo(args.url, dbname=name)
    parts = conninfo_to_dict(conninfo)
    user, host = parts.get("user", "postgres"), parts.get("host", "127.0.0.1")
    url = f"postgresql://{user}@{host}:{parts.get('port', 5432)}/{name}"
    try:
        run(url, conninfo, args.rounds, args.seconds)
    finally:
        with psycopg.connect(args.url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(url: str, conninfo: str, rounds: int, seconds: float) -> None:
    fill_items = f"SELECT g, 'item ' || g, g FROM generate_series(1, {ROWS}) g"
    fill_orders = f"SELECT g, g % {ROWS} + 1, g % 97 FROM generate_series(1, {ROWS}) g"
    raw = psycopg.connect(conninfo, autocommit=True)
    raw.execute("CREATE TABLE plain (id int PRIMARY KEY, name text, qty int)")
    raw.execute("CREATE TABLE plain_orders (id int PRIMARY KEY, item_id int, amount int)")
    raw.execute(f"INSERT INTO plain {fill_items}")
    raw.execute(f"INSERT INTO plain_orders {fill_orders}")
    db = ChronoDB(url, user="bench")
    db.execute("CREATE TABLE items (id int PRIMARY KEY, name text, qty int)")
    db.execute("CREATE TABLE orders (id int PRIMARY KEY, item_id int, amount int)")
    db.execute(f"INSERT INTO items {fill_items}")
    first = db.execute(f"INSERT INTO orders {fill_orders}").tx_id
    for _ in range(3):
        db.execute("UPDATE items SET qty = qty + 1 WHERE id <= 100")
    # Keys 1.. get DEPTHS versions: per depth, (key, the id of its first and last version).
    deep: dict[int, tuple[int, int, int]] = {}
    for key, depth in enumerate(DEPTHS, start=1):
        oldest = newest = db.execute("UPDATE items SET name = 'v0' WHERE id = ?", [key]).tx_id
        for version in range(1, depth):
            newest = db.execute(
                "UPDATE items SET name = ? WHERE id = ?", [f"v{version}", key]
            ).tx_id
        deep[depth] = (key, oldest, newest)
    raw.execute("VACUUM ANALYZE")
    key = iter(range(10**9))

    def raw_pk() -> None:
        raw.execute("SELECT * FROM plain WHERE id = %s", (next(key) % ROWS + 1,)).fetchall()

    def db_pk() -> None:
        db.execute("SELECT * FROM items WHERE id = ?", [next(key) % ROWS + 1])

    def as_of_pk(row: int, point: int) -> Callable[[], object]:
        sql = "SELECT * FROM items AS OF TRANSACTION ? WHERE id = ?"
        return lambda: db.execute(sql, [point, row])

    def raw_update() -> None:
        raw.execute("UPDATE plain SET qty = qty + 1 WHERE id = %s", (next(key) % ROWS + 1,))

    def db_update() -> None:
        db.execute("UPDATE items SET qty = qty + 1 WHERE id = ?", [next(key) % ROWS + 1])

    def raw_statement() -> None:
        with raw.transaction():
            raw.execute("UPDATE plain SET qty = qty + 1")

    def db_statement() -> None:
        db.execute("UPDATE items SET qty = qty + 1")

    def raw_batch() -> None:
        with raw.transaction():
            for i in range(1, ROWS + 1):
                raw.execute("UPDATE plain SET qty = qty + 1 WHERE id = %s", (i,))

    def db_batch() -> None:
        with db.transaction():
            for i in range(1, ROWS + 1):
                db.execute("UPDATE items SET qty = qty + 1 WHERE id = ?", [i])

    raw_join = JOIN.format(items="plain", orders="plain_orders", clause="")
    db_join = JOIN.format(items="items", orders="orders", clause="")
    db_join_as_of = JOIN.format(items="items", orders="orders", clause="AS OF TRANSACTION ? ")
    cases = [Case("pk SELECT", per_call(db_pk, 500), per_call(raw_pk, 500), 1.3)]
    for depth, (row, oldest, newest) in deep.items():
        for label, point in (("newest", newest), ("first", oldest)):
            cases.append(
                Case(
                    f"AS OF pk SELECT, {depth} v., {label}",
                    per_call(as_of_pk(row, point), 300),
                    per_call(raw_pk, 300),
                    3.0,
                )
            )
    cases += [
        Case(
            "JOIN + GROUP BY",
            per_call(lambda: db.execute(db_join), 10),
            per_call(lambda: raw.execute(raw_join).fetchall(), 10),
            1.2,
        ),
        Case(
            "JOIN + GROUP BY AS OF (vs current)",
            per_call(lambda: db.execute(db_join_as_of, [first]), 10),
            per_call(lambda: raw.execute(raw_join).fetchall(), 10),
            3.0,
        ),
        Case("autocommit UPDATE by pk", per_call(db_update, 200), per_call(raw_update, 200), 2.0),
        Case(
            "UPDATE 20k rows, one statement",
            per_call(db_statement, 1),
            per_call(raw_statement, 1),
            3.0,
        ),
        Case("20k UPDATEs by pk, one tx", per_call(db_batch, 1), per_call(raw_batch, 1), 3.0),
    ]
    print(f"{'case':38} {'chronodb':>12} {'psycopg':>12} {'ratio':>7} {'target':>8}")
    for case in cases:
        ours, theirs = measure(case, rounds)
        ratio = ours / theirs
        verdict = "ok" if ratio <= case.target else "OVER"
        print(
            f"{case.label:38} {ours:10.1f}µs {theirs:10.1f}µs {ratio:6.2f}x "
            f"{'≤ ' + str(case.target) + 'x':>8} {verdict}"
        )
    db.close()
    raw.close()
    concurrent = Case(
        f"{WRITERS} concurrent writers (UPDATEs/s)",
        writers(url, True, seconds),
        writers(conninfo, False, seconds),
        0.5,
        throughput=True,
    )
    ours, theirs = measure(concurrent, max(1, rounds // 2))
    ratio = ours / theirs
    verdict = "ok" if ratio >= concurrent.target else "UNDER"
    print(
        f"{concurrent.label:38} {ours:10.0f}/s  {theirs:10.0f}/s  {ratio:6.2f}x "
        f"{'≥ ' + str(concurrent.target) + 'x':>8} {verdict}"
    )


if __name__ == "__main__":
    main()
