"""Changes made behind ChronoDB's back with plain sqlite3, after dropping its triggers.

Each must fail verification, and the report must say what kind of change it found, in
which transaction and table (and, in a current table, which row). The tampered file still
opens, also read-only, so the damage can be looked at.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.chronodb.audit.conftest import assert_named, tamper

from chronodb import ChronoDB


@pytest.fixture
def bank(tmp_path: Path) -> tuple[Path, list[int | None]]:
    """tx 1 creates; tx 2 inserts ids 1..3; tx 3 updates id 1; tx 4 inserts id 4; a digest.

    Returns the file and the transactions' ids by number (``[None, tx1, ..., tx4, tx5]``,
    tx5 being an id after all of them).
    """
    path = tmp_path / "bank.db"
    db = ChronoDB(path, user="alice")
    txs = [
        db.execute(sql).tx_id
        for sql in (
            "CREATE TABLE accounts (id INTEGER PRIMARY KEY, owner TEXT, balance REAL)",
            "INSERT INTO accounts VALUES (1, 'ann', 10), (2, 'bob', 20), (3, 'cy', 30)",
            "UPDATE accounts SET balance = 15 WHERE id = 1",
            "INSERT INTO accounts VALUES (4, 'dee', 40)",
        )
    ]
    assert txs == sorted(set(txs))
    db.audit_trail.digest()  # signed off: the Merkle nodes of all four leaves are stored
    db.close()
    return path, [None, *txs, txs[-1] + 1]


@pytest.fixture
def ledger_path(bank: tuple[Path, list[int | None]]) -> Path:
    return bank[0]


H = "_chrono_h1_accounts"
CASES = {
    # name: (statements, kind, tx, table, row); {n} in a statement, and tx, are numbers of the
    # fixture's transactions
    "user table value edited": (
        ["UPDATE accounts SET balance = 1e6 WHERE id = 2"],
        "current row edited",
        2,
        "accounts",
        2,
    ),
    "user table row deleted": (
        ["DELETE FROM accounts WHERE id = 1"],
        "current row deleted",
        3,
        "accounts",
        1,
    ),
    "user table row inserted": (
        ["INSERT INTO accounts VALUES (9, 'eve', 99)"],
        "current row inserted",
        None,
        "accounts",
        9,
    ),
    "history value edited": (
        [f"UPDATE {H} SET balance = 11 WHERE id = 1 AND _chrono_tx = {{2}}"],
        "history row edited",
        2,
        "accounts",
        None,
    ),
    "history and current edited alike": (
        [
            f"UPDATE {H} SET balance = 1e6 WHERE id = 4",
            "UPDATE accounts SET balance = 1e6 WHERE id = 4",
        ],
        "history row edited",
        4,
        "accounts",
        None,
    ),
    "history row deleted": (
        [f"DELETE FROM {H} WHERE id = 1 AND _chrono_tx = {{3}}"],
        "history rows deleted",
        3,
        "accounts",
        None,
    ),
    "history row inserted": (
        [
            f"INSERT INTO {H} (_chrono_tx, _chrono_op, id, owner, balance) "
            "VALUES ({3}, 'U', 2, 'bob', 0)"
        ],
        "history rows inserted",
        3,
        "accounts",
        None,
    ),
    "transaction user edited": (
        ["UPDATE _chrono_tx SET user = 'mallory' WHERE tx_id = {3}"],
        "transaction record edited",
        3,
        None,
        None,
    ),
    "transaction time edited": (
        ["UPDATE _chrono_tx SET tx_time = tx_time - 3600000000 WHERE tx_id = {3}"],
        "transaction record edited",
        3,
        None,
        None,
    ),
    "transaction record deleted": (
        ["DELETE FROM _chrono_tx WHERE tx_id = {3}"],
        "transaction record deleted",
        3,
        "accounts",
        None,
    ),
    "transaction record inserted": (
        ["INSERT INTO _chrono_tx (tx_id, tx_time, user) VALUES ({5}, {5}, 'mallory')"],
        "transaction record inserted",
        5,
        None,
        None,
    ),
    "ledger leaf edited": (
        ["UPDATE _chrono_tx SET leaf = zeroblob(length(leaf)) WHERE tx_id = {3}"],
        "ledger leaf edited",
        3,
        None,
        None,
    ),
    "ledger leaf edited as text": (
        ["UPDATE _chrono_tx SET leaf = substr(leaf, 1, 20) || 'x' WHERE tx_id = {3}"],
        "ledger leaf edited",
        3,
        None,
        None,
    ),
    "ledger leaf_hash edited": (
        ["UPDATE _chrono_tx SET leaf_hash = randomblob(32) WHERE tx_id = {3}"],
        "ledger leaf edited",
        3,
        None,
        None,
    ),
    "ledger row deleted": (
        [
            "UPDATE _chrono_tx SET leaf_index = NULL, leaf = NULL, leaf_hash = NULL "
            "WHERE tx_id = {2}"
        ],
        "ledger leaf deleted",
        2,
        None,
        None,
    ),
    "last ledger row deleted": (
        [
            # the leaf on the transaction's history row, and its copy in the index
            f"UPDATE {H} SET _chrono_leaf = NULL WHERE _chrono_tx = {{4}}",
            "UPDATE _chrono_tx SET leaf_index = NULL, leaf = NULL, leaf_hash = NULL "
            "WHERE tx_id = {4}",
        ],
        "ledger leaf deleted",
        4,
        None,
        None,
    ),
    "merkle leaf node edited": (
        ["UPDATE _chrono_merkle SET hash = randomblob(32) WHERE level = 0 AND idx = 2"],
        "merkle tree edited",
        3,
        None,
        None,
    ),
    "merkle inner node edited": (
        ["UPDATE _chrono_merkle SET hash = randomblob(32) WHERE level = 1 AND idx = 0"],
        "merkle tree edited",
        None,
        None,
        None,
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_tampering_fails_verification_and_is_named(
    bank: tuple[Path, list[int | None]], name: str
) -> None:
    ledger_path, txs = bank
    statements, kind, number, table, row = CASES[name]
    tx = None if number is None else txs[number]
    tamper(ledger_path, *(s.format(*txs) for s in statements))
    assert_named(ledger_path, kind, tx, table, row)


def test_a_plain_sqlite3_write_leaves_no_history_and_is_named(
    bank: tuple[Path, list[int | None]],
) -> None:
    path, txs = bank
    tamper(path, "UPDATE accounts SET balance = 1 WHERE id = 3")
    db = ChronoDB(path, read_only=True)
    assert [v["values"]["balance"] for v in db.get_change_history("accounts", 3)] == [30]
    assert db.check_history() == [
        "accounts: current rows differ from history AS OF the latest transaction "
        "(1 row(s) only in the table, 1 only in history, 4 vs 4 rows)"
    ]
    first = db.audit_trail.verify().first_problem
    assert (first.kind, first.tx_id, first.table, first.row) == (
        "current row edited",
        txs[2],
        "accounts",
        3,
    )
    db.close()


def test_every_tamper_kind_in_a_busy_database(busy_path: Path) -> None:
    """The same edits among DDL, composite and rowid keys: each still found and placed."""
    db = ChronoDB(busy_path, read_only=True)
    hist = {
        name: db.execute(
            "SELECT hist FROM _chrono_schema WHERE name = ? AND to_tx IS NULL", [name]
        ).scalar()
        for name in ("accounts", "inventory")
    }
    last_inventory_tx = db.execute(
        f'SELECT max(_chrono_tx) FROM "{hist["inventory"]}" WHERE shop = ? AND sku = ?', ["a", 1]
    ).scalar()
    db.close()
    tamper(busy_path, "UPDATE inventory SET qty = 100 WHERE shop = 'a' AND sku = 1")
    db = ChronoDB(busy_path, read_only=True)
    first = db.audit_trail.verify().first_problem
    assert (first.kind, first.tx_id, first.table, first.row) == (
        "current row edited",
        last_inventory_tx,
        "inventory",
        ("a", 1),
    )
    db.close()
