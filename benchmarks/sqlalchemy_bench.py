"""Benchmark SQLAlchemy Core over ``sqlite+chronodb`` against ``sqlite+pysqlite`` (issue 26).

Both engines read and write the same kind of file (WAL, 10,000 rows) through the same Core
statements: a primary-key SELECT (``conn.execute(select, {"k": k}).one()``) and an UPDATE by
primary key, run in batches of one transaction each. Time is this thread's CPU time
(``time.thread_time``), so other processes on a shared machine do not count; each figure is
the best of several rounds, the engines alternating. Printed:

- the ratio of each statement (target <= 1.2x for the pk select);
- for the UPDATE, the same ratio, which includes ChronoDB's versioning (a history row per
  update, the ledger's seal per transaction), and what SQLAlchemy itself adds per statement
  on each driver (Core's time minus the bare DB-API cursor's for the same statements), whose
  ratio is the driver's share of the overhead (target <= 1.2x).

    python benchmarks/sqlalchemy_bench.py            # full size
    python benchmarks/sqlalchemy_bench.py --quick    # smaller, for a smoke run
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    create_engine,
    select,
)

from chronodb import dbapi

ROWS = 10_000
BATCH = 200
metadata = MetaData()
items = Table(
    "items",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String),
    Column("qty", Integer),
)
SELECT = select(items.c.id, items.c.name, items.c.qty).where(items.c.id == bindparam("k"))
UPDATE = items.update().where(items.c.id == bindparam("k")).values(qty=bindparam("q"))
RAW_SELECT = "SELECT items.id, items.name, items.qty FROM items WHERE items.id = ?"
RAW_UPDATE = "UPDATE items SET qty=? WHERE items.id = ?"


def made(url: str) -> Engine:
    engine = create_engine(url)
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("PRAGMA journal_mode = WAL")
    with engine.begin() as conn:
        conn.execute(
            items.insert(), [{"id": i, "name": f"item {i}", "qty": i % 97} for i in range(ROWS)]
        )
    return engine


def keys(count: int) -> list[int]:
    return [(i * 7919) % ROWS for i in range(count)]


def core_select(engine: Engine, lookups: int) -> float:
    """Seconds per pk select through Core."""
    with engine.connect() as conn:
        start = time.thread_time()
        for k in keys(lookups):
            conn.execute(SELECT, {"k": k}).one()
        return (time.thread_time() - start) / lookups


def core_update(engine: Engine, updates: int, shift: int) -> float:
    """Seconds per UPDATE through Core, in transactions of BATCH updates; ``shift`` makes
    every value differ from the one the row holds, so each UPDATE writes a version."""
    todo = keys(updates)
    start = time.thread_time()
    for at in range(0, updates, BATCH):
        with engine.begin() as conn:
            for k in todo[at : at + BATCH]:
                conn.execute(UPDATE, {"k": k, "q": (k + shift) % 13})
    return (time.thread_time() - start) / updates


def raw_update(connect: Callable[[], Any], updates: int, shift: int) -> float:
    """Seconds per UPDATE through the bare DB-API cursor, in transactions of BATCH."""
    conn = connect()
    cursor = conn.cursor()
    todo = keys(updates)
    start = time.thread_time()
    for at in range(0, updates, BATCH):
        for k in todo[at : at + BATCH]:
            cursor.execute(RAW_UPDATE, ((k + shift) % 13, k))
        conn.commit()
    spent = (time.thread_time() - start) / updates
    conn.close()
    return spent


def raw_select(connect: Callable[[], Any], lookups: int) -> float:
    conn = connect()
    cursor = conn.cursor()
    start = time.thread_time()
    for k in keys(lookups):
        cursor.execute(RAW_SELECT, (k,))
        cursor.fetchone()
    spent = (time.thread_time() - start) / lookups
    conn.close()
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer statements and rounds")
    args = parser.parse_args()
    repeats, count = (3, 1_000) if args.quick else (9, 4_000)
    best: dict[str, float] = {}

    def keep(name: str, seconds: float) -> None:
        best[name] = min(best.get(name, float("inf")), seconds)

    with tempfile.TemporaryDirectory() as tmp:
        plain_path, chrono_path = Path(tmp) / "plain.db", Path(tmp) / "chrono.db"
        plain = made(f"sqlite+pysqlite:///{plain_path}")
        chrono = made(f"sqlite+chronodb:///{chrono_path}")
        for round_ in range(repeats):
            core_shift, raw_shift = 2 * round_ + 1, 2 * round_ + 2
            keep("select pysqlite", core_select(plain, count))
            keep("select chronodb", core_select(chrono, count))
            keep("update pysqlite", core_update(plain, count, core_shift))
            keep("update chronodb", core_update(chrono, count, core_shift))
            keep("raw select pysqlite", raw_select(lambda: sqlite3.connect(plain_path), count))
            keep("raw select chronodb", raw_select(lambda: dbapi.connect(chrono_path), count))
            keep(
                "raw update pysqlite",
                raw_update(lambda: sqlite3.connect(plain_path), count, raw_shift),
            )
            keep(
                "raw update chronodb",
                raw_update(lambda: dbapi.connect(chrono_path), count, raw_shift),
            )
        plain.dispose()
        chrono.dispose()

    def us(name: str) -> str:
        return f"{best[name] * 1e6:7.2f} us"

    def verdict(ratio: float, target: float) -> str:
        return "ok" if ratio <= target else "over target"

    select_ratio = best["select chronodb"] / best["select pysqlite"]
    update_ratio = best["update chronodb"] / best["update pysqlite"]
    added_pysqlite = best["update pysqlite"] - best["raw update pysqlite"]
    added_chronodb = best["update chronodb"] - best["raw update chronodb"]
    added_select_pysqlite = best["select pysqlite"] - best["raw select pysqlite"]
    added_select_chronodb = best["select chronodb"] - best["raw select chronodb"]
    print(f"pk select, Core over sqlite+pysqlite: {us('select pysqlite')}")
    print(f"pk select, Core over sqlite+chronodb: {us('select chronodb')}")
    print(f"  ratio: {select_ratio:.2f}x (target <= 1.20x: {verdict(select_ratio, 1.2)})")
    print(
        f"  SQLAlchemy's own part: {added_select_pysqlite * 1e6:.2f} us on pysqlite, "
        f"{added_select_chronodb * 1e6:.2f} us on chronodb"
    )
    print(f"UPDATE by pk, Core over sqlite+pysqlite (unversioned): {us('update pysqlite')}")
    print(f"UPDATE by pk, Core over sqlite+chronodb (versioned):   {us('update chronodb')}")
    print(
        f"  ratio: {update_ratio:.2f}x (includes versioning; target <= 1.20x: "
        f"{verdict(update_ratio, 1.2)})"
    )
    print(
        f"  bare cursor: sqlite3 {us('raw update pysqlite')}, chronodb.dbapi "
        f"{us('raw update chronodb')}"
    )
    overhead = added_chronodb / added_pysqlite
    print(
        f"  SQLAlchemy's own part: {added_pysqlite * 1e6:.2f} us on pysqlite, "
        f"{added_chronodb * 1e6:.2f} us on chronodb, ratio {overhead:.2f}x "
        f"(target <= 1.20x: {verdict(overhead, 1.2)})"
    )


if __name__ == "__main__":
    main()
