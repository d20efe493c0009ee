"""The horizon on a hot standby (``install._horizon_function``'s recovery branch).

A standby shows transactions in the order of their commit records, which is not id order:
a transaction takes its id in its commit step and writes its commit record later, so one
that took the next id can overtake it. These tests run a primary and its streaming standby
of their own (``tests/chronodb/replicas.py``) and check that a standby's horizon never lets
a point show a state that changes later.
"""

from __future__ import annotations

import threading
import time

import psycopg
from hypothesis import HealthCheck, given, settings
from tests.chronodb.postgres.test_pg_concurrency import Log, read, write, writers
from tests.chronodb.replicas import Pair, wait_for_replay

from chronodb.postgres import horizon, install, lookup, version_table
from chronodb.postgres.snapshots import as_of, point_at_tx

NAP = 1.5  # seconds the slow transaction spends between its id and its commit record


def _rows(conn: psycopg.Connection, table: str, n: int, bound: int) -> list[tuple]:
    v = lookup(conn, table)
    assert v is not None
    return conn.execute(
        f"SELECT * FROM {as_of(v, point_at_tx(v, '%s', '%s'), writer=False)} s ORDER BY 1",
        (n, bound),
    ).fetchall()


def test_a_later_id_visible_first_is_not_within_the_horizon(pair_urls: Pair) -> None:
    with psycopg.connect(pair_urls.primary, autocommit=True) as p:
        install(p)
        p.execute("CREATE TABLE t (id int PRIMARY KEY, v int)")
        p.execute("INSERT INTO t VALUES (1, 0), (2, 0)")
        version_table(p, "t")
        # A deferred trigger queued after the commit step's: it runs after the id is taken.
        p.execute("CREATE TABLE slow (id int)")
        p.execute(
            "CREATE FUNCTION nap() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN PERFORM pg_sleep({NAP}); RETURN NULL; END $$"
        )
        p.execute(
            "CREATE CONSTRAINT TRIGGER nap AFTER INSERT ON slow DEFERRABLE INITIALLY DEFERRED "
            "FOR EACH ROW EXECUTE FUNCTION nap()"
        )
        before = p.execute("SELECT last_value FROM _chrono_tx_next").fetchone()[0]

        def slow() -> None:
            with psycopg.connect(pair_urls.primary) as conn:
                conn.execute("UPDATE t SET v = 1 WHERE id = 1")
                conn.execute("INSERT INTO slow VALUES (1)")
                conn.commit()

        first = threading.Thread(target=slow)
        first.start()
        while p.execute("SELECT last_value FROM _chrono_tx_next").fetchone()[0] == before:
            time.sleep(0.01)
        n = before + 1  # the slow transaction's id, not yet visible
        p.execute("UPDATE t SET v = 2 WHERE id = 2")  # takes n + 1 and commits at once
        wait_for_replay(pair_urls.primary, pair_urls.standby)
        with psycopg.connect(pair_urls.standby, autocommit=True) as s:
            ids = [r[0] for r in s.execute("SELECT tx_id FROM _chrono_tx ORDER BY tx_id")]
            assert n not in ids and n + 1 in ids, "the later id became visible first"
            bound = horizon(s)
            assert bound < n
            assert _rows(s, "t", n + 1, bound) == [(1, 0), (2, 0)]
            first.join(30)
            wait_for_replay(pair_urls.primary, pair_urls.standby)
            bound = horizon(s)
            assert bound == n + 1
            assert _rows(s, "t", n, bound) == [(1, 1), (2, 0)]
            assert _rows(s, "t", n + 1, bound) == [(1, 1), (2, 2)]


def test_an_upgraded_database_is_bounded_before_any_new_commit(pair_urls: Pair) -> None:
    """A database installed before the settled mark: install adds it at the horizon."""
    with psycopg.connect(pair_urls.primary, autocommit=True) as p:
        install(p)
        p.execute("CREATE TABLE t (id int PRIMARY KEY, v int)")
        version_table(p, "t")
        for i in range(3):
            p.execute("INSERT INTO t VALUES (%s, 0)", (i,))
        p.execute("ALTER TABLE _chrono_tx DROP COLUMN settled")
        p.execute("DROP SEQUENCE _chrono_settled")
        install(p)
        top = p.execute("SELECT max(tx_id) FROM _chrono_tx").fetchone()[0]
    wait_for_replay(pair_urls.primary, pair_urls.standby)
    with psycopg.connect(pair_urls.standby, autocommit=True) as s:
        assert horizon(s) == top


def test_a_reset_settled_mark_starts_at_the_committing_id(pair_urls: Pair) -> None:
    """After a crash the unlogged mark is reset, and every id handed out before is settled."""
    with psycopg.connect(pair_urls.primary, autocommit=True) as p:
        install(p)
        p.execute("CREATE TABLE t (id int PRIMARY KEY, v int)")
        version_table(p, "t")
        p.execute("ALTER SEQUENCE _chrono_settled RESTART")
        p.execute("INSERT INTO t VALUES (1, 0)")
        top, settled = p.execute(
            "SELECT tx_id, settled FROM _chrono_tx ORDER BY tx_id DESC LIMIT 1"
        ).fetchone()
        assert settled == top
    wait_for_replay(pair_urls.primary, pair_urls.standby)
    with psycopg.connect(pair_urls.standby, autocommit=True) as s:
        assert horizon(s) == top


@settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plans=writers)
def test_standby_readers_see_stable_snapshots(pair_urls: Pair, plans: list[list[dict]]) -> None:
    """Writers on the primary; readers on the standby: once a standby reader has seen id n,
    no id below n appears later, nor does AS OF n change; afterwards the standby's AS OF n
    equals the primary's for every n."""
    table = f"t{time.monotonic_ns()}"
    with psycopg.connect(pair_urls.primary, autocommit=True) as conn:
        install(conn)
        conn.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, v int)")
        version_table(conn, table)
    wait_for_replay(pair_urls.primary, pair_urls.standby)
    log = Log()
    stop = threading.Event()
    readers = [
        threading.Thread(target=read, args=(pair_urls.standby, table, stop, log, repeatable, False))
        for repeatable in (False, True)
    ]
    threads = [
        threading.Thread(target=write, args=(pair_urls.primary, table, plan, i + 1, log))
        for i, plan in enumerate(plans)
    ]
    for t in readers + threads:
        t.start()
    for t in threads:
        t.join(60)
    wait_for_replay(pair_urls.primary, pair_urls.standby)
    stop.set()
    for t in readers:
        t.join(60)
    assert not log.errors, log.errors
    with (
        psycopg.connect(pair_urls.primary, autocommit=True) as p,
        psycopg.connect(pair_urls.standby, autocommit=True) as s,
    ):
        top = horizon(p)
        assert horizon(s) == top
        for n in range(top + 1):
            assert _rows(s, table, n, top) == _rows(p, table, n, top), f"AS OF {n}"
