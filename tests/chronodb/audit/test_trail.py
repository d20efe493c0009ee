"""db.audit_trail: one transaction's proof, digests and consistency, signatures, reports."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tests.chronodb.audit.conftest import tamper

from chronodb import ChronoDB
from chronodb.audit.digests import table_digests
from chronodb.audit.leaf import Leaf, TableDigest
from chronodb.audit.merkle import MerkleTree, SQLiteNodeStore
from chronodb.audit.proofs import leaf_hash, verify_inclusion
from chronodb.audit.trail import Digest
from chronodb.database import engine_of
from chronodb.layout import WRITE_GUARD


@pytest.fixture
def bank(tmp_path: Path) -> ChronoDB:
    db = ChronoDB(tmp_path / "bank.db", user="alice")
    db.execute("CREATE TABLE accounts (id INTEGER PRIMARY KEY, owner TEXT, balance REAL)")
    db.execute("INSERT INTO accounts VALUES (1, 'ann', 10), (2, 'bob', 20)")
    yield db
    db.close()


def test_verify_transaction_accepts_good_hashes_only(bank: ChronoDB) -> None:
    good = bank.execute("UPDATE accounts SET balance = 11 WHERE id = 1").tx_hash
    assert bank.audit_trail.verify_transaction(good)
    assert not bank.audit_trail.verify_transaction("00" * 32)  # unknown
    assert not bank.audit_trail.verify_transaction("not hex")
    assert not bank.audit_trail.verify_transaction(good[:10])


def test_verify_transaction_fails_once_its_rows_are_tampered(bank: ChronoDB) -> None:
    result = bank.execute("UPDATE accounts SET balance = 11 WHERE id = 1")
    path = Path(bank.path)
    bank.close()
    tamper(path, f"UPDATE _chrono_h1_accounts SET balance = 99 WHERE _chrono_tx = {result.tx_id}")
    db = ChronoDB(path)
    assert not db.audit_trail.verify_transaction(result.tx_hash)
    db.close()


def test_a_proof_verifies_with_the_standalone_verifier(bank: ChronoDB) -> None:
    tx_hash = bank.execute("UPDATE accounts SET balance = 12 WHERE id = 2").tx_hash
    bank.execute("DELETE FROM accounts WHERE id = 1")
    proof = json.loads(json.dumps(bank.audit_trail.prove(tx_hash)))  # plain JSON survives
    args = (proof["leaf_index"], proof["tree_size"], [bytes.fromhex(h) for h in proof["hashes"]])
    root = bytes.fromhex(proof["root"])
    assert leaf_hash(bytes.fromhex(proof["leaf"])).hex() == tx_hash == proof["leaf_hash"]
    assert verify_inclusion(bytes.fromhex(tx_hash), *args, root)
    assert root.hex() == bank.audit_trail.digest().root
    assert not verify_inclusion(bytes(32), *args, root)


def test_digest_then_more_writes_is_consistent(bank: ChronoDB, tmp_path: Path) -> None:
    old = bank.audit_trail.export_digest(tmp_path / "digest.json")
    for i in range(5):
        bank.execute("UPDATE accounts SET balance = ? WHERE id = 1", [i])
    new = bank.audit_trail.digest()
    assert new.tree_size == old.tree_size + 5
    assert bank.audit_trail.verify_consistency(Digest.load(tmp_path / "digest.json"))
    assert bank.audit_trail.verify_consistency(old.to_json())
    forged = Digest(old.tree_size, "ab" * 32, old.time)
    assert not bank.audit_trail.verify_consistency(forged)
    assert not bank.audit_trail.verify_consistency(Digest(new.tree_size + 1, new.root, new.time))


def test_export_to_a_stream(bank: ChronoDB) -> None:
    out = io.StringIO()
    made = bank.audit_trail.export_digest(out)
    assert json.loads(out.getvalue()) == json.loads(made.to_json())
    assert made.tree_size == bank.execute("SELECT count(*) FROM _chrono_tx").scalar()


def test_signed_digest_verifies_and_a_tampered_one_does_not(bank: ChronoDB) -> None:
    key = Ed25519PrivateKey.generate()
    signed = bank.audit_trail.digest(signing_key=key)
    assert signed.signature and signed.public_key
    assert signed.verify_signature()
    again = Digest.from_json(signed.to_json())
    assert again.verify_signature()
    bad = Digest(
        signed.tree_size + 1, signed.root, signed.time, signed.signature, signed.public_key
    )
    assert not bad.verify_signature()
    other = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    assert not signed.verify_signature(other)
    assert not bank.audit_trail.digest().verify_signature()  # unsigned


def rewrite_history(path: Path, tx_id: int) -> None:
    """The attack verification cannot see: edit rows, then recompute every hash in the file.

    Account 2's balance written by ``tx_id`` becomes 5, in its history and its current row.
    """
    db = ChronoDB(path)
    catalog = engine_of(db).catalog
    db.close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.create_collation(WRITE_GUARD, lambda _a, _b: 0)  # past the guard, as in tamper()
    conn.execute("BEGIN")
    # 5.0, as the REAL column stores it: verification compares values and storage classes.
    conn.execute(
        "UPDATE _chrono_h1_accounts SET balance = 5.0 WHERE id = 2 AND _chrono_tx = ?", (tx_id,)
    )
    conn.execute("UPDATE accounts SET balance = 5 WHERE id = 2")
    blobs = [
        bytes(b) for (b,) in conn.execute("SELECT leaf FROM _chrono_ledger ORDER BY leaf_index")
    ]
    found = conn.execute("SELECT leaf_index FROM _chrono_tx WHERE tx_id = ?", (tx_id,))
    index = found.fetchone()[0]
    leaf = Leaf.decode(blobs[index])
    tables = tuple(TableDigest(*t) for t in table_digests(conn, catalog, tx_id))
    blobs[index] = Leaf(leaf.tx_id, leaf.tx_time, leaf.user, leaf.kinds, tables).encode()
    for index, blob in enumerate(blobs):
        conn.execute(
            "UPDATE _chrono_tx SET leaf = ?, leaf_hash = ? WHERE leaf_index = ?",
            (blob, leaf_hash(blob), index),
        )
    conn.execute("DELETE FROM _chrono_merkle")
    conn.execute("DELETE FROM _chrono_ledger_hash")
    conn.execute("DELETE FROM _chrono_digests")  # the copies kept inside the file go too
    MerkleTree(SQLiteNodeStore(conn)).append_many(blobs)
    conn.executemany(
        "INSERT INTO _chrono_ledger_hash VALUES (?, ?)",
        [(leaf_hash(blob), Leaf.decode(blob).tx_id) for blob in blobs],
    )
    conn.execute("COMMIT")
    conn.close()


def test_a_whole_file_rewrite_is_caught_only_by_a_digest_kept_elsewhere(
    bank: ChronoDB, tmp_path: Path
) -> None:
    tx_id = bank.execute("UPDATE accounts SET balance = 500 WHERE id = 2").tx_id
    bank.audit_trail.export_digest(tmp_path / "kept.json")
    path = Path(bank.path)
    bank.close()
    rewrite_history(path, tx_id)
    db = ChronoDB(path)
    assert db.execute("SELECT balance FROM accounts WHERE id = 2").scalar() == 5
    # Every hash in the file agrees with the rewritten rows: verification alone passes...
    report = db.audit_trail.verify()
    assert report.ok, report.summary()
    # ...but the digest exported before the rewrite no longer matches.
    assert not db.audit_trail.verify_consistency(Digest.load(tmp_path / "kept.json"))
    db.close()


def test_a_rewrite_is_caught_by_digests_saved_in_the_file(bank: ChronoDB) -> None:
    tx_id = bank.execute("UPDATE accounts SET balance = 500 WHERE id = 2").tx_id
    bank.audit_trail.digest()  # saved in _chrono_digests
    path = Path(bank.path)
    bank.close()
    conn = sqlite3.connect(path)
    saved = conn.execute("SELECT * FROM _chrono_digests").fetchall()
    conn.close()
    rewrite_history(path, tx_id)
    conn = sqlite3.connect(path)
    conn.executemany("INSERT INTO _chrono_digests VALUES (?, ?, ?, ?, ?)", saved)
    conn.commit()
    conn.close()
    db = ChronoDB(path, read_only=True)
    report = db.audit_trail.verify()
    assert not report.ok
    assert report.first_problem.kind == "history rewritten"
    db.close()


def test_audit_report_filters_and_exports(tmp_path: Path) -> None:
    alice = ChronoDB(tmp_path / "r.db", user="alice")
    alice.execute("CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance REAL)")
    alice.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    alice.execute("INSERT INTO accounts VALUES (1, 10)")
    time.sleep(0.01)
    middle = time.time()
    time.sleep(0.01)
    alice.close()
    bob = ChronoDB(tmp_path / "r.db", user="bob")
    update = bob.execute("UPDATE accounts SET balance = 20 WHERE id = 1")
    bob.execute("INSERT INTO notes VALUES (1, 'hi')")
    trail = bob.audit_trail

    everything = trail.generate_audit_report()
    assert [(e["table"], e["operation"], e["user"]) for e in everything.entries] == [
        ("accounts", "INSERT", "alice"),
        ("accounts", "UPDATE", "bob"),
        ("notes", "INSERT", "bob"),
    ]
    assert everything.integrity["ok"] is True
    assert [e["table"] for e in trail.generate_audit_report(table="notes").entries] == ["notes"]
    assert len(trail.generate_audit_report(user="alice")) == 1
    later = trail.generate_audit_report(table="accounts", start_time=middle)
    assert len(later) == 1
    entry = later.entries[0]
    assert (entry["before"]["balance"], entry["after"]["balance"]) == (10, 20)
    assert entry["tx_hash"] == update.tx_hash and entry["key"] == 1
    assert len(trail.generate_audit_report(end_time=middle)) == 1

    data = json.loads(later.to_json(tmp_path / "report.json"))
    assert data["entries"][0]["tx_hash"] == update.tx_hash
    assert json.loads((tmp_path / "report.json").read_text()) == data
    rows = list(csv.DictReader(io.StringIO(everything.to_csv(tmp_path / "report.csv"))))
    assert [r["user"] for r in rows] == ["alice", "bob", "bob"]
    assert json.loads(rows[1]["after"]) == {"id": 1, "balance": 20}
    assert (tmp_path / "report.csv").read_bytes().decode() == everything.to_csv()
    bob.close()
