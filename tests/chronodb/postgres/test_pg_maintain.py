"""Pruning, erasure and the history check on PostgreSQL (``chronodb/postgres/maintain.py``).

The answers shared with SQLite are in ``tests/chronodb/test_backends_maintenance.py``; here,
what only PostgreSQL has: the ledger's amendments in the trims' leaves, several versions of
one key in one transaction, concurrent writers, rows changed behind the triggers' back.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import psycopg
import pytest
from tests.chronodb import pgserver

from chronodb import AuditError, ChronoDB
from chronodb.audit.digests import EMPTY
from chronodb.audit.leaf import Leaf
from chronodb.postgres import lookup
from chronodb.postgres.amendments import expected, latest
from chronodb.postgres.verify import verify, verify_transaction


@pytest.fixture
def db(pg_url: str) -> Iterator[ChronoDB]:
    database = ChronoDB(pgserver.as_url(pg_url), user="tester")
    yield database
    database.close()


def rows(db: ChronoDB, sql: str, params: list | None = None) -> list[tuple]:
    return [tuple(r) for r in db.execute(sql, params)]


def leaf_of(pg: psycopg.Connection, tx_id: int) -> Leaf:
    (blob,) = pg.execute("SELECT leaf FROM _chrono_tx WHERE tx_id = %s", (tx_id,)).fetchone()
    return Leaf.decode(bytes(blob))


def history(pg: psycopg.Connection, table: str = "t") -> list[tuple]:
    """(op, id, v) of every version of ``table``, in history order."""
    hist = lookup(pg, table).hist  # type: ignore[union-attr]
    return pg.execute(f'SELECT _chrono_op, id, v FROM "{hist}" ORDER BY _chrono_seq, id').fetchall()


def test_a_prune_seals_the_amendments_it_made(db: ChronoDB, pg: psycopg.Connection) -> None:
    db.execute("CREATE TABLE t (id int PRIMARY KEY, v text)")
    first = db.execute("INSERT INTO t VALUES (1, 'a'), (2, 'b')")
    second = db.execute("UPDATE t SET v = 'A' WHERE id = 1")
    third = db.execute("UPDATE t SET v = 'B' WHERE id = 2")
    assert db.prune_history(second.tx_time) == 1
    (prune,) = [t["tx_id"] for t in db.transactions(1)]
    leaf = leaf_of(pg, prune)
    number = lookup(pg, "t").number  # type: ignore[union-attr]
    assert (leaf.kinds, leaf.tables, leaf.user) == (("PRUNE",), (), "tester")
    # The insert lost key 1's first version; the update became key 1's insert.
    assert [(a.tx_id, a.table_id, a.versions) for a in leaf.amendments] == [
        (first.tx_id, number, 1),
        (second.tx_id, number, 1),
    ]
    assert history(pg) == [("I", 2, "b"), ("I", 1, "A"), ("U", 2, "B")]
    for tx in (first.tx_id, second.tx_id, third.tx_id, prune):
        assert verify_transaction(pg, tx), tx
    report = verify(pg)
    assert report.ok, report.problems
    assert report.notes


def test_amendments_win_over_the_leaf_and_later_ones_over_earlier() -> None:
    def leaf(tx: int, tables: tuple = (), amends: tuple = ()) -> Leaf:
        from chronodb.audit.leaf import Amendment, TableDigest

        return Leaf(
            tx,
            tx,
            "u",
            ("PRUNE",),
            tuple(TableDigest(*t) for t in tables),
            tuple(Amendment(*a) for a in amends),
        )

    d1, d2, d3 = (bytes([i]) * 32 for i in (1, 2, 3))
    amended = latest([leaf(9, amends=((1, 7, 0, EMPTY),)), leaf(5, amends=((1, 7, 2, d2),))])
    assert amended == {1: {7: (0, EMPTY)}}
    assert expected(leaf(1, ((7, 3, d1), (8, 1, d3))), amended) == [(8, 1, d3)]
    assert expected(leaf(2, ((7, 3, d1),)), amended) == [(7, 3, d1)]


def test_versions_of_one_transaction_go_together(db: ChronoDB, pg: psycopg.Connection) -> None:
    """A transaction that wrote a key in several statements left a version each: pruning
    keeps the last one AS OF needs, or none, never an earlier one that would reappear."""
    db.execute("CREATE TABLE t (id int PRIMARY KEY, v text)")
    with db.transaction():
        db.execute("INSERT INTO t VALUES (1, 'a'), (2, 'x')")
        db.execute("UPDATE t SET v = 'b' WHERE id = 1")
    with db.transaction():
        db.execute("UPDATE t SET v = 'y' WHERE id = 2")
        db.execute("DELETE FROM t WHERE id = 2")
        db.execute("INSERT INTO t VALUES (3, 'z')")
        db.execute("DELETE FROM t WHERE id = 3")
    cut = db.transactions(1)[0]
    later = db.execute("UPDATE t SET v = 'c' WHERE id = 1")
    sql = "SELECT id, v FROM t AS OF TRANSACTION ? ORDER BY id"
    points = [cut["tx_id"], later.tx_id]
    before = [rows(db, sql, [p]) for p in points]
    assert db.prune_history(cut["tx_time"]) == 6
    assert [rows(db, sql, [p]) for p in points] == before == [[(1, "b")], [(1, "c")]]
    assert history(pg) == [("I", 1, "b"), ("U", 1, "c")]
    assert db.verify_audit_integrity()
    assert db.check_history() == []


def test_trims_refuse_history_edited_behind_the_ledger(
    db: ChronoDB, pg: psycopg.Connection
) -> None:
    db.execute("CREATE TABLE t (id int PRIMARY KEY, v text)")
    db.execute("INSERT INTO t VALUES (1, 'a'), (2, 'b')")
    paid = db.execute("UPDATE t SET v = 'A'")
    hist = lookup(pg, "t").hist  # type: ignore[union-attr]
    pg.execute(f"UPDATE \"{hist}\" SET v = 'forged' WHERE id = 1 AND _chrono_op = 'I'")
    kept = history(pg)
    with pytest.raises(AuditError, match="no longer match the audit ledger"):
        db.prune_history(paid.tx_time)
    with pytest.raises(AuditError):
        db.erase("t", 1)
    assert history(pg) == kept
    assert rows(db, "SELECT id, v FROM t ORDER BY id") == [(1, "A"), (2, "A")]
    assert db.prune_history(paid.tx_time, force=True) == 2


def test_check_history_finds_rows_changed_behind_its_back(
    db: ChronoDB, pg: psycopg.Connection
) -> None:
    db.execute("CREATE TABLE t (id int PRIMARY KEY, v text, n numeric)")
    db.execute("INSERT INTO t VALUES (1, 'a', 1.5), (2, 'b', 2), (3, 'c', 3)")
    assert db.check_history() == []
    pg.execute("SET session_replication_role = replica")  # triggers off: a superuser's
    pg.execute("UPDATE t SET n = 1.50 WHERE id = 1")  # equal, but not the same value
    assert db.check_history() == [
        "t: current rows differ from history AS OF the latest transaction "
        "(1 row(s) only in the table, 1 only in history, 3 vs 3 rows)"
    ]
    pg.execute("UPDATE t SET n = 1.5 WHERE id = 1")
    pg.execute("DELETE FROM t WHERE id = 2")
    hist = lookup(pg, "t").hist  # type: ignore[union-attr]
    pg.execute(f"INSERT INTO \"{hist}\" (_chrono_xid, _chrono_op, id) VALUES ('7', 'D', 3)")
    found = db.check_history()
    assert found[0] == f"{hist}: 1 version(s) name missing transactions (first xid 7)"
    assert found[1] == (
        "t: current rows differ from history AS OF the latest transaction "
        "(1 row(s) only in the table, 1 only in history, 2 vs 2 rows)"
    )


def test_erased_values_are_gone_from_every_point(db: ChronoDB, pg: psycopg.Connection) -> None:
    db.execute("CREATE TABLE t (id int PRIMARY KEY, v text)")
    steps = [
        db.execute("INSERT INTO t VALUES (1, 'secret'), (2, 'kept')"),
        db.execute("UPDATE t SET v = 'secret2' WHERE id = 1"),
        db.execute("UPDATE t SET id = 3 WHERE id = 2"),
    ]
    with db.transaction():  # an erasure among other writes
        db.execute("INSERT INTO t VALUES (4, 'new')")
        assert db.erase("t", 1, reason="asked") == 2
    for step in steps:
        found = rows(db, "SELECT id, v FROM t AS OF TRANSACTION ? ORDER BY id", [step.tx_id])
        assert all(v is not None and not v.startswith("secret") for _, v in found), found
    everything = rows(db, "SELECT v FROM t FOR SYSTEM_TIME ALL") + rows(
        db, "SELECT after FROM chrono_changes('t', 0)"
    )
    assert not any("secret" in str(r) for r in everything)
    assert all(key != 1 for _, key, _ in history(pg))
    erased = db.transactions(1)[0]["tx_id"]
    assert leaf_of(pg, erased).kinds == ("INSERT", "ERASE")
    assert pg.execute(
        "SELECT e.reason FROM _chrono_erasures AS e JOIN _chrono_tx AS x ON x.xid = e.xid "
        "WHERE x.tx_id = %s",
        (erased,),
    ).fetchall() == [("asked",)]
    assert verify(pg).ok
    assert all(verify_transaction(pg, s.tx_id) for s in steps)


def test_erase_waits_for_the_writer_of_its_row(db: ChronoDB, pg_url: str) -> None:
    db.execute("CREATE TABLE t (id int PRIMARY KEY, v text)")
    db.execute("INSERT INTO t VALUES (1, 'a'), (2, 'b')")
    with psycopg.connect(pg_url) as writer:
        writer.execute("UPDATE t SET v = 'late' WHERE id = 1")  # holds the row until COMMIT
        erased: list[int] = []
        eraser = threading.Thread(target=lambda: erased.append(db.erase("t", 1)))
        eraser.start()
        time.sleep(0.3)
        assert eraser.is_alive()
        writer.commit()
        eraser.join(10)
    assert erased == [2]
    assert rows(db, "SELECT id FROM t FOR SYSTEM_TIME ALL ORDER BY id") == [(2,)]
    assert db.verify_audit_integrity()
    assert db.check_history() == []


def test_trims_while_writers_commit(db: ChronoDB, pg_url: str) -> None:
    """Writers on other connections keep committing while history is pruned and keys are
    erased: no writer fails, and history, tables and ledger agree afterwards."""
    db.execute("CREATE TABLE t (id int PRIMARY KEY, v int)")
    db.execute("INSERT INTO t SELECT g, 0 FROM generate_series(0, 29) AS g")
    stop = threading.Event()
    errors: list[BaseException] = []
    last: dict[int, int] = {}

    def write(keys: range) -> None:
        try:
            with psycopg.connect(pg_url, autocommit=True) as conn:
                n = 0
                while not stop.is_set():
                    n += 1
                    for key in keys:
                        conn.execute("UPDATE t SET v = %s WHERE id = %s", (n, key))
                        last[key] = n
        except BaseException as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=write, args=(range(i, i + 5),)) for i in (0, 5, 10)]
    for thread in threads:
        thread.start()
    try:
        for key in range(20, 30):
            db.prune_history(time.time())
            db.erase("t", key)
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
    assert errors == []
    assert rows(db, "SELECT id, v FROM t ORDER BY id") == [
        *((k, last[k]) for k in range(15)),
        *((k, 0) for k in range(15, 20)),
    ]
    assert db.verify_audit_integrity()
    assert db.check_history() == []
    db.prune_history(time.time())
    assert rows(db, "SELECT count(*) FROM t FOR SYSTEM_TIME ALL") == [(20,)]


def test_trims_under_immediate_constraints_are_sealed_whole(
    db: ChronoDB, pg: psycopg.Connection
) -> None:
    """Under SET CONSTRAINTS ALL IMMEDIATE the commit step runs at each queuing: the last
    leaf, the one that stands, has the trims' kinds and amendments."""
    db.execute("CREATE TABLE t (id int PRIMARY KEY, v text)")
    first = db.execute("INSERT INTO t VALUES (1, 'a'), (2, 'b')")
    second = db.execute("UPDATE t SET v = 'c'")
    with db.transaction():
        db.execute("SET CONSTRAINTS ALL IMMEDIATE")
        assert db.erase("t", 1) == 2
        assert db.prune_history(second.tx_time) == 1
    trim = db.transactions(1)[0]["tx_id"]
    leaf = leaf_of(pg, trim)
    assert (leaf.kinds, leaf.tables) == (("ERASE", "PRUNE"), ())
    assert {a.tx_id for a in leaf.amendments} == {first.tx_id, second.tx_id}
    assert verify(pg).ok
    assert verify_transaction(pg, second.tx_id)
