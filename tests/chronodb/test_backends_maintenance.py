"""Trimming and checking history answers alike on SQLite and on PostgreSQL: prune_history,
retention_days, erase, check_history, and chrono_changes() in SQL.

Every test runs once per backend (the ``backend`` fixture, ``conftest.py``); each compares a
backend's answers with its own transaction ids and times.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chronodb import ChronoDB, Result

SCHEMA = "CREATE TABLE accounts (id INTEGER PRIMARY KEY, owner TEXT, balance INTEGER)"


def rows(db: ChronoDB, sql: str, params: list | None = None) -> list[tuple]:
    return [tuple(r) for r in db.execute(sql, params)]


@pytest.fixture
def accounts(backend_db: ChronoDB) -> tuple[ChronoDB, dict[str, Result]]:
    """Two accounts opened, one paid into, the other closed."""
    db = backend_db
    db.execute(SCHEMA)
    steps = {
        "opened": db.execute("INSERT INTO accounts VALUES (1, 'ann', 0), (2, 'ben', 5)"),
        "paid": db.execute("UPDATE accounts SET balance = balance + 100 WHERE id = 1"),
        "closed": db.execute("DELETE FROM accounts WHERE id = 2"),
    }
    return db, steps


def as_of(db: ChronoDB, step: Result) -> list[tuple]:
    return rows(db, "SELECT * FROM accounts AS OF TIMESTAMP ? ORDER BY id", [step.tx_time])


# ------------------------------------------------------------------ pruning
def test_prune_keeps_every_point_from_the_cut_on(accounts: tuple) -> None:
    db, steps = accounts
    kept = {name: as_of(db, step) for name, step in steps.items() if name != "opened"}
    assert db.prune_history(steps["paid"].tx_time) == 1  # ann's first version ended there
    assert {name: as_of(db, steps[name]) for name in kept} == kept
    history = db.get_change_history("accounts", 1)
    assert [(h["operation"], h["values"]["balance"]) for h in history] == [("INSERT", 100)]
    assert [h["operation"] for h in db.get_change_history("accounts", 2)] == ["INSERT", "DELETE"]
    assert db.verify_audit_integrity()
    assert db.check_history() == []


def test_prune_everything_before_now_keeps_current_rows(accounts: tuple) -> None:
    db, steps = accounts
    assert db.prune_history(time.time() + 1) == 3
    assert db.get_change_history("accounts", 2) == []
    assert rows(db, "SELECT id, balance, sys_from, sys_to FROM accounts FOR SYSTEM_TIME ALL") == [
        (1, 100, steps["paid"].tx_time, None)
    ]
    db.execute("UPDATE accounts SET balance = 1")
    assert [h["operation"] for h in db.get_change_history("accounts", 1)] == ["INSERT", "UPDATE"]
    assert db.prune_history(0) == 0
    assert db.verify_audit_integrity()
    assert db.check_history() == []


def test_retention_days_prunes_on_open(backend: str) -> None:
    with ChronoDB(backend) as db:
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)")
        db.execute("INSERT INTO t VALUES (1, 0)")
        db.execute("UPDATE t SET v = 1")
    time.sleep(2)  # the versions above are 2 s older than the one below
    with ChronoDB(backend) as db:
        db.execute("UPDATE t SET v = 2")
    with ChronoDB(backend, retention_days=30) as kept:
        assert [h["values"]["v"] for h in kept.get_change_history("t", 1)] == [0, 1, 2]
    with ChronoDB(backend, retention_days=1.5 / 86400) as pruned:
        assert [h["values"]["v"] for h in pruned.get_change_history("t", 1)] == [1, 2]
        assert pruned.apply_retention() == 0
        assert rows(pruned, "SELECT v FROM t") == [(2,)]
        assert pruned.verify_audit_integrity()


# ------------------------------------------------------------------ erasure
def test_erase_removes_a_row_and_its_history(accounts: tuple) -> None:
    db, steps = accounts
    assert db.erase("accounts", 1, reason="GDPR request") == 2
    assert rows(db, "SELECT * FROM accounts") == []
    assert db.get_change_history("accounts", 1) == []
    assert rows(db, "SELECT * FROM accounts FOR SYSTEM_TIME ALL WHERE id = 1") == []
    assert as_of(db, steps["paid"]) == [(2, "ben", 5)]
    assert [c["id"] for c in db.changes("accounts")] == [2, 2]
    record = db.execute(
        'SELECT table_name, row_key, versions, "user", reason FROM _chrono_erasures'
    )
    assert [tuple(r) for r in record] == [("accounts", "[1]", 2, "tester", "GDPR request")]
    assert db.verify_audit_integrity()
    assert db.check_history() == []


def test_erase_a_deleted_row_and_by_composite_key(accounts: tuple) -> None:
    db, steps = accounts
    assert db.erase("accounts", 2) == 2
    assert db.get_change_history("accounts", 2) == []
    assert as_of(db, steps["opened"]) == [(1, "ann", 0)]
    db.execute(
        "CREATE TABLE grades (student TEXT, course TEXT, grade INTEGER, "
        "PRIMARY KEY (student, course))"
    )
    db.execute("INSERT INTO grades VALUES ('ann', 'math', 1), ('ann', 'art', 2)")
    db.execute("UPDATE grades SET grade = 3 WHERE course = 'math'")
    assert db.erase("grades", ("ann", "math")) == 2
    assert db.erase("grades", {"student": "ann", "course": "art"}) == 1
    assert rows(db, "SELECT course FROM grades FOR SYSTEM_TIME ALL") == []
    assert db.verify_audit_integrity()
    assert db.check_history() == []


def test_prune_after_erase_and_erase_after_prune(accounts: tuple) -> None:
    db, steps = accounts
    db.execute("UPDATE accounts SET owner = 'anne' WHERE id = 1")
    db.erase("accounts", 2)
    assert db.prune_history(steps["closed"].tx_time) == 1
    assert db.erase("accounts", 1) == 2
    assert rows(db, "SELECT * FROM accounts FOR SYSTEM_TIME ALL") == []
    assert db.verify_audit_integrity()


# ------------------------------------------------------------------ check_history
def test_check_history_finds_nothing_in_an_honest_workload(accounts: tuple) -> None:
    db, _ = accounts
    with db.transaction():
        db.execute("INSERT INTO accounts VALUES (3, 'cy', 1)")
        db.execute("UPDATE accounts SET balance = 2 WHERE id = 3")
        db.execute("UPDATE accounts SET id = 4 WHERE id = 3")
        assert db.check_history() == []  # inside the transaction, its own writes included
    db.execute("DELETE FROM accounts WHERE id = 1")
    db.execute("INSERT INTO accounts VALUES (1, 'ann', 7)")
    assert db.check_history() == []


# ------------------------------------------------------------------ chrono_changes
def test_chrono_changes_in_sql(accounts: tuple) -> None:
    db, steps = accounts
    result = db.execute(
        "SELECT * FROM chrono_changes('accounts', ?, ?)",
        [steps["opened"].tx_time, steps["closed"].tx_time],
    )
    assert result.columns == [
        "operation",
        "tx_id",
        "tx_time",
        "user",
        "id",
        "before",
        "after",
    ]
    assert [tuple(r) for r in result] == [
        (
            "UPDATE",
            steps["paid"].tx_id,
            steps["paid"].tx_time,
            "tester",
            1,
            '{"id":1,"owner":"ann","balance":0}',
            '{"id":1,"owner":"ann","balance":100}',
        ),
        (
            "DELETE",
            steps["closed"].tx_id,
            steps["closed"].tx_time,
            "tester",
            2,
            '{"id":2,"owner":"ben","balance":5}',
            None,
        ),
    ]
    everything = rows(db, "SELECT operation, id FROM chrono_changes('accounts', 0) WHERE id = 2")
    assert everything == [("INSERT", 2), ("DELETE", 2)]
    assert rows(db, "SELECT count(*) FROM chrono_changes('accounts', ?)", [time.time()]) == [(0,)]


def test_chrono_changes_agree_with_db_changes(accounts: tuple) -> None:
    db, steps = accounts
    with db.transaction():  # one change per key and transaction, the last one
        db.execute("INSERT INTO accounts VALUES (3, 'cy', 1)")
        db.execute("UPDATE accounts SET balance = 9 WHERE id = 3")
        db.execute("UPDATE accounts SET balance = 0 WHERE id = 1")
        db.execute("DELETE FROM accounts WHERE id = 1")
    found = db.execute(
        "SELECT operation, tx_id, id, before, after FROM chrono_changes('accounts', ?) "
        "ORDER BY tx_id, id",
        [steps["opened"].tx_time],
    )
    listed = sorted(
        db.changes("accounts", steps["opened"].tx_time), key=lambda c: (c["tx_id"], c["id"])
    )
    assert [
        (r[0], r[1], r[2], r[3] and json.loads(r[3]), r[4] and json.loads(r[4])) for r in found
    ] == [(c["operation"], c["tx_id"], c["id"], c["before"], c["after"]) for c in listed]
    assert [(c["operation"], c["id"]) for c in listed][-2:] == [("DELETE", 1), ("INSERT", 3)]
    assert listed[-1]["after"] == {"id": 3, "owner": "cy", "balance": 9}


# ------------------------------------------------------------------ pruning, at random
step = st.lists(
    st.tuples(
        st.sampled_from(["upsert", "update", "delete"]), st.integers(0, 3), st.integers(-1000, 1000)
    ),
    min_size=1,
    max_size=3,
)


def replay(db: ChronoDB, workload: list) -> tuple[str, list[int]]:
    """Run ``workload`` (transactions of statements) on a table of its own; returns the
    table's name and the id of the newest transaction after each one."""
    table = f"r{uuid.uuid4().hex[:12]}"
    db.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, v INTEGER)")
    done = []
    for statements in workload:
        with db.transaction():
            for kind, key, value in statements:
                if kind == "upsert":
                    db.execute(
                        f"INSERT INTO {table} VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET v = ?",
                        [key, value, value],
                    )
                elif kind == "update":
                    db.execute(f"UPDATE {table} SET v = ? WHERE id = ?", [value, key])
                else:
                    db.execute(f"DELETE FROM {table} WHERE id = ?", [key])
        done.append(db.transactions(1)[0]["tx_id"])
    return table, done


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(step, min_size=1, max_size=8), st.integers(0, 8))
def test_prune_never_changes_a_point_from_the_cut_on(
    backend_db: ChronoDB, workload: list, cut: int
) -> None:
    """Random transactions (several statements each); after pruning at one of them, AS OF
    it and every later one read as before, and the ledger still verifies."""
    db = backend_db
    table, done = replay(db, workload)
    sql = f"SELECT id, v FROM {table} AS OF TRANSACTION ? ORDER BY id"
    before = {tx: rows(db, sql, [tx]) for tx in done}
    at = done[min(cut, len(done) - 1)]
    point = next(t["tx_time"] for t in db.transactions() if t["tx_id"] == at)
    db.prune_history(point)
    assert {tx: rows(db, sql, [tx]) for tx in done if tx >= at} == {
        tx: found for tx, found in before.items() if tx >= at
    }
    assert db.verify_audit_integrity()
    assert db.check_history() == []


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(step, min_size=1, max_size=8), st.integers(0, 3))
def test_erase_removes_one_key_from_every_point(
    backend_db: ChronoDB, workload: list, key: int
) -> None:
    """After erasing a key, every point reads as before without that key; the changes list
    none of it; the ledger still verifies."""
    db = backend_db
    table, done = replay(db, workload)
    sql = f"SELECT id, v FROM {table} AS OF TRANSACTION ? ORDER BY id"
    before = {tx: rows(db, sql, [tx]) for tx in done}
    db.erase(table, key)
    assert {tx: rows(db, sql, [tx]) for tx in done} == {
        tx: [r for r in found if r[0] != key] for tx, found in before.items()
    }
    assert all(c["id"] != key for c in db.changes(table))
    assert db.verify_audit_integrity()
    assert db.check_history() == []


# ------------------------------------------------------------------ after schema changes
def test_trims_and_checks_follow_renamed_and_added_columns(accounts: tuple) -> None:
    """A key column renamed and a column added: erase, prune, check_history,
    chrono_changes and the ledger all read history by the columns it kept."""
    db, steps = accounts
    db.execute("ALTER TABLE accounts RENAME COLUMN id TO account_id")
    db.execute("ALTER TABLE accounts ADD COLUMN note TEXT")
    later = db.execute("UPDATE accounts SET note = 'vip', balance = 7 WHERE account_id = 1")
    db.execute("INSERT INTO accounts VALUES (3, 'cy', 9, NULL)")
    assert db.check_history() == []
    assert db.verify_audit_integrity()
    changed = db.execute(
        "SELECT operation, account_id, after FROM chrono_changes('accounts', ?) "
        "ORDER BY tx_id, account_id",
        [steps["closed"].tx_time],
    )
    assert [tuple(r) for r in changed] == [
        ("UPDATE", 1, '{"account_id":1,"owner":"ann","balance":7,"note":"vip"}'),
        ("INSERT", 3, '{"account_id":3,"owner":"cy","balance":9,"note":null}'),
    ]
    assert db.erase("accounts", 3) >= 1
    assert rows(db, "SELECT account_id FROM accounts ORDER BY 1") == [(1,)]
    db.prune_history(later.tx_time)
    assert rows(db, "SELECT account_id, note FROM accounts AS OF TRANSACTION ?", [later.tx_id]) == [
        (1, "vip")
    ]
    assert db.check_history() == []
    assert db.verify_audit_integrity()
    assert db.audit_trail.verify_transaction(later.tx_hash)
