"""Versioning a PostgreSQL table: every committed write leaves versions under a
commit-order id; rolled-back work leaves nothing; AS OF each id equals a replay."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from chronodb.errors import SchemaError
from chronodb.postgres import horizon, install, lookup, version_table
from chronodb.postgres.names import ALLOCATE_LOCK, COMMITTING, NAME_BYTES, trigger_names
from chronodb.postgres.snapshots import (
    as_of,
    as_of_history,
    as_of_key,
    point_at_time,
    point_at_tx,
    range_condition,
    versions,
)


def rows_at(conn: psycopg.Connection, table: str, tx: int) -> list[tuple]:
    """The table AS OF ``tx``, the same by both shapes of the snapshot."""
    v = lookup(conn, table)
    assert v is not None
    found = [
        conn.execute(
            f"SELECT * FROM {shape(v, point_at_tx(v, '%s'))} AS s ORDER BY 1, 2", (tx,)
        ).fetchall()
        for shape in (as_of, as_of_history)
    ]
    assert found[0] == found[1], f"as_of and as_of_history differ at {tx}"
    return found[0]


def ids(conn: psycopg.Connection) -> list[int]:
    return [r[0] for r in conn.execute("SELECT tx_id FROM _chrono_tx ORDER BY tx_id")]


def last_id(conn: psycopg.Connection) -> int:
    return conn.execute("SELECT coalesce(max(tx_id), 0) FROM _chrono_tx").fetchone()[0]


def current(conn: psycopg.Connection, table: str) -> list[tuple]:
    return conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()


def test_as_of_each_transaction_equals_a_replay(pg: psycopg.Connection) -> None:
    pg.execute("CREATE TABLE t (id int, k text, v text, PRIMARY KEY (id, k))")
    pg.execute("INSERT INTO t VALUES (1, 'a', 'adopted')")
    version_table(pg, "t")
    steps = [
        "INSERT INTO t VALUES (2, 'b', 'two'), (3, 'c', 'three')",
        "UPDATE t SET v = 'TWO' WHERE id = 2",
        "DELETE FROM t WHERE id = 1",
        "INSERT INTO t VALUES (1, 'a', 'back')",
        "UPDATE t SET id = id + 10 WHERE id = 3",  # a key change: tombstone and insert
        "INSERT INTO t VALUES (2, 'b', 'x') ON CONFLICT (id, k) DO UPDATE SET v = 'upsert'",
        "TRUNCATE t",
        "INSERT INTO t VALUES (5, 'e', 'after truncate')",
    ]
    seen = {last_id(pg): current(pg, "t")}
    for step in steps:
        pg.execute(step)
        seen[last_id(pg)] = current(pg, "t")
    assert len(seen) == len(steps) + 1, "every step is one transaction with its own id"
    for tx, state in seen.items():
        assert rows_at(pg, "t", tx) == state, tx
    assert rows_at(pg, "t", 0) == []


def test_as_of_time_and_key(pg: psycopg.Connection) -> None:
    pg.execute("CREATE TABLE t (id int PRIMARY KEY, v int)")
    v = version_table(pg, "t")
    times = []
    for value in range(3):
        pg.execute(
            "INSERT INTO t VALUES (1, %s) ON CONFLICT (id) DO UPDATE SET v = %s", [value] * 2
        )
        times.append(pg.execute("SELECT max(tx_time) FROM _chrono_tx").fetchone()[0])
    for value, at in enumerate(times):
        rows = pg.execute(f"SELECT v FROM {as_of(v, point_at_time(v, '%s'))} AS s", (at,))
        assert rows.fetchall() == [(value,)]
        keyed = as_of_key(v, point_at_time(v, "%s"), ["%s"])
        assert pg.execute(f"SELECT v FROM {keyed} AS s", (at + 1, 1)).fetchall() == [(value,)]
    assert (
        pg.execute(
            f"SELECT * FROM {as_of(v, point_at_time(v, '%s'))} s", (times[0] - 1,)
        ).fetchall()
        == []
    )


def test_versions_with_periods(pg: psycopg.Connection) -> None:
    pg.execute("CREATE TABLE t (id int PRIMARY KEY, v int)")
    v = version_table(pg, "t")
    pg.execute("INSERT INTO t VALUES (1, 10)")
    with pg.transaction():  # two writes of one key in one transaction: one version seen
        pg.execute("UPDATE t SET v = 11")
        pg.execute("UPDATE t SET v = 12")
    pg.execute("DELETE FROM t")
    t1, t2, t3 = (r[0] / 1e6 for r in pg.execute("SELECT tx_time FROM _chrono_tx ORDER BY 1"))
    everything = pg.execute(f"SELECT * FROM {versions(v)} AS s ORDER BY sys_from").fetchall()
    assert everything == [(1, 10, t1, t2), (1, 12, t2, t3)]
    between = versions(v, range_condition("BETWEEN", "%s", "%s"))
    lo = hi = int(t1 * 1e6)
    assert pg.execute(f"SELECT v FROM {between} AS s", (lo, hi)).fetchall() == [(10,)]
    first = pg.execute("SELECT min(tx_id) FROM _chrono_tx").fetchone()[0]
    bounded = versions(v, horizon="%s")  # as a reader whose horizon was the first commit
    assert pg.execute(f"SELECT * FROM {bounded} AS s", (first,)).fetchall() == [(1, 10, t1, None)]


def test_rollback_leaves_no_id_and_no_history(pg: psycopg.Connection) -> None:
    pg.execute("CREATE TABLE t (id int PRIMARY KEY, v int)")
    v = version_table(pg, "t")
    before = ids(pg)
    with pytest.raises(psycopg.errors.DivisionByZero), pg.transaction():
        pg.execute("INSERT INTO t VALUES (1, 1)")
        pg.execute("SELECT 1 / 0")
    with pg.transaction():  # a savepoint rolled back: the transaction versioned nothing
        pg.execute("SAVEPOINT s")
        pg.execute("INSERT INTO t VALUES (2, 2)")
        pg.execute("ROLLBACK TO SAVEPOINT s")
    pg.execute("UPDATE t SET v = 5")  # no rows: nothing to version
    assert ids(pg) == before
    assert pg.execute(f"SELECT count(*) FROM {v.hist}").fetchone()[0] == 0
    assert pg.execute("SELECT count(*) FROM _chrono_pending").fetchone()[0] == 0


def test_savepoint_rollback_then_write_gets_one_id(pg: psycopg.Connection) -> None:
    pg.execute("CREATE TABLE t (id int PRIMARY KEY, v int)")
    version_table(pg, "t")
    with pg.transaction():
        pg.execute("SAVEPOINT s")
        pg.execute("INSERT INTO t VALUES (1, 1)")  # queues the commit step, then undone
        pg.execute("ROLLBACK TO SAVEPOINT s")
        pg.execute("INSERT INTO t VALUES (2, 2)")
    (tx,) = ids(pg)
    assert rows_at(pg, "t", tx) == [(2, 2)]
    assert rows_at(pg, "t", tx - 1) == []


def test_no_change_update_writes_no_version(pg: psycopg.Connection) -> None:
    pg.execute("CREATE TABLE t (id int PRIMARY KEY, v jsonb)")
    v = version_table(pg, "t")
    pg.execute("""INSERT INTO t VALUES (1, '{"a": 1}')""")
    pg.execute("UPDATE t SET v = v")
    assert len(ids(pg)) == 1
    assert pg.execute(f"SELECT count(*) FROM {v.hist}").fetchone()[0] == 1


def test_ids_and_times_increase_with_the_user_recorded(pg: psycopg.Connection) -> None:
    pg.execute("CREATE TABLE t (id int PRIMARY KEY)")
    version_table(pg, "t")
    pg.execute("SET chronodb.\"user\" = 'alice'")  # user is a keyword: quoted
    pg.execute("INSERT INTO t VALUES (1)")
    pg.execute("SELECT set_config('chronodb.user', '', false)")
    pg.execute("INSERT INTO t VALUES (2)")
    rows = pg.execute('SELECT tx_id, tx_time, "user" FROM _chrono_tx ORDER BY tx_id').fetchall()
    assert [r[2] for r in rows] == ["alice", "postgres"]
    assert rows[0][0] < rows[1][0] and rows[0][1] < rows[1][1]
    assert abs(rows[1][1] / 1e6 - time.time()) < 60


def test_table_without_primary_key_is_refused(pg: psycopg.Connection) -> None:
    pg.execute("CREATE TABLE loose (v int)")
    with pytest.raises(SchemaError, match="loose has no primary key") as caught:
        version_table(pg, "loose")
    assert caught.value.table == "loose"
    with pytest.raises(SchemaError, match=r"no such table: public\.missing"):
        version_table(pg, "missing")


def test_install_and_version_table_are_idempotent(pg: psycopg.Connection) -> None:
    pg.execute("CREATE TABLE t (id int PRIMARY KEY)")
    install(pg)
    install(pg)
    first = version_table(pg, "t")
    assert version_table(pg, "t") == first
    pg.execute("INSERT INTO t VALUES (1)")
    assert pg.execute(f"SELECT count(*) FROM {first.hist}").fetchone()[0] == 1


def test_allocation_is_serialized_under_the_lock(pg_url: str, pg: psycopg.Connection) -> None:
    """While another session holds the allocation lock, a writer's COMMIT waits for its id."""
    pg.execute("CREATE TABLE t (id int PRIMARY KEY)")
    version_table(pg, "t")
    done = threading.Event()

    def write() -> None:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute("INSERT INTO t VALUES (1)")
        done.set()

    pg.execute("SELECT pg_advisory_lock(%s)", (ALLOCATE_LOCK,))
    writer = threading.Thread(target=write)
    writer.start()
    try:
        assert not done.wait(0.5), "a commit got an id without the allocation lock"
        assert ids(pg) == []
    finally:
        pg.execute("SELECT pg_advisory_unlock(%s)", (ALLOCATE_LOCK,))
    writer.join(10)
    assert done.is_set() and len(ids(pg)) == 1


def test_horizon_waits_for_a_transaction_still_committing(
    pg_url: str, pg: psycopg.Connection
) -> None:
    """An id handed out but not yet visible holds the horizon back until it resolves."""
    pg.execute("CREATE TABLE t (id int PRIMARY KEY)")
    version_table(pg, "t")
    pg.execute("INSERT INTO t VALUES (1)")
    assert horizon(pg) == 1
    # What a committing writer holds between its id and its visibility, held by hand here.
    (stalled,) = pg.execute("SELECT nextval('_chrono_tx_next')").fetchone()
    pg.execute("SELECT pg_advisory_lock(%s)", (COMMITTING + stalled,))
    pg.execute("INSERT INTO t VALUES (2)")  # committed and visible, with a larger id
    assert ids(pg) == [1, stalled + 1]
    got: list[int] = []

    def read() -> None:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            got.append(horizon(conn))

    reader = threading.Thread(target=read)
    reader.start()
    reader.join(0.5)
    assert got == [], "the horizon passed an id still committing"
    pg.execute("SELECT pg_advisory_unlock(%s)", (COMMITTING + stalled,))
    reader.join(10)
    assert got == [stalled + 1]  # the stalled id resolved as a gap


def test_a_transaction_keeps_writing_after_an_early_id(pg: psycopg.Connection) -> None:
    """SET CONSTRAINTS ALL IMMEDIATE hands the id out per statement; the last one stands."""
    pg.execute("CREATE TABLE t (id int PRIMARY KEY, v int)")
    version_table(pg, "t")
    pg.execute("INSERT INTO t VALUES (9, 9)")
    with pg.transaction():
        pg.execute("SET CONSTRAINTS ALL IMMEDIATE")
        pg.execute("INSERT INTO t VALUES (1, 1)")
        pg.execute("UPDATE t SET v = 10 WHERE id = 9")
        pg.execute("INSERT INTO t VALUES (2, 2)")
    first, last = ids(pg)
    assert last > first + 1
    assert rows_at(pg, "t", last) == [(1, 1), (2, 2), (9, 10)]
    assert rows_at(pg, "t", last - 1) == [(9, 9)]


def test_an_id_given_to_a_transaction_that_then_fails_stays_unused(
    pg: psycopg.Connection,
) -> None:
    pg.execute("CREATE TABLE t (id int PRIMARY KEY, v int)")
    version_table(pg, "t")
    with pytest.raises(psycopg.errors.DivisionByZero), pg.transaction():
        pg.execute("SET CONSTRAINTS ALL IMMEDIATE")
        pg.execute("INSERT INTO t VALUES (1, 1)")  # gets its id here
        pg.execute("SELECT 1 / 0")
    pg.execute("INSERT INTO t VALUES (2, 2)")
    assert ids(pg) == [2]
    assert horizon(pg) == 2
    assert rows_at(pg, "t", 1) == []
    assert rows_at(pg, "t", 2) == [(2, 2)]
    assert pg.execute("SELECT count(*) FROM _chrono_pending").fetchone()[0] == 0


def test_as_of_inside_a_writing_transaction_leaves_out_its_own_changes(
    pg_url: str, pg: psycopg.Connection
) -> None:
    pg.execute("CREATE TABLE t (id int PRIMARY KEY, v int)")
    pg.execute("INSERT INTO t VALUES (1, 1), (2, 2)")
    version_table(pg, "t")
    with psycopg.connect(pg_url) as other:
        other.execute("UPDATE t SET v = 10 WHERE id = 1")  # open, written before the point
        other.execute("INSERT INTO t VALUES (3, 3)")
        pg.execute("UPDATE t SET v = 20 WHERE id = 2")  # commits: the point
        n = last_id(pg)
        v = lookup(other, "t")
        assert v is not None
        rows = other.execute(
            f"SELECT * FROM {as_of(v, point_at_tx(v, '%s'))} AS s ORDER BY 1", (n,)
        ).fetchall()
        assert rows == [(1, 1), (2, 20)]
        other.commit()
    assert rows_at(pg, "t", last_id(pg)) == [(1, 10), (2, 20), (3, 3)]


def test_long_and_mixed_case_table_names(pg: psycopg.Connection) -> None:
    """Derived names past PostgreSQL's 63 bytes are cut; tables sharing a prefix stay apart."""
    names = ["Événements " + "x" * 44 + " first", "Événements " + "x" * 44 + " other"]
    for name in names:
        pg.execute(f'CREATE TABLE "{name}" (id int PRIMARY KEY, v text)')
        v = version_table(pg, name)
        assert len(v.hist.encode()) <= NAME_BYTES
        assert all(len(t.encode()) <= 63 for t in trigger_names(v.hist))
        pg.execute(f'INSERT INTO "{name}" VALUES (1, %s)', (name[-5:],))
    for name in names:
        assert rows_at(pg, name, last_id(pg)) == [(1, name[-5:])]


def test_truncate_of_a_renamed_table_is_versioned(pg: psycopg.Connection) -> None:
    pg.execute("CREATE TABLE t (id int PRIMARY KEY, v int)")
    v = version_table(pg, "t")
    pg.execute("INSERT INTO t VALUES (1, 1), (2, 2)")
    pg.execute("ALTER TABLE t RENAME TO renamed")
    pg.execute("TRUNCATE renamed")
    ops = pg.execute(f"SELECT _chrono_op, id FROM {v.hist} ORDER BY _chrono_seq, id").fetchall()
    assert ops == [("I", 1), ("I", 2), ("D", 1), ("D", 2)]
    assert len(ids(pg)) == 2


def test_a_column_with_chronodb_s_prefix_is_refused(pg: psycopg.Connection) -> None:
    pg.execute("CREATE TABLE t (id int PRIMARY KEY, _chrono_op text)")
    with pytest.raises(SchemaError, match="column named _chrono_op") as caught:
        version_table(pg, "t")
    assert caught.value.column == "_chrono_op"
    assert lookup(pg, "t") is None


def test_public_names() -> None:
    import chronodb.postgres

    expected = ["Versioned", "horizon", "install", "installed", "lookup", "version_table"]
    assert chronodb.postgres.__all__ == expected


def test_columns_named_like_the_triggers_aliases_are_versioned(pg: psycopg.Connection) -> None:
    pg.execute(
        "CREATE TABLE odd (id int PRIMARY KEY, n int, o int, s int, h int, w int, p int, k int)"
    )
    version_table(pg, "odd")
    states = []
    for sql in (
        "INSERT INTO odd VALUES (1, 1, 1, 1, 1, 1, 1, 1), (2, 2, 2, 2, 2, 2, 2, 2)",
        "UPDATE odd SET n = n + 10, o = o + 10 WHERE id = 1",
        "UPDATE odd SET id = 3 WHERE id = 2",
        "DELETE FROM odd WHERE id = 1",
    ):
        pg.execute(sql)
        states.append((last_id(pg), current(pg, "odd")))
    for tx, rows in states:
        assert rows_at(pg, "odd", tx) == rows
