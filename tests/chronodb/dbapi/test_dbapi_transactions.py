"""Transactions through the driver: sqlite3's rules for when they begin, and each one a
single ChronoDB transaction (one tx id, in db.transactions(), sealed into the ledger)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chronodb import dbapi


def tx_ids(conn: dbapi.Connection) -> list[int]:
    return [t["tx_id"] for t in conn.db.transactions()]


def test_statements_until_commit_are_one_transaction(conn: dbapi.Connection) -> None:
    before = tx_ids(conn)
    cursor = conn.cursor()
    cursor.execute("INSERT INTO items VALUES (1, 'pen', 1)")
    first = cursor.tx_id
    assert conn.in_transaction and first is not None
    cursor.execute("UPDATE items SET qty = 2 WHERE id = 1")
    assert cursor.tx_id == first
    cursor.executemany("INSERT INTO items VALUES (?, ?, ?)", [(2, "ink", 1), (3, "cap", 1)])
    assert cursor.tx_id == first
    conn.execute("DELETE FROM items WHERE id = 3")
    assert cursor.tx_hash is None  # not sealed before it commits
    conn.commit()
    assert not conn.in_transaction
    assert tx_ids(conn) == [first, *before]
    assert cursor.tx_hash == conn.db.tx_hash(first) is not None
    history = conn.db.get_change_history("items", 1)
    assert {e["tx_id"] for e in history} == {first}
    assert conn.db.verify_audit_integrity() is True


def test_rollback_leaves_no_version_and_no_transaction(conn: dbapi.Connection) -> None:
    conn.execute("INSERT INTO items VALUES (1, 'pen', 1)")
    conn.commit()
    before = tx_ids(conn)
    conn.execute("UPDATE items SET name = 'ink' WHERE id = 1")
    conn.execute("INSERT INTO items VALUES (2, 'cap', 1)")
    conn.rollback()
    assert tx_ids(conn) == before
    assert conn.execute("SELECT id, name FROM items").fetchall() == [(1, "pen")]
    assert [e["operation"] for e in conn.db.get_change_history("items", 1)] == ["INSERT"]
    assert conn.db.get_change_history("items", 2) == []
    assert conn.db.check_history() == []


def test_reads_and_ddl_open_no_transaction(conn: dbapi.Connection) -> None:
    conn.execute("SELECT * FROM items")
    assert not conn.in_transaction
    conn.execute("CREATE TABLE other (x)")  # sqlite3 runs DDL on its own too
    assert not conn.in_transaction


def test_commit_and_rollback_without_a_transaction_do_nothing(conn: dbapi.Connection) -> None:
    before = tx_ids(conn)
    conn.commit()
    conn.rollback()
    assert tx_ids(conn) == before


def test_the_context_manager_commits_or_rolls_back_and_stays_open(
    conn: dbapi.Connection,
) -> None:
    with conn:
        conn.execute("INSERT INTO items VALUES (1, 'pen', 1)")
    assert not conn.in_transaction
    with pytest.raises(RuntimeError), conn:
        conn.execute("INSERT INTO items VALUES (2, 'ink', 1)")
        raise RuntimeError
    assert conn.execute("SELECT id FROM items").fetchall() == [(1,)]
    assert not conn.closed


def test_isolation_level_none_runs_each_statement_alone(conn: dbapi.Connection) -> None:
    conn.isolation_level = None
    first = conn.execute("INSERT INTO items VALUES (1, 'pen', 1)").tx_id
    second = conn.execute("INSERT INTO items VALUES (2, 'ink', 1)").tx_id
    assert not conn.in_transaction
    assert first != second and tx_ids(conn)[:2] == [second, first]
    conn.execute("BEGIN")  # explicit transactions still work
    third = conn.execute("INSERT INTO items VALUES (3, 'cap', 1)").tx_id
    fourth = conn.execute("INSERT INTO items VALUES (4, 'nib', 1)").tx_id
    conn.execute("COMMIT")
    assert third == fourth


def test_setting_isolation_level_none_commits_what_is_pending(conn: dbapi.Connection) -> None:
    conn.execute("INSERT INTO items VALUES (1, 'pen', 1)")
    conn.isolation_level = None
    assert not conn.in_transaction
    assert conn.db.execute("SELECT count(*) FROM items").scalar() == 1
    with pytest.raises(dbapi.ProgrammingError, match="isolation_level"):
        conn.isolation_level = "SOMETIMES"
    conn.isolation_level = "IMMEDIATE"
    assert conn.isolation_level == "IMMEDIATE"


def test_autocommit_true_and_false_follow_sqlite3_3_12(conn: dbapi.Connection) -> None:
    assert conn.autocommit == dbapi.LEGACY_TRANSACTION_CONTROL
    conn.autocommit = False  # PEP 249: always in a transaction
    conn.execute("SELECT 1")
    assert conn.in_transaction
    conn.execute("INSERT INTO items VALUES (1, 'pen', 1)")
    conn.commit()
    assert not conn.in_transaction  # until the next statement opens the next one
    conn.execute("SELECT count(*) FROM items")
    assert conn.in_transaction
    conn.autocommit = True  # commits what is pending, then none are implicit
    assert not conn.in_transaction
    conn.execute("INSERT INTO items VALUES (2, 'ink', 1)")
    assert not conn.in_transaction
    with pytest.raises(dbapi.ProgrammingError, match="autocommit"):
        conn.autocommit = "yes"


def test_close_rolls_back_an_open_transaction(tmp_path: Path) -> None:
    conn = dbapi.connect(tmp_path / "a.db")
    conn.execute("CREATE TABLE t (x)")
    conn.execute("INSERT INTO t VALUES (1)")
    conn.close()
    again = dbapi.connect(tmp_path / "a.db")
    assert again.execute("SELECT count(*) FROM t").fetchone() == (0,)
    again.close()


def test_a_failed_statement_keeps_the_transaction_as_sqlite3_does(
    conn: dbapi.Connection,
) -> None:
    conn.execute("INSERT INTO items VALUES (1, 'pen', 1)")
    with pytest.raises(dbapi.IntegrityError):
        conn.execute("INSERT INTO items VALUES (1, 'dup', 1)")
    assert conn.in_transaction
    conn.execute("INSERT INTO items VALUES (2, 'ink', 1)")
    conn.commit()
    assert conn.execute("SELECT id FROM items ORDER BY id").fetchall() == [(1,), (2,)]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(1, 5)), min_size=1, max_size=12))
def test_each_committed_transaction_is_one_tx_and_rolled_back_ones_leave_none(
    tmp_path_factory: pytest.TempPathFactory, steps: list[tuple[bool, int]]
) -> None:
    conn = dbapi.connect(tmp_path_factory.mktemp("p") / "a.db")
    conn.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v INTEGER)")
    expected = {}
    next_key = 0
    for commit, writes in steps:
        start = len(tx_ids(conn))
        pending = {}
        for _ in range(writes):
            next_key += 1
            conn.execute("INSERT INTO t VALUES (?, ?)", (next_key, writes))
            pending[next_key] = writes
        if commit:
            conn.commit()
            expected.update(pending)
            assert len(tx_ids(conn)) == start + 1
        else:
            conn.rollback()
            assert len(tx_ids(conn)) == start
    assert dict(conn.execute("SELECT k, v FROM t").fetchall()) == expected
    assert conn.db.verify_audit_integrity() is True
    conn.close()
