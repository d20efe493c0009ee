"""Benchmark the web UI's table page and the temporal queries it stands on (issue 25).

One database: ``users`` with ``--keys`` rows, each updated until it has ``--versions``
versions (1M versions by default), and ``orders`` (two per user, referencing users). The
point is a transaction in the middle of the updates, so that AS OF reads a mixture of old
and current versions. Every figure comes from the same run; the baseline is the same
statement without time travel, on the same file through raw sqlite3.

1. The table page (``GET /tables/users?as_of=…`` as HTML, 50 rows, a keyset position picked
   at random each time) rendered in-process through starlette's TestClient: p50 and p95.
   Target: p95 < 50 ms.
2. ``SELECT * FROM users AS OF TIMESTAMP ? WHERE id > ? ORDER BY id LIMIT 50`` vs the
   current-state query on raw sqlite3. Target: <= 3x.
3. ``users AS OF … JOIN orders AS OF … GROUP BY users.id ORDER BY users.id LIMIT 50`` vs the
   same join on raw sqlite3. Target: <= 5x.
4. The row count the page shows: ``count(*)`` AS OF a point, and the page's bounded count
   (``tables.count_rows``: at most COUNT_CAP rows are counted, more shows as "10000+").
   Also the home page AS OF the point, and the diff of the latest transaction.
5. ``SELECT count(*) FROM users FOR SYSTEM_TIME ALL`` vs ``count(*)`` of a plain table with
   as many rows, on raw sqlite3. Target: <= 3x.

    python benchmarks/ui_bench.py              # 200k keys x 5 versions
    python benchmarks/ui_bench.py --quick      # 20k x 5, as the issue measured
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from chronodb import ChronoDB
from chronodb.server import create_app
from chronodb.server.ui.tables import COUNT_CAP

PAGE_TARGET_MS = 50.0
KEYSET_TARGET = 3.0
JOIN_TARGET = 5.0
RANGE_TARGET = 3.0


def populate(path: Path, keys: int, versions: int) -> float:
    """Fill the file; the point (epoch seconds) in the middle of the updates."""
    with ChronoDB(path) as db:
        db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, email TEXT)")
        db.execute(
            "CREATE TABLE orders (id INTEGER PRIMARY KEY, "
            "user_id INTEGER REFERENCES users (id), total REAL)"
        )
        db.executemany(
            "INSERT INTO users VALUES (?, ?, ?)",
            [(i, f"user {i}", f"u{i}@example.com") for i in range(1, keys + 1)],
        )
        db.executemany(
            "INSERT INTO orders VALUES (?, ?, ?)",
            [(i, 1 + i % keys, float(i % 97)) for i in range(1, 2 * keys + 1)],
        )
        point = 0.0
        for v in range(1, versions):
            db.execute("UPDATE users SET email = ? || id || '@example.com'", [f"v{v}."])
            if v == versions // 2:
                point = db.transactions(limit=1)[0]["tx_time"]
    return point


JOIN = (
    "SELECT users.id, users.name, count(orders.id), sum(orders.total) FROM users{a} "
    "JOIN orders{a} ON orders.user_id = users.id WHERE users.id > ? "
    "GROUP BY users.id ORDER BY users.id LIMIT 50"
)
"""The join of item 3; ``{a}`` is where each table's AS OF goes."""


def plain_versions(path: Path, keys: int, versions: int) -> None:
    """A plain table ``v`` with as many rows as the versions, and their columns and period."""
    with sqlite3.connect(path) as p:
        p.execute("CREATE TABLE v (id INTEGER, name TEXT, email TEXT, f REAL, t REAL)")
        p.executemany(
            "INSERT INTO v VALUES (?, ?, ?, 1.0, 2.0)",
            ((i % keys, f"user {i}", f"u{i}@example.com") for i in range(versions)),
        )


def timings(fn: Callable[[], Any], reps: int) -> list[float]:
    fn()  # warm caches, the statement cache and the rewrite cache
    out = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def p95_ms(samples: list[float]) -> float:
    return sorted(samples)[max(0, int(len(samples) * 0.95) - 1)] * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keys", type=int, default=200_000)
    parser.add_argument("--versions", type=int, default=5)
    parser.add_argument("--reps", type=int, default=50)
    parser.add_argument("--quick", action="store_true", help="20k keys")
    args = parser.parse_args()
    keys = 20_000 if args.quick else args.keys
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ui.db"
        started = time.perf_counter()
        point = populate(path, keys, args.versions)
        print(
            f"{keys} keys x {args.versions} versions ({keys * args.versions} versions), "
            f"filled in {time.perf_counter() - started:.1f} s; AS OF the middle update"
        )
        rng = random.Random(25)
        db = ChronoDB(path, read_only=True)
        raw = sqlite3.connect(path)
        failed = []

        def ratio(name: str, ours: Callable[[], Any], base: Callable[[], Any], target: float):
            a, b = median_ms(timings(ours, args.reps)), median_ms(timings(base, args.reps))
            verdict = "ok" if a <= b * target else "OVER"
            if verdict != "ok":
                failed.append(name)
            print(f"{name}: {a:.3f} ms vs {b:.3f} ms raw = {a / b:.1f}x (<= {target}x) {verdict}")

        with TestClient(create_app(path, read_only=True)) as client:

            def page() -> None:
                after = rng.randrange(keys)
                answer = client.get(
                    f"/tables/users?as_of={point}&_next=[{after}]", headers={"accept": "text/html"}
                )
                assert answer.status_code == 200, answer.text[:300]

            samples = timings(page, args.reps)
            verdict = "ok" if p95_ms(samples) < PAGE_TARGET_MS else "OVER"
            if verdict != "ok":
                failed.append("page")
            print(
                f"table page AS OF, 50 rows: p50 {median_ms(samples):.1f} ms, "
                f"p95 {p95_ms(samples):.1f} ms (target < {PAGE_TARGET_MS:.0f} ms) {verdict}"
            )
            html = {"accept": "text/html"}
            now = timings(lambda: client.get("/tables/users", headers=html), args.reps)
            print(f"table page now, 50 rows: p50 {median_ms(now):.1f} ms, p95 {p95_ms(now):.1f} ms")
            home = timings(lambda: client.get(f"/?as_of={point}", headers=html), 5)
            print(f"home page AS OF: p50 {median_ms(home):.1f} ms")
            diff = timings(lambda: client.get("/tables/users/diff.json"), 3)
            print(f"diff of the latest transaction: {median_ms(diff):.0f} ms")

        mid = keys // 2
        ratio(
            "AS OF keyset page",
            lambda: (
                db.execute(
                    "SELECT * FROM users AS OF TIMESTAMP ? WHERE id > ? ORDER BY id LIMIT 50",
                    [point, mid],
                ).rows
            ),
            lambda: raw.execute(
                "SELECT * FROM users WHERE id > ? ORDER BY id LIMIT 50", [mid]
            ).fetchall(),
            KEYSET_TARGET,
        )
        join = JOIN
        ratio(
            "AS OF join+GROUP BY, ORDER BY key LIMIT 50",
            lambda: db.execute(join.format(a=" AS OF TIMESTAMP ?"), [point, point, mid]).rows,
            lambda: raw.execute(join.format(a=""), [mid]).fetchall(),
            JOIN_TARGET,
        )
        count_as_of = timings(
            lambda: db.execute("SELECT count(*) FROM users AS OF TIMESTAMP ?", [point]).scalar(),
            max(3, args.reps // 10),
        )
        capped = timings(
            lambda: db.execute(
                "SELECT count(*) FROM (SELECT 1 FROM users AS OF TIMESTAMP ? LIMIT ?)",
                [point, COUNT_CAP + 1],
            ).scalar(),
            args.reps,
        )
        count_now = timings(lambda: raw.execute("SELECT count(*) FROM users").fetchone(), args.reps)
        print(
            f"row count AS OF: full {median_ms(count_as_of):.1f} ms, the page's (at most "
            f"{COUNT_CAP} counted) {median_ms(capped):.1f} ms, raw count now "
            f"{median_ms(count_now):.2f} ms"
        )
        versions = keys * args.versions
        plain = Path(tmp) / "plain.db"
        plain_versions(plain, keys, versions)
        plain_raw = sqlite3.connect(plain)
        reps = max(3, args.reps // 10)
        ratio_name = f"FOR SYSTEM_TIME ALL count over {versions} versions"
        a = median_ms(
            timings(
                lambda: db.execute("SELECT count(*) FROM users FOR SYSTEM_TIME ALL").scalar(), reps
            )
        )
        b = median_ms(timings(lambda: plain_raw.execute("SELECT count(*) FROM v").fetchone(), reps))
        c = median_ms(
            timings(lambda: plain_raw.execute("SELECT count(email) FROM v").fetchone(), reps)
        )
        verdict = "ok" if a <= c * RANGE_TARGET else "OVER"
        if verdict != "ok":
            failed.append("range")
        print(
            f"{ratio_name}: {a:.1f} ms ({versions / a * 1000 / 1e6:.2f}M versions/s) vs a plain "
            f"table's count(*) {b:.1f} ms, count(email) (reads every row) {c:.1f} ms = "
            f"{a / c:.1f}x (target <= {RANGE_TARGET}x) {verdict}"
        )
        db.close()
        raw.close()
        plain_raw.close()
    print("over target: " + (", ".join(failed) if failed else "none"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
