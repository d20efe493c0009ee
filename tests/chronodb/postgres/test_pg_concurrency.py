"""Concurrent writers on PostgreSQL: ids follow commit order and snapshots never change.

Writer threads (one connection each, READ COMMITTED or REPEATABLE READ) commit or roll back
random transactions, with savepoints, while reader threads check snapshot stability: once
a reader has seen id n, no id below n appears later, and AS OF n reads the same. Afterwards
AS OF TRANSACTION n, for every n, equals a replay of the committed transactions in id order.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import IsolationLevel

from chronodb.postgres import horizon, lookup, version_table
from chronodb.postgres.snapshots import as_of, as_of_history, point_at_tx

KEYS = 6
ABORTED = (psycopg.errors.SerializationFailure, psycopg.errors.DeadlockDetected)

op = st.tuples(st.sampled_from(["upsert", "update", "delete"]), st.integers(0, KEYS - 1))
transaction = st.fixed_dictionaries(
    {
        "isolation": st.sampled_from(
            [
                IsolationLevel.READ_COMMITTED,
                IsolationLevel.REPEATABLE_READ,
                IsolationLevel.SERIALIZABLE,
            ]
        ),
        "ops": st.lists(op, min_size=1, max_size=4),
        "undone": st.lists(op, max_size=2),  # run in a savepoint that is rolled back
        "commit": st.booleans() | st.just(True),
    }
)
writers = st.lists(st.lists(transaction, min_size=1, max_size=6), min_size=2, max_size=4)


@dataclass
class Log:
    """What the writers committed: per xid, the rows they left (value, or None: deleted)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    committed: dict[str, dict[int, int | None]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def run(cur: psycopg.Cursor, table: str, kind: str, key: int, value: int) -> set[int]:
    """One statement; the keys it changed."""
    if kind == "upsert":
        sql = (
            f"INSERT INTO {table} VALUES (%s, %s) ON CONFLICT (id) DO UPDATE SET v = %s "
            "RETURNING id"
        )
        cur.execute(sql, (key, value, value))
    elif kind == "update":
        cur.execute(f"UPDATE {table} SET v = %s WHERE id = %s RETURNING id", (value, key))
    else:
        cur.execute(f"DELETE FROM {table} WHERE id = %s RETURNING id", (key,))
    return {r[0] for r in cur.fetchall()}


def write(url: str, table: str, plan: list[dict], seed: int, log: Log) -> None:
    values = itertools.count(seed * 1000)
    with psycopg.connect(url) as conn:
        for tx in plan:
            conn.isolation_level = tx["isolation"]
            try:
                with conn.cursor() as cur:
                    touched: set[int] = set()
                    for kind, key in tx["ops"]:
                        touched |= run(cur, table, kind, key, next(values))
                    cur.execute("SAVEPOINT undone")
                    for kind, key in tx["undone"]:
                        run(cur, table, kind, key, next(values))
                    cur.execute("ROLLBACK TO SAVEPOINT undone")
                    cur.execute("SELECT pg_current_xact_id()::text")
                    (xid,) = cur.fetchone()
                    cur.execute(f"SELECT id, v FROM {table} WHERE id = ANY(%s)", (list(touched),))
                    left: dict[int, int | None] = dict.fromkeys(touched)
                    left.update(dict(cur.fetchall()))
                if not tx["commit"]:
                    conn.rollback()
                    continue
                conn.commit()
            except ABORTED:
                conn.rollback()
                continue
            with log.lock:
                log.committed[xid] = left


def read(
    url: str, table: str, stop: threading.Event, log: Log, repeatable: bool, writer: bool = True
) -> None:
    """Check that, up to each horizon, the ids seen never change, nor AS OF n.

    ``repeatable``: read in REPEATABLE READ transactions begun after taking the horizon
    (else each statement is its own READ COMMITTED snapshot). ``writer``: whether the
    reader's connection may write (False on a standby: ``snapshots.as_of``).
    """
    seen: list[int] = []
    top = 0
    first_as_of: dict[int, list] = {}
    with psycopg.connect(url, autocommit=True) as conn:
        v = lookup(conn, table)
        assert v is not None
        while not stop.is_set():
            bound = horizon(conn)  # before the snapshot of the statements below
            with conn.transaction():
                if repeatable:
                    conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                now = [
                    r[0]
                    for r in conn.execute(
                        "SELECT tx_id FROM _chrono_tx WHERE tx_id <= %s ORDER BY tx_id", (bound,)
                    )
                ]
                if [i for i in now if i <= top] != seen:
                    log.errors.append(f"ids up to {top} were {seen}, now {now}")
                    return
                seen, top = now, bound
                for n in {seen[-1], seen[len(seen) // 2]} if seen else ():
                    rows = conn.execute(
                        f"SELECT * FROM {as_of(v, point_at_tx(v, '%s', '%s'), writer=writer)} s "
                        "ORDER BY 1",
                        (n, bound),
                    ).fetchall()
                    if first_as_of.setdefault(n, rows) != rows:
                        log.errors.append(f"AS OF {n} was {first_as_of[n]}, later {rows}")
                        return


counter = itertools.count()


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plans=writers)
def test_concurrent_writers_exact_history(pg_url: str, plans: list[list[dict]]) -> None:
    table = f"t{next(counter)}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, v int)")
        v = version_table(conn, table)
        start = conn.execute("SELECT coalesce(max(tx_id), 0) FROM _chrono_tx").fetchone()[0]
    log = Log()
    stop = threading.Event()
    readers = [
        threading.Thread(target=read, args=(pg_url, table, stop, log, repeatable))
        for repeatable in (False, True)
    ]
    threads = [
        threading.Thread(target=write, args=(pg_url, table, plan, i + 1, log))
        for i, plan in enumerate(plans)
    ]
    for t in readers + threads:
        t.start()
    for t in threads:
        t.join(60)
    stop.set()
    for t in readers:
        t.join(60)
    assert not log.errors, log.errors

    with psycopg.connect(pg_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT tx_id, xid::text FROM _chrono_tx WHERE tx_id > %s ORDER BY tx_id", (start,)
        ).fetchall()
        changed = {xid for xid, left in log.committed.items() if left}
        assert {xid for _, xid in rows} <= set(log.committed), "an id for a rolled-back writer"
        assert changed <= {xid for _, xid in rows}, "a committed change without an id"
        state: dict[int, int] = {}
        for tx_id, xid in rows:
            for key, value in log.committed[xid].items():
                if value is None:
                    state.pop(key, None)
                else:
                    state[key] = value
            for shape in (as_of, as_of_history):
                got = conn.execute(
                    f"SELECT id, v FROM {shape(v, point_at_tx(v, '%s'))} s ORDER BY 1", (tx_id,)
                ).fetchall()
                assert got == sorted(state.items()), f"{shape.__name__} {tx_id}"
        assert conn.execute(f"SELECT id, v FROM {table} ORDER BY 1").fetchall() == sorted(
            state.items()
        )


def test_serializable_writers_of_different_rows_do_not_conflict(pg_url: str) -> None:
    """ChronoDB's own tables add no serialization failures: its commit step reads no index
    that other writers write."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (id int PRIMARY KEY, v int)")
        conn.execute("INSERT INTO t SELECT i, 0 FROM generate_series(1, 4000) AS i")
        version_table(conn, "t")
    failures: list[int] = []

    def write(block: int) -> None:
        with psycopg.connect(pg_url) as conn:
            conn.isolation_level = IsolationLevel.SERIALIZABLE
            for i in range(40):
                try:
                    conn.execute("UPDATE t SET v = v + 1 WHERE id = %s", (block * 1000 + i + 1,))
                    conn.commit()
                except psycopg.errors.SerializationFailure:
                    conn.rollback()
                    failures.append(block)

    threads = [threading.Thread(target=write, args=(block,)) for block in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert failures == []
    with psycopg.connect(pg_url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM _chrono_tx").fetchone()[0] == 1 + 4 * 40
