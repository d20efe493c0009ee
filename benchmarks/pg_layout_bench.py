"""Settle the PostgreSQL history layout by measurement: ratios against raw psycopg.

Variants, each on its own copy of a 20k-row table in one scratch database:

    raw      plain table, no versioning (the baseline)
    stmt     chosen: statement-level triggers with transition tables, history rows carry
             the writer's xid, the commit trigger maps xid -> (tx_id, tx_time) under an
             allocation lock held for microseconds (``chronodb.postgres``)
    held     the same, but the allocation lock is transaction-scoped: held through the
             commit's WAL flush, so ids follow visibility order without a reader horizon
    row      the chosen layout written by row-level triggers
    stamp    statement-level triggers, and the commit trigger (lock held through commit)
             stamps the transaction's history rows with their id (UPDATE ... WHERE tx IS
             NULL, partial index); AS OF is then a plain (key, tx) seek

Measured: a batched UPDATE of every row in one transaction; autocommit UPDATEs by key; AS
OF pk SELECT against the raw current pk lookup at history depths 1 to 1,000 (at the newest
point and at the point of the key's first version); 8 writer processes doing autocommit
UPDATEs on disjoint keys (throughput kept). Best of several repetitions.

    python benchmarks/pg_layout_bench.py [--url postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
import uuid
from collections.abc import Callable

import psycopg
from psycopg.conninfo import make_conninfo

from chronodb.postgres import install, lookup, version_table
from chronodb.postgres.install import _commit_function, queue_commit
from chronodb.postgres.names import ALLOCATE_LOCK
from chronodb.postgres.snapshots import as_of, as_of_history, as_of_key, point_at_tx

ROWS = 20_000
DEPTHS = (1, 10, 100, 1_000)
WRITERS = 8
VARIANTS = ("raw", "stmt", "held", "row", "stamp")
TABLES = {v: f"u_{v}" for v in VARIANTS} | {"held": "held.u_held"}


def held_commit() -> str:
    """The chosen commit trigger for schema ``held``, with its allocation lock made
    transaction-scoped (held through the WAL flush) instead of released at once."""
    lock = f"PERFORM pg_advisory_lock({ALLOCATE_LOCK});"
    unlock = f"PERFORM pg_advisory_unlock({ALLOCATE_LOCK});"
    body = _commit_function("held")
    assert lock in body and unlock in body
    return body.replace(lock, f"PERFORM pg_advisory_xact_lock({ALLOCATE_LOCK} + 2);").replace(
        unlock, ""
    )


ROW_TRIGGER = f"""
CREATE FUNCTION u_row_fn() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE queued text;
BEGIN
  IF TG_OP = 'DELETE' THEN
    INSERT INTO h_row (_chrono_xid, _chrono_op, id) VALUES (pg_current_xact_id(), 'D', OLD.id);
  ELSIF TG_OP = 'INSERT' THEN
    INSERT INTO h_row (_chrono_xid, _chrono_op, id, name, score, note)
    VALUES (pg_current_xact_id(), 'I', NEW.id, NEW.name, NEW.score, NEW.note);
  ELSIF OLD.id <> NEW.id THEN
    INSERT INTO h_row (_chrono_xid, _chrono_op, id) VALUES (pg_current_xact_id(), 'D', OLD.id);
    INSERT INTO h_row (_chrono_xid, _chrono_op, id, name, score, note)
    VALUES (pg_current_xact_id(), 'I', NEW.id, NEW.name, NEW.score, NEW.note);
  ELSIF NOT (OLD *= NEW) THEN
    INSERT INTO h_row (_chrono_xid, _chrono_op, id, name, score, note)
    VALUES (pg_current_xact_id(), 'U', NEW.id, NEW.name, NEW.score, NEW.note);
  ELSE
    RETURN NULL;
  END IF;
  {queue_commit("public", "queued", "currval('public._chrono_seq_next')")};
  RETURN NULL;
END $$;
CREATE TABLE h_row (_chrono_seq bigint NOT NULL DEFAULT nextval('_chrono_seq_next'),
  _chrono_xid xid8 NOT NULL, _chrono_op "char" NOT NULL,
  id int, name text, score int, note text);
CREATE INDEX h_row_k ON h_row (id, _chrono_seq);
CREATE TRIGGER u_row_t AFTER INSERT OR UPDATE OR DELETE ON u_row
  FOR EACH ROW EXECUTE FUNCTION u_row_fn();
"""

STAMP = """
CREATE SEQUENCE stamp_tx CACHE 1;
CREATE SEQUENCE stamp_time MINVALUE 0 START 0 CACHE 1;
CREATE TABLE stamp_txs (tx_id bigint PRIMARY KEY, tx_time bigint NOT NULL UNIQUE,
  "user" text NOT NULL);
CREATE UNLOGGED TABLE stamp_pending (xid xid8 PRIMARY KEY);
CREATE TABLE h_stamp (_chrono_seq bigint NOT NULL DEFAULT nextval('_chrono_seq_next'),
  _chrono_xid xid8 NOT NULL, _chrono_tx bigint, _chrono_op "char" NOT NULL,
  id int, name text, score int, note text);
CREATE INDEX h_stamp_k ON h_stamp (id, _chrono_tx);
CREATE INDEX h_stamp_open ON h_stamp (_chrono_xid) WHERE _chrono_tx IS NULL;
CREATE FUNCTION stamp_commit() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE new_id bigint; at bigint;
BEGIN
  PERFORM pg_advisory_xact_lock(42);
  new_id := nextval('stamp_tx');
  SELECT greatest((extract(epoch FROM clock_timestamp()) * 1000000)::bigint, last_value + 1)
    INTO at FROM stamp_time;
  PERFORM setval('stamp_time', at);
  INSERT INTO stamp_txs VALUES (new_id, at, current_user);
  UPDATE h_stamp SET _chrono_tx = new_id WHERE _chrono_tx IS NULL AND _chrono_xid = NEW.xid;
  DELETE FROM stamp_pending WHERE xid = NEW.xid;
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER stamp_commit AFTER INSERT ON stamp_pending
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION stamp_commit();
CREATE FUNCTION u_stamp_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO h_stamp (_chrono_xid, _chrono_op, id, name, score, note)
  SELECT pg_current_xact_id(),
    CASE WHEN n.id IS NULL THEN 'D' WHEN o.id IS NULL THEN 'I' ELSE 'U' END,
    coalesce(n.id, o.id), n.name, n.score, n.note
  FROM _chrono_old AS o FULL JOIN _chrono_new AS n ON o.id = n.id
  WHERE o.id IS NULL OR n.id IS NULL OR NOT (o *= n);
  IF FOUND THEN
    INSERT INTO stamp_pending VALUES (pg_current_xact_id()) ON CONFLICT DO NOTHING;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER u_stamp_t AFTER UPDATE ON u_stamp
  REFERENCING OLD TABLE AS _chrono_old NEW TABLE AS _chrono_new
  FOR EACH STATEMENT EXECUTE FUNCTION u_stamp_fn();
"""
TABLE_SCAN = "SELECT sum(score), count(*) FROM {source}"
STAMP_AS_OF = (
    "SELECT h.id, h.name, h.score, h.note FROM h_stamp AS h WHERE h.id = %s "
    "AND h._chrono_tx <= %s ORDER BY h._chrono_tx DESC LIMIT 1"
)
STAMP_ADOPT = (
    "INSERT INTO h_stamp (_chrono_xid, _chrono_tx, _chrono_op, id, name, score, note) "
    "SELECT pg_current_xact_id(), 0, 'I', id, name, score, note FROM u_stamp"
)


def setup(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        install(conn, "held")
        for table in TABLES.values():
            conn.execute(
                f"CREATE TABLE {table} (id int PRIMARY KEY, name text, score int, note text)"
            )
            conn.execute(
                f"INSERT INTO {table} SELECT i, 'user ' || i, i % 100, repeat('x', 40) "
                f"FROM generate_series(1, {ROWS}) AS i"
            )
        version_table(conn, "u_stmt")
        version_table(conn, "u_held", schema="held")
        conn.execute(held_commit())
        conn.execute(ROW_TRIGGER)
        conn.execute(STAMP)
        conn.execute(STAMP_ADOPT)
        conn.execute("VACUUM ANALYZE")


def best(run: Callable[[], float], repeats: int) -> float:
    return min(run() for _ in range(repeats))


def alternating(runs: dict[str, Callable[[], float]], repeats: int, *, low: bool = True) -> dict:
    """Each run's best over ``repeats`` rounds, the runs taking turns within each round, so
    that a change in the machine's load falls on all of them (``low``: lowest is best)."""
    found: dict[str, float] = {}
    for _ in range(repeats):
        for name, run in runs.items():
            value = run()
            if name not in found or (value < found[name] if low else value > found[name]):
                found[name] = value
    return found


def batched(url: str, variant: str) -> float:
    with psycopg.connect(url) as conn:
        start = time.perf_counter()
        conn.execute(f"UPDATE {TABLES[variant]} SET score = score + 1")
        conn.commit()
        return time.perf_counter() - start


def autocommit(url: str, variant: str, n: int = 1_000, first: int = 5_000) -> float:
    with psycopg.connect(url, autocommit=True) as conn:
        sql = f"UPDATE {TABLES[variant]} SET score = score + 1 WHERE id = %s"
        for key in range(first, first + 10):
            conn.execute(sql, (key,), prepare=True)
        start = time.perf_counter()
        for key in range(first, first + n):
            conn.execute(sql, (key,), prepare=True)
        return (time.perf_counter() - start) / n


def lookups(url: str, sql: str, params: list, n: int = 2_000) -> float:
    with psycopg.connect(url, autocommit=True) as conn:
        for _ in range(10):
            conn.execute(sql, params, prepare=True).fetchall()
        start = time.perf_counter()
        for _ in range(n):
            conn.execute(sql, params, prepare=True).fetchall()
        return (time.perf_counter() - start) / n


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
    with multiprocessing.Pool(WRITERS) as pool:
        counts = pool.map(_writer, [(url, variant, i, seconds) for i in range(WRITERS)])
    return sum(counts) / seconds


def deepen(url: str) -> dict[int, tuple[int, int]]:
    """Give keys 1..4 DEPTHS versions; returns, per depth, (key, id of its first version)."""
    keys: dict[int, tuple[int, int]] = {}
    with psycopg.connect(url, autocommit=True) as conn:
        for key, depth in enumerate(DEPTHS, start=1):
            conn.execute("UPDATE u_stmt SET note = 'first' WHERE id = %s", (key,))
            first = conn.execute("SELECT max(tx_id) FROM _chrono_tx").fetchone()[0]
            conn.execute("UPDATE u_stamp SET note = 'first' WHERE id = %s", (key,))
            for version in range(1, depth):
                for variant in ("stmt", "stamp"):
                    conn.execute(
                        f"UPDATE u_{variant} SET note = %s WHERE id = %s", (str(version), key)
                    )
            keys[depth] = (key, first)
        conn.execute("VACUUM ANALYZE")
    return keys


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


def report(url: str, repeats: int) -> None:
    print(f"PostgreSQL history layout, {ROWS:,} rows, best of {repeats} (ratio to raw psycopg)")
    times = alternating({v: lambda v=v: batched(url, v) for v in VARIANTS}, repeats)
    print("batched UPDATE of every row, one transaction (target <= 3x):")
    for v in VARIANTS:
        print(f"  {v:6} {times[v] * 1e3:8.1f} ms  {times[v] / times['raw']:5.2f}x")
    times = alternating({v: lambda v=v: autocommit(url, v) for v in VARIANTS}, repeats)
    print("autocommit UPDATE by key (target <= 2x):")
    for v in VARIANTS:
        print(f"  {v:6} {times[v] * 1e6:8.1f} µs  {times[v] / times['raw']:5.2f}x")

    keys = deepen(url)
    with psycopg.connect(url) as conn:
        v = lookup(conn, "u_stmt")
        assert v is not None
        newest = conn.execute("SELECT max(tx_id) FROM _chrono_tx").fetchone()[0]
        stamp_newest = conn.execute("SELECT max(tx_id) FROM stamp_txs").fetchone()[0]
    sql = f"SELECT * FROM {as_of_key(v, point_at_tx(v, '%s'), ['%s'])} AS s"
    runs = {
        "raw": lambda: lookups(url, "SELECT * FROM u_raw WHERE id = %s", [7]),
        "horizon": lambda: lookups(url, "SELECT _chrono_horizon()", []),
    }
    for depth, (key, first) in keys.items():
        runs[f"newest {depth}"] = lambda key=key: lookups(url, sql, [newest, key])
        runs[f"oldest {depth}"] = lambda key=key, first=first: lookups(url, sql, [first, key])
        runs[f"stamp {depth}"] = lambda key=key: lookups(url, STAMP_AS_OF, [key, stamp_newest])
    us = {name: value * 1e6 for name, value in alternating(runs, repeats).items()}
    raw = us["raw"]
    print(f"raw current pk lookup: {raw:.1f} µs")
    print(f"a reader's horizon, no writer committing: {us['horizon']:.1f} µs")
    print("AS OF pk SELECT by history depth (target <= 3x raw, flat):")
    print("  depth   stmt at newest    stmt at oldest    stamp at newest")
    for depth in keys:
        cells = [us[f"{kind} {depth}"] for kind in ("newest", "oldest", "stamp")]
        print(f"  {depth:5}" + "".join(f"  {c:6.1f} µs {c / raw:4.2f}x" for c in cells))

    scan_runs = {"table": lambda: lookups(url, TABLE_SCAN.format(source="u_stmt"), [], 30)}
    with psycopg.connect(url) as conn:
        ids = [r[0] for r in conn.execute("SELECT tx_id FROM _chrono_tx ORDER BY tx_id")]
    points = {"newest": ids[-1], "100 tx back": ids[-101], "oldest": ids[0]}
    for label, n in points.items():
        for shape in (as_of, as_of_history):
            source = f"{shape(v, point_at_tx(v, str(int(n))))} AS s"
            scan = TABLE_SCAN.format(source=source)
            scan_runs[f"{shape.__name__} {label}"] = lambda scan=scan: lookups(url, scan, [], 5)
    ms = {name: value * 1e3 for name, value in alternating(scan_runs, repeats).items()}
    print(f"whole table AS OF, sum and count of {ROWS:,} rows (target <= 3x the table's scan):")
    print(f"  the table's own scan {ms['table']:.2f} ms")
    print("  point          as_of               as_of_history")
    for label in points:
        cells = [ms[f"{shape} {label}"] for shape in ("as_of", "as_of_history")]
        print(f"  {label:12}" + "".join(f"  {c:7.2f} ms {c / ms['table']:5.1f}x" for c in cells))

    print(f"{WRITERS} writer processes, autocommit UPDATEs (target >= 50% of raw):")
    runs = {v: lambda v=v: concurrent(url, v) for v in VARIANTS}
    rates = alternating(runs, max(2, repeats // 2), low=False)
    for v in VARIANTS:
        print(f"  {v:6} {rates[v]:8.0f} /s  {rates[v] / rates['raw'] * 100:5.1f}%")


if __name__ == "__main__":
    main()
