"""Changes made behind ChronoDB's back on PostgreSQL, by a superuser with the triggers off.

PostgreSQL's own means: ``SET session_replication_role = replica`` (no trigger fires) or
``ALTER TABLE ... DISABLE TRIGGER ALL``. Each change must fail verification, and the report
must say what kind of change it found (SQLite's kinds, ``test_tamper.py``), in which
transaction and table, and in a current table which row. An honest workload of every kind
of write, from several connections at once, must always verify.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from tests.chronodb import pgserver
from tests.chronodb.audit.conftest import assert_named
from tests.chronodb.audit.test_tamper import CASES as SQLITE_CASES

from chronodb import ChronoDB
from chronodb.audit.trail import Digest
from chronodb.errors import ChronoDBError

MEANS = ("replica", "disable triggers")


@pytest.fixture
def url(pg_url: str) -> str:
    return pgserver.as_url(pg_url)


@pytest.fixture
def bank(url: str) -> Iterator[tuple[str, list[int | None]]]:
    """As ``test_tamper.py``'s: tx 2 inserts ids 1..3; tx 3 updates id 1; tx 4 inserts id
    4; a digest saved. (CREATE TABLE of an empty table, tx 1 there, writes no version and
    has no transaction on PostgreSQL.) Returns the URL and the ids by number, tx 5 being
    the id after all of them."""
    db = ChronoDB(url, user="alice")
    db.execute("CREATE TABLE accounts (id integer PRIMARY KEY, owner text, balance float8)")
    txs = [
        db.execute(sql).tx_id
        for sql in (
            "INSERT INTO accounts VALUES (1, 'ann', 10), (2, 'bob', 20), (3, 'cy', 30)",
            "UPDATE accounts SET balance = 15 WHERE id = 1",
            "INSERT INTO accounts VALUES (4, 'dee', 40)",
        )
    ]
    assert txs == sorted(set(txs)) and None not in txs
    db.audit_trail.digest()  # saved in _chrono_digests
    assert db.verify_audit_integrity()
    db.close()
    yield url, [None, None, *txs, txs[-1] + 1]


def hist(url: str, table: str = "accounts") -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT hist FROM _chrono_versioned WHERE table_name = %s", (table,)
        ).fetchone()
    assert row is not None
    return row[0]


def tamper(url: str, means: str, *statements: str) -> None:
    """Run ``statements`` as a superuser with no trigger firing, in one transaction."""
    tables = ["accounts", hist(url), "_chrono_tx"]
    with psycopg.connect(url) as conn:
        if means == "replica":
            conn.execute("SET session_replication_role = replica")
        else:
            for table in tables:
                conn.execute(f'ALTER TABLE "{table}" DISABLE TRIGGER ALL')
        for statement in statements:
            conn.execute(statement)
        if means != "replica":
            for table in tables:
                conn.execute(f'ALTER TABLE "{table}" ENABLE TRIGGER ALL')


def xid(n: int) -> str:
    """SQL: the xid of the fixture's transaction number ``n`` (as {n} formats it)."""
    return f"(SELECT xid FROM _chrono_tx WHERE tx_id = {{{n}}})"


H = "{h}"
SAME = {
    # name (as in test_tamper.py, whose answer it must give): statements; {n} in a
    # statement is the fixture's transaction number n, {h} the history table
    "user table value edited": ["UPDATE accounts SET balance = 1e6 WHERE id = 2"],
    "user table row deleted": ["DELETE FROM accounts WHERE id = 1"],
    "user table row inserted": ["INSERT INTO accounts VALUES (9, 'eve', 99)"],
    "history value edited": [
        f"UPDATE {H} SET balance = 11 WHERE id = 1 AND _chrono_xid = {xid(2)}"
    ],
    "history and current edited alike": [
        f"UPDATE {H} SET balance = 1e6 WHERE id = 4",
        "UPDATE accounts SET balance = 1e6 WHERE id = 4",
    ],
    "history row deleted": [f"DELETE FROM {H} WHERE id = 1 AND _chrono_xid = {xid(3)}"],
    "history row inserted": [
        f"INSERT INTO {H} (_chrono_xid, _chrono_op, id, owner, balance) "
        f"VALUES ({xid(3)}, 'U', 2, 'bob', 0)"
    ],
    "transaction user edited": ["UPDATE _chrono_tx SET \"user\" = 'mallory' WHERE tx_id = {3}"],
    "transaction time edited": [
        "UPDATE _chrono_tx SET tx_time = tx_time - 3600000000 WHERE tx_id = {3}"
    ],
    "transaction record inserted": [
        # within the horizon: the id sequence moved past it, as a commit would
        "SELECT setval('_chrono_tx_next', {5})",
        'INSERT INTO _chrono_tx (tx_id, xid, tx_time, "user", seq_lo, seq_hi) '
        "VALUES ({5}, '987654', (SELECT max(tx_time) + 1 FROM _chrono_tx), 'mallory', 0, 0)",
    ],
    "ledger leaf edited": [
        "UPDATE _chrono_tx SET leaf = convert_to(repeat(' ', length(leaf)), 'UTF8') "
        "WHERE tx_id = {3}"
    ],
    "ledger leaf edited as text": [
        "UPDATE _chrono_tx SET leaf = substring(leaf FROM 1 FOR 20) || 'x' WHERE tx_id = {3}"
    ],
    "ledger row deleted": ["UPDATE _chrono_tx SET leaf = NULL WHERE tx_id = {2}"],
    "last ledger row deleted": ["UPDATE _chrono_tx SET leaf = NULL WHERE tx_id = {4}"],
}
CASES = {name: (statements, *SQLITE_CASES[name][1:]) for name, statements in SAME.items()}
CASES |= {
    # PostgreSQL's own: (statements, kind, tx, table, row)
    "history row of no transaction inserted": (
        [
            f"INSERT INTO {H} (_chrono_xid, _chrono_op, id, owner, balance) "
            "VALUES ('987654', 'I', 8, 'eve', 0)",
            "INSERT INTO accounts VALUES (8, 'eve', 0)",
        ],
        "history rows inserted",
        None,
        "accounts",
        None,
    ),
    "ledger leaf's digest edited": (
        # no copy of a leaf's hash is kept apart from it: an edited digest reads as edited rows
        [
            "UPDATE _chrono_tx SET leaf = overlay(leaf PLACING '\\x00' FROM length(leaf) - 10) "
            "WHERE tx_id = {3}"
        ],
        "history row edited",
        3,
        "accounts",
        None,
    ),
}


@pytest.mark.parametrize("means", MEANS)
@pytest.mark.parametrize("name", list(CASES))
def test_tampering_fails_verification_and_is_named(
    bank: tuple[str, list[int | None]], name: str, means: str
) -> None:
    url, txs = bank
    statements, kind, number, table, row = CASES[name]
    tx = None if number is None else txs[number]
    tamper(url, means, *(s.format(*txs, h=hist(url)) for s in statements))
    assert_named(url, kind, tx, table, row)


def test_tampered_rows_fail_their_transactions_check(bank: tuple[str, list[int | None]]) -> None:
    url, txs = bank
    db = ChronoDB(url)
    hashes = {n: db.tx_hash(txs[n]) for n in (2, 3, 4)}
    assert all(db.audit_trail.verify_transaction(h) for h in hashes.values())
    tamper(url, "replica", f"UPDATE {hist(url)} SET owner = 'x' WHERE id = 4")
    assert not db.audit_trail.verify_transaction(hashes[4])
    assert db.audit_trail.verify_transaction(hashes[3])
    tamper(url, "replica", f"UPDATE _chrono_tx SET leaf = NULL WHERE tx_id = {txs[2]}")
    assert not db.audit_trail.verify_transaction(hashes[2])  # its leaf is no longer there
    db.close()


def test_a_deleted_transaction_record_is_found(bank: tuple[str, list[int | None]]) -> None:
    """History keeps the writer's xid only: the versions of a deleted record are found
    without a transaction, and the saved digest no longer matches."""
    url, txs = bank
    tamper(url, "replica", f"DELETE FROM _chrono_tx WHERE tx_id = {txs[3]}")
    db = ChronoDB(url)
    report = db.audit_trail.verify()
    kinds = {(p.kind, p.table) for p in report.problems}
    assert ("history rows inserted", "accounts") in kinds
    assert ("history rewritten", None) in kinds
    db.close()


def rewrite(url: str, tx_id: int) -> None:
    """The attack verification alone cannot see: edit a version and its current row, then
    reseal the transaction's leaf with the database's own digest function."""
    h = hist(url)
    digests = "_chrono_d" + h[len("_chrono_h") :]
    x = f"(SELECT xid FROM _chrono_tx WHERE tx_id = {tx_id})"
    tamper(
        url,
        "replica",
        f"UPDATE {h} SET balance = 5 WHERE id = 2 AND _chrono_xid = {x}",
        "UPDATE accounts SET balance = 5 WHERE id = 2",
        # a one-table leaf ends with the table's 32-byte digest and 4 bytes of amendments
        f"UPDATE _chrono_tx SET leaf = overlay(leaf PLACING (SELECT sha256(convert_to("
        f"'[' || d.texts || ']', 'UTF8')) FROM \"{digests}\"({x}, 0) AS d) "
        f"FROM length(leaf) - 35) WHERE tx_id = {tx_id}",
    )


def test_a_rewrite_is_caught_by_digests_saved_in_the_database(url: str) -> None:
    db = ChronoDB(url, user="alice")
    db.execute("CREATE TABLE accounts (id integer PRIMARY KEY, balance float8)")
    db.execute("INSERT INTO accounts VALUES (1, 10), (2, 20)")
    written = db.execute("UPDATE accounts SET balance = 500 WHERE id = 2")
    db.audit_trail.digest()
    rewrite(url, written.tx_id)
    assert db.execute("SELECT balance FROM accounts WHERE id = 2").scalar() == 5
    report = db.audit_trail.verify()
    assert [p.kind for p in report.problems] == ["history rewritten"], report.summary()
    db.close()


def test_a_whole_rewrite_is_caught_only_by_a_digest_kept_elsewhere(
    url: str, tmp_path: Path
) -> None:
    db = ChronoDB(url, user="alice")
    db.execute("CREATE TABLE accounts (id integer PRIMARY KEY, balance float8)")
    db.execute("INSERT INTO accounts VALUES (1, 10), (2, 20)")
    written = db.execute("UPDATE accounts SET balance = 500 WHERE id = 2")
    db.audit_trail.export_digest(tmp_path / "kept.json")
    rewrite(url, written.tx_id)
    tamper(url, "replica", "DELETE FROM _chrono_digests")
    report = db.audit_trail.verify()
    assert report.ok, report.summary()  # every leaf agrees with the rewritten rows...
    kept = Digest.load(tmp_path / "kept.json")
    assert not db.audit_trail.verify_consistency(kept)  # ...but not with the kept root
    assert not db.audit_trail.verify_transaction(written.tx_hash)
    db.close()


def honest(url: str, seed: int, rounds: int, errors: list[BaseException]) -> None:
    """One connection's writes: every kind of statement, transactions with savepoints and
    rollbacks; conflicts with the other connections are expected and survived."""
    rng = random.Random(seed)
    db = ChronoDB(url, user=f"writer{seed}")
    try:
        for _ in range(rounds):
            key = rng.randrange(20)
            step = rng.randrange(8)
            try:
                if step == 0:
                    db.execute(
                        "INSERT INTO items VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING",
                        [key, f"n{key}", rng.random()],
                    )
                elif step == 1:
                    db.execute("UPDATE items SET qty = qty + 1 WHERE id = ?", [key])
                elif step == 2:
                    db.execute("DELETE FROM items WHERE id = ?", [key])
                elif step == 3:
                    db.execute(
                        "INSERT INTO items VALUES (?, ?, ?) ON CONFLICT (id) "
                        "DO UPDATE SET name = excluded.name, qty = excluded.qty",
                        [key, f"u{seed}", rng.random()],
                    )
                elif step == 4:
                    with db.transaction():
                        db.execute("UPDATE items SET name = ? WHERE id = ?", [f"t{seed}", key])
                        db.execute("SAVEPOINT s")
                        db.execute("DELETE FROM items WHERE id = ?", [(key + 1) % 20])
                        db.execute("ROLLBACK TO SAVEPOINT s")
                        db.execute("UPDATE pairs SET n = n + 1 WHERE a = ? AND b = 1", [key])
                        db.execute("RELEASE SAVEPOINT s")
                elif step == 5:
                    db.execute("BEGIN")
                    db.execute("INSERT INTO pairs VALUES (?, 2, 0) ON CONFLICT DO NOTHING", [key])
                    db.execute("ROLLBACK")
                elif step == 6:
                    db.executemany(
                        "INSERT INTO pairs VALUES (?, ?, 1) ON CONFLICT (a, b) "
                        "DO UPDATE SET n = pairs.n + 1",
                        [(key, 1), (key, 3)],
                    )
                else:
                    db.execute("UPDATE items SET qty = qty WHERE id = ?", [key])  # no change
            except ChronoDBError:  # a deadlock or a serialization failure: rolled back
                if db.in_transaction:
                    db.execute("ROLLBACK")
    except BaseException as err:  # reported by the test
        errors.append(err)
    finally:
        db.close()


def other_client(url: str, rounds: int, errors: list[BaseException]) -> None:
    """Plain psycopg, not ChronoDB: the database versions and seals its writes too, in
    REPEATABLE READ transactions that change keys and commit early (SET CONSTRAINTS)."""
    try:
        with psycopg.connect(url) as conn:
            for i in range(rounds):
                try:
                    with conn.transaction():
                        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                        if i % 4 == 0:
                            conn.execute("SET CONSTRAINTS ALL IMMEDIATE")
                        conn.execute("INSERT INTO items VALUES (100 + %s, 'p', 0)", (i,))
                        conn.execute("UPDATE items SET id = id + 1000 WHERE id = 100 + %s", (i,))
                        conn.execute("DELETE FROM items WHERE id = 1100 + %s", (i // 2,))
                except psycopg.errors.SerializationFailure:
                    continue
    except BaseException as err:  # reported by the test
        errors.append(err)


def test_an_honest_concurrent_workload_always_verifies(url: str) -> None:
    setup = ChronoDB(url, user="setup")
    setup.execute("CREATE TABLE items (id integer PRIMARY KEY, name text, qty float8)")
    setup.execute("CREATE TABLE pairs (a integer, b integer, n integer, PRIMARY KEY (a, b))")
    setup.executemany("INSERT INTO pairs VALUES (?, 1, 0)", [(i,) for i in range(20)])
    digests = [setup.audit_trail.digest()]
    errors: list[BaseException] = []
    writers = [threading.Thread(target=honest, args=(url, seed, 60, errors)) for seed in range(3)]
    writers.append(threading.Thread(target=other_client, args=(url, 20, errors)))
    for t in writers:
        t.start()
    reports = []
    while any(t.is_alive() for t in writers):  # verify while they write
        reports.append(setup.audit_trail.verify())
        digests.append(setup.audit_trail.digest())
    for t in writers:
        t.join()
    assert errors == []
    reports.append(setup.audit_trail.verify())
    assert all(r.ok for r in reports), [r.summary() for r in reports if not r.ok]
    assert setup.verify_audit_integrity()
    assert reports[-1].tree_size == len(setup.transactions()) > 60
    for old in digests:
        assert setup.audit_trail.verify_consistency(old)
    for tx in setup.transactions(limit=40):
        assert setup.audit_trail.verify_transaction(setup.tx_hash(tx["tx_id"]))
    setup.close()
