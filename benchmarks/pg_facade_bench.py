"""ChronoDB's facade on PostgreSQL against raw psycopg on the same server, in the same run.

Cases (a 2,000-row table, best of several repetitions, µs per call):

    pk SELECT                 db.execute("SELECT ... WHERE id = ?") vs cursor.execute
    AS OF pk SELECT           db.execute("... AS OF TRANSACTION ? WHERE id = ?") vs the
                              raw current pk lookup
    autocommit UPDATE by pk   one versioned write, its tx id read back, vs a raw autocommit
                              UPDATE of an unversioned copy
    UPDATE every row, one tx  2,000 UPDATEs by pk inside db.transaction() vs raw

    python benchmarks/pg_facade_bench.py [--url postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections.abc import Callable

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from chronodb import ChronoDB

ROWS = 2_000


def best(run: Callable[[], None], n: int, repeat: int = 5) -> float:
    """The best of ``repeat`` timings of ``n`` calls, in µs per call."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(n):
            run()
        times.append((time.perf_counter() - start) / n * 1e6)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    name = f"chronodb_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(args.url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    conninfo = make_conninfo(args.url, dbname=name)
    parts = conninfo_to_dict(conninfo)
    user, host = parts.get("user", "postgres"), parts.get("host", "127.0.0.1")
    url = f"postgresql://{user}@{host}:{parts.get('port', 5432)}/{name}"
    try:
        raw = psycopg.connect(conninfo, autocommit=True)
        raw.execute("CREATE TABLE plain (id int PRIMARY KEY, name text, qty int)")
        raw.execute(
            "INSERT INTO plain SELECT g, 'item ' || g, g FROM generate_series(1, %s) g", (ROWS,)
        )
        db = ChronoDB(url, user="bench")
        db.execute("CREATE TABLE items (id int PRIMARY KEY, name text, qty int)")
        first = db.execute(
            "INSERT INTO items SELECT g, 'item ' || g, g FROM generate_series(1, ?) g", [ROWS]
        )
        for _ in range(3):
            db.execute("UPDATE items SET qty = qty + 1 WHERE id <= 100")
        key = iter(range(10**9))

        def raw_pk() -> None:
            raw.execute("SELECT * FROM plain WHERE id = %s", (next(key) % ROWS + 1,)).fetchall()

        def db_pk() -> None:
            db.execute("SELECT * FROM items WHERE id = ?", [next(key) % ROWS + 1])

        def db_as_of() -> None:
            db.execute(
                "SELECT * FROM items AS OF TRANSACTION ? WHERE id = ?",
                [first.tx_id, next(key) % 100 + 1],
            )

        def raw_update() -> None:
            raw.execute("UPDATE plain SET qty = qty + 1 WHERE id = %s", (next(key) % ROWS + 1,))

        def db_update() -> None:
            db.execute("UPDATE items SET qty = qty + 1 WHERE id = ?", [next(key) % ROWS + 1])

        def raw_batch() -> None:
            with raw.transaction():
                for i in range(1, ROWS + 1):
                    raw.execute("UPDATE plain SET qty = qty + 1 WHERE id = %s", (i,))

        def db_batch() -> None:
            with db.transaction():
                for i in range(1, ROWS + 1):
                    db.execute("UPDATE items SET qty = qty + 1 WHERE id = ?", [i])

        cases = [
            ("pk SELECT", db_pk, raw_pk, 500),
            ("AS OF pk SELECT (vs current)", db_as_of, raw_pk, 300),
            ("autocommit UPDATE by pk", db_update, raw_update, 200),
            ("UPDATE every row, one tx", db_batch, raw_batch, 1),
        ]
        print(f"{'case':34} {'chronodb':>12} {'psycopg':>12} {'ratio':>7}")
        for label, ours, theirs, n in cases:
            a, b = best(ours, n), best(theirs, n)
            print(f"{label:34} {a:10.1f}µs {b:10.1f}µs {a / b:6.2f}x")
        db.close()
        raw.close()
    finally:
        with psycopg.connect(args.url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
