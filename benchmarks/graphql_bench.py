"""Benchmark a nested GraphQL query against the equivalent hand-written SQL, same data, same run.

    query { users(limit: 100) { id name email orders { id total status } } }

versus two statements through the same ChronoDB (the users, then their orders with
``user_id IN (...)``; on PostgreSQL ``user_id = ANY(?)``), grouped into the same nested
result. Both sides end with the result
encoded as JSON, as a server would send it. The GraphQL side runs through
``GraphQLService.run`` (the schema check, cached parse/validation, execution, one statement
per nesting level), without HTTP. Issue 5's target: at most 3x the hand-written SQL.

    python benchmarks/graphql_bench.py                       # 100 users, 5 orders each
    python benchmarks/graphql_bench.py --users 100 --orders 20 --asof
    python benchmarks/graphql_bench.py --asof --postgresql postgresql://postgres@127.0.0.1/postgres
                                                             # on a fresh PostgreSQL database
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pgdatabase import fresh_database

from chronodb import ChronoDB
from chronodb.server.graphql.service import GraphQLService

TARGET_RATIO = 3.0
QUERY = "query { users(limit: %d) { id name email orders { id total status } } }"
QUERY_ASOF = (
    "query($tx: BigInt) { users(limit: %d, asOfTransaction: $tx) "
    "{ id name email orders { id total status } } }"
)


def populate(db: ChronoDB, users: int, orders: int) -> int:
    db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, email TEXT)")
    db.execute(
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users(id), "
        "total REAL, status TEXT)"
    )
    db.execute("CREATE INDEX orders_user ON orders(user_id)")
    db.executemany(
        "INSERT INTO users VALUES (?, ?, ?)",
        [(i, f"user {i}", f"user{i}@example.com") for i in range(1, users + 1)],
    )
    result = db.executemany(
        "INSERT INTO orders VALUES (?, ?, ?, ?)",
        [
            (u * orders + k, u, round(10 + k * 1.5, 2), ("new", "paid", "shipped")[k % 3])
            for u in range(1, users + 1)
            for k in range(orders)
        ],
    )
    tx = result.tx_id
    # Later changes, so that the AS OF variant has history to look through.
    db.execute("UPDATE orders SET status = 'archived' WHERE id % 7 = 0")
    return tx


def hand_written(db: ChronoDB, users: int, tx: int | None, postgres: bool = False) -> str:
    at = "" if tx is None else " AS OF TRANSACTION ?"
    point = [] if tx is None else [tx]
    rows = db.execute(
        f"SELECT id, name, email FROM users{at} ORDER BY id LIMIT ?", [*point, users]
    ).rows
    out = [{"id": r[0], "name": r[1], "email": r[2], "orders": []} for r in rows]
    by_id = {u["id"]: u for u in out}
    # The key list as one parameter: an array on PostgreSQL, a JSON array on SQLite.
    keys, within = (
        (list(by_id), "= ANY(?)")
        if postgres
        else (json.dumps(list(by_id)), "IN (SELECT value FROM json_each(?))")
    )
    orders = db.execute(
        f"SELECT id, user_id, total, status FROM orders{at} WHERE user_id {within} ORDER BY id",
        [*point, keys],
    ).rows
    for o in orders:
        by_id[o[1]]["orders"].append({"id": o[0], "total": o[2], "status": o[3]})
    return json.dumps({"data": {"users": out}})


def graphql(service: GraphQLService, query: str, tx: int | None) -> str:
    result = service.run(query, None if tx is None else {"tx": tx})
    assert not result.errors, result.errors
    return json.dumps(result.formatted)


def timed(a: Any, b: Any, repeat: int) -> tuple[float, float]:
    """Median seconds per call of ``a`` and of ``b``, calls interleaved (after warming up).

    Interleaving keeps the comparison fair when the machine's load changes during the run.
    """
    for _ in range(5):
        a()
        b()
    samples_a, samples_b = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        a()
        middle = time.perf_counter()
        b()
        samples_a.append(middle - start)
        samples_b.append(time.perf_counter() - middle)
    return statistics.median(samples_a), statistics.median(samples_b)


@contextlib.contextmanager
def location(server_url: str | None) -> Iterator[str]:
    """A file in a temporary directory, or a fresh database on the PostgreSQL server."""
    if server_url is not None:
        with fresh_database(server_url) as url:
            yield url
        return
    with tempfile.TemporaryDirectory() as tmp:
        yield str(Path(tmp) / "bench.db")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--orders", type=int, default=5, help="orders per user")
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--asof", action="store_true", help="also time the AS OF variant")
    parser.add_argument(
        "--postgresql", metavar="URL", default=None, help="a fresh database on this server"
    )
    args = parser.parse_args(argv)
    postgres = args.postgresql is not None
    with location(args.postgresql) as where:
        db = ChronoDB(where, user="bench")
        tx = populate(db, args.users, args.orders)
        service = GraphQLService(db)
        variants = [("current", QUERY % args.users, None)]
        if args.asof:
            variants.append(("asOfTransaction", QUERY_ASOF % args.users, tx))
        worst = 0.0
        for label, query, point in variants:
            # Same answer both ways (GraphQL's floats and ordering match the SQL's).
            assert json.loads(graphql(service, query, point)) == json.loads(
                hand_written(db, args.users, point, postgres)
            )
            sql_s, gql_s = timed(
                lambda p=point: hand_written(db, args.users, p, postgres),
                lambda q=query, p=point: graphql(service, q, p),
                args.repeat,
            )
            ratio = gql_s / sql_s
            worst = max(worst, ratio)
            print(
                f"{label:>16}{' (PostgreSQL)' if postgres else ''}: "
                f"{args.users} users x {args.orders} orders: "
                f"hand-written SQL {sql_s * 1e3:.2f} ms, GraphQL {gql_s * 1e3:.2f} ms, "
                f"ratio {ratio:.2f}x (target <= {TARGET_RATIO:.0f}x)"
            )
        db.close()
    return 0 if worst <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
