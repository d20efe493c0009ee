"""The audit ledger on PostgreSQL: a leaf per committed write, in SQLite's format, verified.

Leaves are sealed by the commit step for writes by any client; verification recomputes them
from history and finds rows changed behind the triggers' back; honest writes (rollbacks,
savepoints, upserts, TRUNCATE, key changes, concurrent writers) never look like tampering.
"""

from __future__ import annotations

import itertools
import threading
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from tests.chronodb import pgserver
from tests.chronodb.postgres.test_pg_concurrency import Log, write, writers

from chronodb import ChronoDB
from chronodb.audit.leaf import Leaf
from chronodb.audit.proofs import leaf_hash, verify_consistency, verify_inclusion
from chronodb.errors import AuditError
from chronodb.postgres import lookup, version_table
from chronodb.postgres.ledger import CHUNK, notes_current
from chronodb.postgres.tree import Tree, digest, leaves
from chronodb.postgres.verify import verify, verify_transaction


def records(conn: psycopg.Connection) -> list[tuple[int, int, str, Leaf]]:
    """(tx_id, tx_time, user, decoded leaf) of every transaction record."""
    rows = conn.execute('SELECT tx_id, tx_time, "user", leaf FROM _chrono_tx ORDER BY tx_id')
    return [(tx, at, who, Leaf.decode(bytes(leaf))) for tx, at, who, leaf in rows]


@pytest.fixture
def table(pg: psycopg.Connection) -> psycopg.Connection:
    """``t (id int PRIMARY KEY, v text)`` with two rows, versioned (transaction 1)."""
    pg.execute("CREATE TABLE t (id int PRIMARY KEY, v text)")
    pg.execute("INSERT INTO t VALUES (1, 'a'), (2, 'b')")
    version_table(pg, "t")
    return pg


def test_every_committed_write_has_a_leaf_with_its_record(table: psycopg.Connection) -> None:
    pg = table
    pg.execute("INSERT INTO t VALUES (3, 'c')")
    pg.execute("INSERT INTO t VALUES (3, 'x') ON CONFLICT (id) DO UPDATE SET v = 'C'")
    with pg.transaction():
        pg.execute("UPDATE t SET v = 'A' WHERE id = 1")
        with pytest.raises(psycopg.errors.UniqueViolation), pg.transaction():
            pg.execute("INSERT INTO t VALUES (9, 'gone')")
            pg.execute("INSERT INTO t VALUES (1, 'dup')")
        pg.execute("DELETE FROM t WHERE id = 2")
    with pytest.raises(RuntimeError), pg.transaction():  # rolled back: no record, no leaf
        pg.execute("INSERT INTO t VALUES (7, 'no')")
        raise RuntimeError
    pg.execute("UPDATE t SET id = 10 WHERE id = 3")
    pg.execute("UPDATE t SET v = v")  # writes no version: no transaction
    pg.execute("TRUNCATE t")
    found = records(pg)
    assert [leaf.kinds for _, _, _, leaf in found] == [
        ("ADOPT", "TABLES 1"),
        ("INSERT",),
        ("UPDATE", "INSERT"),  # an upsert: its AFTER triggers fire in this order
        ("UPDATE", "DELETE"),  # the rolled-back INSERTs went with their savepoint
        ("UPDATE",),
        ("TRUNCATE",),
    ]
    number = lookup(pg, "t").number  # type: ignore[union-attr]
    for tx, at, who, leaf in found:
        assert (leaf.tx_id, leaf.tx_time, leaf.user) == (tx, at, who)
        assert [t.table_id for t in leaf.tables] == [number]
    assert [leaf.tables[0].versions for *_, leaf in found] == [2, 1, 1, 2, 2, 2]
    assert Leaf.decode(found[0][3].encode()) == found[0][3]
    report = verify(pg)
    assert report.ok, report.problems
    assert report.tree_size == len(found)


def test_an_early_commit_step_seals_every_version(table: psycopg.Connection) -> None:
    """Under SET CONSTRAINTS ALL IMMEDIATE the commit step runs at each writing statement;
    the last leaf covers them all."""
    with table.transaction():
        table.execute("SET CONSTRAINTS ALL IMMEDIATE")
        table.execute("INSERT INTO t VALUES (3, 'c')")
        table.execute("UPDATE t SET v = 'z' WHERE id < 3")
    leaf = records(table)[-1][3]
    assert leaf.tables[0].versions == 3 and leaf.kinds == ("INSERT", "UPDATE")
    assert verify(table).ok


def test_a_long_transaction_notes_its_texts_in_chunks(table: psycopg.Connection) -> None:
    """A transaction whose versions' texts pass a chunk (``ledger.CHUNK``) across many
    statements is sealed whole, a rolled-back savepoint's chunks left out."""
    wide = "x" * (CHUNK // 50)
    with table.transaction():
        for key in range(3, 103):
            table.execute("INSERT INTO t VALUES (%s, %s)", (key, wide))
        with pytest.raises(psycopg.errors.UniqueViolation), table.transaction():
            for key in range(103, 303):
                table.execute("INSERT INTO t VALUES (%s, %s)", (key, wide))
            table.execute("INSERT INTO t VALUES (1, 'again')")
        table.execute("UPDATE t SET v = 'z' WHERE id = 1")
    leaf = records(table)[-1][3]
    assert leaf.tables[0].versions == 101
    report = verify(table)
    assert report.ok, report.problems


def test_verification_needs_an_autocommit_connection(pg_url: str) -> None:
    with psycopg.connect(pg_url) as conn, pytest.raises(AuditError, match="autocommit"):
        verify(conn)


def test_the_user_setting_is_sealed(table: psycopg.Connection) -> None:
    table.execute("SET chronodb.\"user\" = 'alice'")
    table.execute("UPDATE t SET v = 'z' WHERE id = 1")
    assert records(table)[-1][3].user == "alice"
    assert verify(table).ok


def test_leaves_cover_each_table_in_number_order(pg: psycopg.Connection) -> None:
    for name in ("b", "a"):
        pg.execute(f"CREATE TABLE {name} (id int PRIMARY KEY, v int)")
        version_table(pg, name)
    with pg.transaction():
        pg.execute("INSERT INTO a VALUES (1, 1)")
        pg.execute("INSERT INTO b VALUES (1, 1), (2, 2)")
    leaf = records(pg)[-1][3]
    assert [(t.table_id, t.versions) for t in leaf.tables] == [(1, 2), (2, 1)]
    assert verify(pg).ok


def test_proofs_verify_with_the_audit_package(table: psycopg.Connection) -> None:
    for i in range(6):
        table.execute("UPDATE t SET v = %s WHERE id = 1", (str(i),))
    old_size, old_root = digest(table)
    table.execute("INSERT INTO t VALUES (5, 'e')")
    tree = Tree(table)
    assert tree.size == old_size + 1 == len(leaves(table))
    for tx in tree.index:
        proof = tree.prove(tx)
        assert verify_inclusion(
            tree.leaf_hash(tx), proof.leaf_index, tree.size, proof.hashes, tree.root()
        )
        assert tree.leaf_hash(tx) == leaf_hash(tree.leaf(tx))
        assert tree.find(tree.leaf_hash(tx)) == tx
        assert verify_transaction(table, tx)
    consistency = tree.consistency(old_size)
    assert verify_consistency(old_size, tree.size, consistency.hashes, old_root, tree.root())
    assert verify(table, digest=(old_size, old_root)).ok
    assert not verify(table, digest=(old_size, bytes(32))).ok


def tampered(pg: psycopg.Connection, *statements: str) -> None:
    """Run ``statements`` as a superuser with triggers off (replica role)."""
    with pg.transaction():
        pg.execute("SET LOCAL session_replication_role = replica")
        for sql in statements:
            pg.execute(sql)


def tx_of(pg: psycopg.Connection, key: int) -> int:
    """The transaction of key ``key``'s newest version."""
    row = pg.execute(
        "SELECT x.tx_id FROM _chrono_h1_t AS h JOIN _chrono_tx AS x ON x.xid = h._chrono_xid "
        "WHERE h.id = %s ORDER BY h._chrono_seq DESC LIMIT 1",
        (key,),
    ).fetchone()
    assert row is not None
    return row[0]


@pytest.fixture
def written(table: psycopg.Connection) -> psycopg.Connection:
    """``t`` after a few more transactions."""
    table.execute("UPDATE t SET v = 'a2' WHERE id = 1")
    table.execute("INSERT INTO t VALUES (3, 'c')")
    table.execute("UPDATE t SET v = 'b2' WHERE id = 2")
    assert verify(table).ok
    return table


def first(pg: psycopg.Connection) -> tuple[str, int | None]:
    report = verify(pg)
    assert not report.ok
    problem = report.first_problem
    assert problem is not None
    return problem.kind, problem.tx_id


def test_an_edited_history_row_is_found(written: psycopg.Connection) -> None:
    tx = tx_of(written, 3)
    tampered(written, "UPDATE _chrono_h1_t SET v = 'evil' WHERE id = 3")
    assert first(written) == ("history row edited", tx)
    assert not verify_transaction(written, tx)


def test_a_deleted_history_row_is_found(written: psycopg.Connection) -> None:
    tx = tx_of(written, 1)
    tampered(
        written,
        "DELETE FROM _chrono_h1_t WHERE id = 1 AND _chrono_seq = "
        "(SELECT max(_chrono_seq) FROM _chrono_h1_t WHERE id = 1)",
        "UPDATE t SET v = 'a' WHERE id = 1",  # the current row agrees with what is left
    )
    assert first(written) == ("history rows deleted", tx)


def test_a_history_row_inserted_into_a_transaction_is_found(written: psycopg.Connection) -> None:
    tx = tx_of(written, 3)
    tampered(
        written,
        "INSERT INTO _chrono_h1_t (_chrono_xid, _chrono_op, id, v) SELECT _chrono_xid, 'I', "
        "4, 'd' FROM _chrono_h1_t WHERE id = 3",
        "INSERT INTO t VALUES (4, 'd')",
    )
    assert first(written) == ("history rows inserted", tx)


def test_a_history_row_of_no_transaction_is_found(written: psycopg.Connection) -> None:
    tampered(
        written,
        "INSERT INTO _chrono_h1_t (_chrono_xid, _chrono_op, id, v) VALUES ('12345', 'I', 4, 'd')",
        "INSERT INTO t VALUES (4, 'd')",
    )
    kinds = {p.kind for p in verify(written).problems}
    assert kinds == {"history rows inserted"}


def test_a_current_row_edited_behind_the_triggers_is_found(written: psycopg.Connection) -> None:
    tx = tx_of(written, 2)
    written.execute("ALTER TABLE t DISABLE TRIGGER ALL")
    written.execute("UPDATE t SET v = 'evil' WHERE id = 2")
    written.execute("ALTER TABLE t ENABLE TRIGGER ALL")
    assert first(written) == ("current row edited", tx)
    problem = verify(written).first_problem
    assert problem is not None and problem.row == 2 and problem.table == "t"


def test_a_current_row_deleted_or_added_behind_the_triggers_is_found(
    written: psycopg.Connection,
) -> None:
    tx = tx_of(written, 3)
    tampered(written, "DELETE FROM t WHERE id = 3")
    assert first(written) == ("current row deleted", tx)
    tampered(written, "INSERT INTO t VALUES (3, 'c'), (8, 'new')")
    assert first(written) == ("current row inserted", None)  # key 8 has no history at all


@pytest.mark.parametrize(
    ("change", "kind"),
    [
        ("tx_time = tx_time + 1", "transaction record edited"),
        ("\"user\" = 'mallory'", "transaction record edited"),
        ("leaf = NULL", "ledger leaf deleted"),
        ("leaf = '\\x0102'", "ledger leaf edited"),
        (
            "leaf = overlay(leaf PLACING '\\x00' FROM length(leaf) - 10)",
            "history row edited",
        ),
    ],
)
def test_an_edited_transaction_record_is_found(
    written: psycopg.Connection, change: str, kind: str
) -> None:
    tx = tx_of(written, 3)
    tampered(written, f"UPDATE _chrono_tx SET {change} WHERE tx_id = {tx}")
    assert first(written) == (kind, tx)


def test_a_swapped_xid_is_found(written: psycopg.Connection) -> None:
    tx = tx_of(written, 3)
    tampered(written, f"UPDATE _chrono_tx SET xid = '999999' WHERE tx_id = {tx}")
    assert first(written)[1] in (tx, None)
    kinds = {p.kind for p in verify(written).problems}
    assert "history rows inserted" in kinds


def shuffle_keys(url: str, table: str, rounds: int) -> None:
    """Key changes, multi-row statements and early commit steps on keys 100 and up."""
    with psycopg.connect(url) as conn:
        for i in range(rounds):
            with conn.transaction():
                if i % 3 == 0:
                    conn.execute("SET CONSTRAINTS ALL IMMEDIATE")
                conn.execute(f"INSERT INTO {table} VALUES (100 + %s, %s), (200 + %s, 0)", (i, i, i))
                conn.execute(f"UPDATE {table} SET id = id + 1000 WHERE id = 100 + %s", (i,))
                conn.execute(f"UPDATE {table} SET v = v + 1 WHERE id >= 200 AND id < 1000")
                conn.execute(f"DELETE FROM {table} WHERE id = 200 + %s", (i // 2,))


counter = itertools.count()


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plans=writers)
def test_verification_passes_after_concurrent_writers(pg_url: str, plans: list[list[dict]]) -> None:
    table = f"t{next(counter)}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, v int)")
        version_table(conn, table)
    log = Log()
    threads = [
        threading.Thread(target=write, args=(pg_url, table, plan, i + 1, log))
        for i, plan in enumerate(plans)
    ]
    threads.append(threading.Thread(target=shuffle_keys, args=(pg_url, table, 5)))
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        if next(counter) % 2:
            conn.execute(f"TRUNCATE {table}")
        report = verify(conn)
        assert report.ok, report.problems
        assert report.checked["transactions"] == report.tree_size
        assert all(leaf is not None for _, leaf in leaves(conn))


CTID_NOTES = Path(__file__).parent / "fixtures" / "ledger_notes_ctids.sql"


def test_a_database_whose_triggers_noted_ctids_is_upgraded_on_open(pg_url: str) -> None:
    """A database made while the history triggers noted ctids for the seal to read back:
    its leaves, sealed by its own functions, verify after ChronoDB opens it, which makes its
    triggers anew and drops the ctid digest function; so do the leaves sealed after, in a
    transaction of several statements too."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(CTID_NOTES.read_text())
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("INSERT INTO accounts VALUES (1, 10.5, 'a'), (2, 20, 'b')")
        conn.execute("UPDATE accounts SET balance = balance * 2 WHERE id = 1")
        assert not notes_current(conn, "public")
        before = records(conn)
    assert len(before) == 2
    db = ChronoDB(pgserver.as_url(pg_url))
    db.execute("UPDATE accounts SET note = 'c' WHERE id = 1")
    db.execute("BEGIN")
    db.execute("INSERT INTO accounts VALUES (3, 1.5e-300, NULL)")
    db.execute("DELETE FROM accounts WHERE id = 2")
    db.execute("COMMIT")
    db.close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        assert notes_current(conn, "public")
        old = conn.execute("SELECT to_regprocedure('_chrono_d1_accounts(tid[])')").fetchone()
        assert old == (None,)
        after = records(conn)
        assert after[:2] == before
        assert [leaf.tables[0].versions for _, _, _, leaf in after[2:]] == [1, 2]
        report = verify(conn)
        assert report.ok, report.problems
