"""What the commit step's NOTIFY (the change feed's doorbell) costs PostgreSQL writers.

PostgreSQL serialises the commits of transactions that sent a NOTIFY (a lock on the
notification queue, held until the commit is done); the commit step therefore notifies only
while it holds a per-schema try-lock, one transaction at a time. Measured: 8 processes doing
autocommit UPDATEs of disjoint keys of a versioned table, and one doing them alone, with the
commit step as ``chronodb.postgres`` installs it against the same step without the NOTIFY;
and with a session listening (as ``chronodb serve`` does) and without. Alternating rounds,
best of each.

    python benchmarks/pg_notify_bench.py [--url postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import multiprocessing
import threading
import time
import uuid
from collections.abc import Callable

import psycopg
from psycopg.conninfo import make_conninfo

from chronodb.postgres import install, version_table
from chronodb.postgres.install import _commit_function
from chronodb.postgres.names import notify_channel, quote

ROWS = 20_000
WRITERS = 8
SECONDS = 3.0


def without_notify(schema: str = "public") -> str:
    """The installed commit step, less its NOTIFY."""
    lines = _commit_function(schema).splitlines()
    start = next(i for i, line in enumerate(lines) if "pg_try_advisory_xact_lock" in line)
    end = next(i for i in range(start, len(lines)) if lines[i].strip() == "END IF;")
    return "\n".join(lines[:start] + lines[end + 1 :])


def _writer(args: tuple[str, int, float]) -> int:
    url, index, seconds = args
    done, block = 0, ROWS // WRITERS
    with psycopg.connect(url, autocommit=True) as conn:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            key = 1 + index * block + done % block
            conn.execute("UPDATE u SET score = score + 1 WHERE id = %s", (key,), prepare=True)
            done += 1
    return done


def rate(url: str, writers: int) -> float:
    """Autocommit UPDATEs a second, by ``writers`` processes together."""
    with multiprocessing.Pool(writers) as pool:
        counts = pool.map(_writer, [(url, i, SECONDS) for i in range(writers)])
    return sum(counts) / SECONDS


class Listener:
    """A session LISTENing on the channel and draining it, as the server's doorbell does."""

    def __init__(self, url: str) -> None:
        self.url, self.heard, self._stop = url, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"LISTEN {quote(notify_channel('public'))}")
            while not self._stop.is_set():
                for _ in conn.notifies(timeout=0.2):
                    self.heard += 1

    def __enter__(self) -> Listener:
        self._thread.start()
        time.sleep(0.3)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    name = f"chronodb_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(args.url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = make_conninfo(args.url, dbname=name)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            install(conn)
            conn.execute("CREATE TABLE u (id int PRIMARY KEY, score int)")
            conn.execute(f"INSERT INTO u SELECT i, 0 FROM generate_series(1, {ROWS}) AS i")
            version_table(conn, "u")
            conn.execute("VACUUM ANALYZE")
            with_notify = _commit_function("public")
            plain = without_notify()

            def variant(listen: bool, writers: int) -> Callable[[], float]:
                def run() -> float:
                    if not listen:
                        return rate(url, writers)
                    with Listener(url) as listener:
                        found = rate(url, writers)
                    assert listener.heard > 0
                    return found

                return run

        for writers in (WRITERS, 1):
            runs = {
                "no NOTIFY": variant(False, writers),
                "NOTIFY, nobody listening": variant(False, writers),
                "NOTIFY, one server listening": variant(True, writers),
            }
            best: dict[str, float] = {}
            for _ in range(args.repeats):
                for label, run in runs.items():
                    with psycopg.connect(url, autocommit=True) as conn:
                        conn.execute(plain if label == "no NOTIFY" else with_notify)
                    best[label] = max(best.get(label, 0.0), run())
            base = best["no NOTIFY"]
            print(f"{writers} writer process(es), autocommit UPDATE, best of {args.repeats}:")
            for label, value in best.items():
                print(f"  {label:30} {value:8.0f} /s  {value / base * 100:5.1f}%")
    finally:
        with psycopg.connect(args.url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
