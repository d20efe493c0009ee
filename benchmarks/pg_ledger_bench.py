"""The PostgreSQL audit ledger's cost at commit: ledger on vs off vs raw psycopg; and the
settled-mark walk's (a standby's horizon, ``postgres/install.py``): walk on vs off.

Four copies of a 20k-row table in one scratch database:

    raw     plain table, no versioning (the baseline)
    off     versioned (``chronodb.postgres``), the commit step sealing no leaf
            (``install(..., ledger=False)``, ``version_table(..., ledger=False)``)
    on      versioned with the ledger: every commit seals its leaf in PL/pgSQL, and walks
            the settled mark (as ChronoDB installs it)
    nowalk  ``on`` without the walk (``install(..., settle=False)``)

Measured, each the best of several rounds taken in turns: autocommit UPDATEs by key (per
statement, client round trip included), with ``synchronous_commit`` on and off (off shows
the CPU cost without the WAL flush to hide it); a batched UPDATE of every row in one
transaction; WRITERS processes doing autocommit UPDATEs on disjoint keys (throughput).
The issue's budget: the ledger keeps at least 75% of the versioned autocommit throughput.

    python benchmarks/pg_ledger_bench.py [--url postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
import uuid
from collections.abc import Callable

import psycopg
from psycopg.conninfo import make_conninfo

from chronodb.postgres import install, version_table

ROWS = 20_000
WRITERS = 4
TABLES = {"raw": "u_raw", "off": "off.u_off", "on": "u_on", "nowalk": "nowalk.u_nowalk"}


def setup(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        install(conn, "off", ledger=False)
        install(conn, "nowalk", settle=False)
        install(conn)
        for table in TABLES.values():
            conn.execute(
                f"CREATE TABLE {table} (id int PRIMARY KEY, name text, score int, note text)"
            )
            conn.execute(
                f"INSERT INTO {table} SELECT i, 'user ' || i, i % 100, repeat('x', 40) "
                f"FROM generate_series(1, {ROWS}) AS i"
            )
        version_table(conn, "u_off", schema="off", ledger=False)
        version_table(conn, "u_on")
        version_table(conn, "u_nowalk", schema="nowalk")
        conn.execute("VACUUM ANALYZE")


def autocommit(url: str, variant: str, sync: bool, n: int = 1_000) -> float:
    """Seconds per autocommit UPDATE by key."""
    with psycopg.connect(url, autocommit=True) as conn:
        if not sync:
            conn.execute("SET synchronous_commit = off")
        sql = f"UPDATE {TABLES[variant]} SET score = score + 1 WHERE id = %s"
        for key in range(1, 11):
            conn.execute(sql, (key,), prepare=True)
        start = time.perf_counter()
        for key in range(1, n + 1):
            conn.execute(sql, (key,), prepare=True)
        return (time.perf_counter() - start) / n


def batched(url: str, variant: str) -> float:
    with psycopg.connect(url) as conn:
        start = time.perf_counter()
        conn.execute(f"UPDATE {TABLES[variant]} SET score = score + 1")
        conn.commit()
        return time.perf_counter() - start


def _writer(args: tuple[str, str, int, float]) -> int:
    url, variant, index, seconds = args
    done = 0
    block = ROWS // WRITERS
    with psycopg.connect(url, autocommit=True) as conn:
        sql = f"UPDATE {TABLES[variant]} SET score = score + 1 WHERE id = %s"
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            conn.execute(sql, (1 + index * block + done % block,), prepare=True)
            done += 1
    return done


def concurrent(url: str, variant: str, seconds: float = 3.0) -> float:
    """Autocommit UPDATEs a second, WRITERS processes on disjoint keys."""
    with multiprocessing.Pool(WRITERS) as pool:
        counts = pool.map(_writer, [(url, variant, i, seconds) for i in range(WRITERS)])
    return sum(counts) / seconds


def rounds(run: Callable[..., float], repeats: int, *, low: bool = True) -> dict[str, float]:
    """Each variant's best over ``repeats`` rounds, the variants taking turns."""
    found: dict[str, float] = {}
    for _ in range(repeats):
        for variant in TABLES:
            value = run(variant)
            if variant not in found or (value < found[variant] if low else value > found[variant]):
                found[variant] = value
    return found


def report(url: str, repeats: int) -> None:
    for sync in (True, False):
        t = rounds(lambda v, sync=sync: autocommit(url, v, sync), repeats)
        print(
            f"autocommit UPDATE, synchronous_commit {'on ' if sync else 'off'}: "
            f"raw {t['raw'] * 1e6:6.1f} µs, off {t['off'] * 1e6:6.1f} µs, "
            f"on {t['on'] * 1e6:6.1f} µs; on/off {t['on'] / t['off']:.2f}x, "
            f"on/raw {t['on'] / t['raw']:.2f}x; ledger keeps {t['off'] / t['on']:.0%} of "
            f"versioned throughput; walk on/off {t['on'] / t['nowalk']:.2f}x"
        )
    t = rounds(lambda v: batched(url, v), repeats)
    print(
        f"batched UPDATE of {ROWS} rows: raw {t['raw'] * 1e3:.0f} ms, off {t['off'] * 1e3:.0f} "
        f"ms, on {t['on'] * 1e3:.0f} ms; on/off {t['on'] / t['off']:.2f}x, "
        f"on/raw {t['on'] / t['raw']:.2f}x"
    )
    t = rounds(lambda v: concurrent(url, v), max(1, repeats // 2), low=False)
    print(
        f"{WRITERS} writers, autocommit UPDATEs/s: raw {t['raw']:.0f}, off {t['off']:.0f}, "
        f"on {t['on']:.0f}; ledger keeps {t['on'] / t['off']:.0%} of versioned throughput, "
        f"{t['on'] / t['raw']:.0%} of raw; the walk keeps {t['on'] / t['nowalk']:.0%}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    name = f"chronodb_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(args.url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = make_conninfo(args.url, dbname=name)
    try:
        setup(url)
        report(url, args.repeats)
    finally:
        with psycopg.connect(args.url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
