"""db.audit_trail on both backends: the same calls give the same shapes and answers."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tests.chronodb import pgserver

from chronodb import ChronoDB
from chronodb.audit.leaf import Leaf
from chronodb.audit.proofs import EMPTY_ROOT, leaf_hash, verify_inclusion
from chronodb.audit.trail import AuditReport, Digest
from chronodb.audit.verify import VerificationReport
from chronodb.errors import AuditError, ClosedError, ConnectionLostError, TransactionError


@pytest.fixture
def bank(backend_db: ChronoDB) -> ChronoDB:
    db = backend_db
    db.execute("CREATE TABLE accounts (id INTEGER PRIMARY KEY, owner TEXT, balance REAL)")
    db.execute("INSERT INTO accounts VALUES (1, 'ann', 10), (2, 'bob', 20)")
    return db


def leaves(db: ChronoDB) -> int:
    """How many leaves the ledger holds: one per committed write transaction."""
    return len(db.transactions())


def saved_digests(db: ChronoDB) -> list[tuple[int, str]]:
    rows = db.execute("SELECT tree_size, root FROM _chrono_digests ORDER BY tree_size")
    return [(size, bytes(root).hex()) for size, root in rows]


def test_verify_reports_an_honest_database_ok(bank: ChronoDB) -> None:
    bank.execute("UPDATE accounts SET balance = 11 WHERE id = 1")
    bank.execute("DELETE FROM accounts WHERE id = 2")
    seen: list[tuple[int, int]] = []
    report = bank.audit_trail.verify(progress=lambda done, total: seen.append((done, total)))
    assert isinstance(report, VerificationReport)
    assert report.ok and bool(report) and report.problems == []
    assert report.first_problem is None
    assert report.summary().startswith("Audit verification OK")
    assert report.tree_size == leaves(bank)
    assert report.root == bank.audit_trail.digest(save=False).root
    assert seen and seen[-1][0] == seen[-1][1] == 4  # two inserts, an update, a tombstone
    assert bank.verify_audit_integrity() is True
    assert json.loads(json.dumps(report.to_dict(), default=str))["ok"] is True


def test_verify_transaction_accepts_good_hashes_only(bank: ChronoDB) -> None:
    good = bank.execute("UPDATE accounts SET balance = 11 WHERE id = 1").tx_hash
    assert good is not None
    assert bank.audit_trail.verify_transaction(good)
    assert bank.audit_trail.verify_transaction(good.upper())
    assert not bank.audit_trail.verify_transaction("00" * 32)  # unknown
    assert not bank.audit_trail.verify_transaction("not hex")
    assert not bank.audit_trail.verify_transaction(good[:10])
    for tx in bank.transactions():
        assert bank.audit_trail.verify_transaction(bank.tx_hash(tx["tx_id"]))


def test_a_proof_verifies_with_the_standalone_verifier(bank: ChronoDB) -> None:
    written = bank.execute("UPDATE accounts SET balance = 12 WHERE id = 2")
    bank.execute("DELETE FROM accounts WHERE id = 1")
    proof = json.loads(json.dumps(bank.audit_trail.prove(written.tx_hash)))  # plain JSON
    assert set(proof) == {"tx_id", "leaf", "leaf_hash", "root", "leaf_index", "tree_size", "hashes"}
    assert proof["tx_id"] == written.tx_id
    assert Leaf.decode(bytes.fromhex(proof["leaf"])).tx_id == written.tx_id
    assert leaf_hash(bytes.fromhex(proof["leaf"])).hex() == written.tx_hash == proof["leaf_hash"]
    args = (proof["leaf_index"], proof["tree_size"], [bytes.fromhex(h) for h in proof["hashes"]])
    root = bytes.fromhex(proof["root"])
    assert proof["tree_size"] == leaves(bank)
    assert verify_inclusion(bytes.fromhex(written.tx_hash), *args, root)
    assert root.hex() == bank.audit_trail.digest().root
    assert not verify_inclusion(bytes(32), *args, root)


def test_prove_refuses_what_is_not_a_known_hash(bank: ChronoDB) -> None:
    with pytest.raises(AuditError, match="unknown transaction hash"):
        bank.audit_trail.prove("00" * 32)
    with pytest.raises(AuditError, match="not a transaction hash"):
        bank.audit_trail.prove("xyz")
    with pytest.raises(AuditError, match="not a transaction hash"):
        bank.audit_trail.prove(42)  # type: ignore[arg-type]


def test_digest_is_saved_unless_told_not_to(bank: ChronoDB) -> None:
    unsaved = bank.audit_trail.digest(save=False)
    assert saved_digests(bank) == []
    made = bank.audit_trail.digest()
    assert (made.tree_size, made.root) == (unsaved.tree_size, unsaved.root)
    assert made.tree_size == leaves(bank)
    assert saved_digests(bank) == [(made.tree_size, made.root)]
    assert made.signature is None and made.public_key is None
    bank.execute("UPDATE accounts SET balance = 0 WHERE id = 1")
    later = bank.audit_trail.digest()
    assert saved_digests(bank) == [(made.tree_size, made.root), (later.tree_size, later.root)]
    assert bank.audit_trail.verify().checked["digests"] == 2


def test_digest_of_an_empty_ledger(backend_db: ChronoDB) -> None:
    made = backend_db.audit_trail.digest(save=False)
    assert made.tree_size == leaves(backend_db)
    if made.tree_size == 0:
        assert made.root == EMPTY_ROOT.hex()
    assert backend_db.audit_trail.verify_consistency(made)


def test_digest_then_more_writes_is_consistent(bank: ChronoDB, tmp_path: Path) -> None:
    old = bank.audit_trail.export_digest(tmp_path / "digest.json")
    for i in range(5):
        bank.execute("UPDATE accounts SET balance = ? WHERE id = 1", [i])
    new = bank.audit_trail.digest()
    assert new.tree_size == old.tree_size + 5
    assert bank.audit_trail.verify_consistency(Digest.load(tmp_path / "digest.json"))
    assert bank.audit_trail.verify_consistency(old.to_json())
    assert bank.audit_trail.verify_consistency(json.loads(old.to_json()))
    assert bank.audit_trail.verify_consistency(new)
    forged = Digest(old.tree_size, "ab" * 32, old.time)
    assert not bank.audit_trail.verify_consistency(forged)
    assert not bank.audit_trail.verify_consistency(Digest(new.tree_size + 1, new.root, new.time))
    assert bank.audit_trail.verify_consistency(Digest(0, EMPTY_ROOT.hex(), 0.0))


@pytest.mark.parametrize(
    "bad",
    [
        "not json",
        "{}",
        {"tree_size": -1, "root": "00" * 32, "time": 0.0},
        {"tree_size": 1, "root": "short", "time": 0.0},
        {"tree_size": True, "root": "00" * 32, "time": 0.0},
        42,
    ],
)
def test_verify_consistency_refuses_what_is_not_a_digest(bank: ChronoDB, bad: object) -> None:
    with pytest.raises(AuditError, match="not a ChronoDB digest"):
        bank.audit_trail.verify_consistency(bad)  # type: ignore[arg-type]


def test_export_to_a_path_and_a_stream(bank: ChronoDB, tmp_path: Path) -> None:
    out = io.StringIO()
    made = bank.audit_trail.export_digest(out)
    assert json.loads(out.getvalue()) == json.loads(made.to_json())
    assert made.tree_size == leaves(bank)
    key = Ed25519PrivateKey.generate()
    signed = bank.audit_trail.export_digest(tmp_path / "d.json", signing_key=key)
    assert Digest.load(tmp_path / "d.json") == signed
    assert Digest.load(tmp_path / "d.json").verify_signature()


def test_signed_digest_verifies_and_a_tampered_one_does_not(bank: ChronoDB) -> None:
    key = Ed25519PrivateKey.generate()
    signed = bank.audit_trail.digest(signing_key=key)
    assert signed.signature and signed.public_key
    assert signed.verify_signature()
    assert Digest.from_json(signed.to_json()).verify_signature()
    raw = bank.audit_trail.digest(signing_key=key.private_bytes_raw())
    assert raw.public_key == signed.public_key and raw.verify_signature()
    bad = Digest(
        signed.tree_size + 1, signed.root, signed.time, signed.signature, signed.public_key
    )
    assert not bad.verify_signature()
    other = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    assert not signed.verify_signature(other)
    assert not bank.audit_trail.digest().verify_signature()  # unsigned
    kept = bank.execute(
        "SELECT signature, public_key FROM _chrono_digests WHERE tree_size = ?",
        [signed.tree_size],
    ).fetchone()
    assert kept is not None and kept[0] is None  # the unsigned one of that size came last
    with pytest.raises(AuditError, match="signing_key"):
        bank.audit_trail.digest(signing_key="not a key")


def test_audit_report_filters_and_exports(backend: str, tmp_path: Path) -> None:
    alice = ChronoDB(backend, user="alice")
    alice.execute("CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance REAL)")
    alice.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    alice.execute("INSERT INTO accounts VALUES (1, 10)")
    time.sleep(0.01)
    middle = time.time()
    time.sleep(0.01)
    alice.close()
    bob = ChronoDB(backend, user="bob")
    update = bob.execute("UPDATE accounts SET balance = 20 WHERE id = 1")
    bob.execute("INSERT INTO notes VALUES (1, 'hi')")
    trail = bob.audit_trail

    everything = trail.generate_audit_report()
    assert isinstance(everything, AuditReport)
    assert [(e["table"], e["operation"], e["user"]) for e in everything.entries] == [
        ("accounts", "INSERT", "alice"),
        ("accounts", "UPDATE", "bob"),
        ("notes", "INSERT", "bob"),
    ]
    assert everything.integrity["ok"] is True
    assert everything.integrity["first_problem"] is None
    assert everything.integrity["tree_size"] == leaves(bob)
    assert [e["table"] for e in trail.generate_audit_report(table="notes").entries] == ["notes"]
    assert len(trail.generate_audit_report(user="alice")) == 1
    later = trail.generate_audit_report(table="accounts", start_time=middle)
    assert len(later) == 1
    entry = later.entries[0]
    assert (entry["before"]["balance"], entry["after"]["balance"]) == (10, 20)
    assert entry["tx_hash"] == update.tx_hash and entry["key"] == 1
    assert entry["tx_id"] == update.tx_id and entry["tx_time"].endswith("+00:00")
    assert len(trail.generate_audit_report(end_time=middle)) == 1
    assert trail.generate_audit_report(verify_integrity=False).integrity == {}

    data = json.loads(later.to_json(tmp_path / "report.json"))
    assert data["entries"][0]["tx_hash"] == update.tx_hash
    assert json.loads((tmp_path / "report.json").read_text()) == data
    rows = list(csv.DictReader(io.StringIO(everything.to_csv(tmp_path / "report.csv"))))
    assert [r["user"] for r in rows] == ["alice", "bob", "bob"]
    assert json.loads(rows[1]["after"]) == {"id": 1, "balance": 20}
    assert (tmp_path / "report.csv").read_bytes().decode() == everything.to_csv()
    bob.close()


def test_a_read_only_database_proves_but_saves_no_digest(backend: str) -> None:
    db = ChronoDB(backend, user="tester")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    tx_hash = db.execute("INSERT INTO t VALUES (1, 'a')").tx_hash
    db.close()
    reader = ChronoDB(backend, read_only=True)
    made = reader.audit_trail.digest()
    assert made.tree_size == leaves(reader)
    assert saved_digests(reader) == []
    assert reader.audit_trail.verify_transaction(tx_hash)
    assert reader.audit_trail.prove(tx_hash)["root"] == made.root
    assert reader.audit_trail.verify().ok
    reader.close()


def test_a_second_connection_sees_the_same_ledger(backend: str) -> None:
    one = ChronoDB(backend, user="one")
    one.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    two = ChronoDB(backend, user="two")
    first = one.audit_trail.digest()
    written = two.execute("INSERT INTO t VALUES (1, 'a')")
    assert one.audit_trail.verify_transaction(written.tx_hash)
    assert one.audit_trail.digest().tree_size == first.tree_size + 1
    assert two.audit_trail.verify_consistency(first)
    assert one.audit_trail.digest().root == two.audit_trail.digest().root
    one.close()
    two.close()


def test_a_closed_databases_trail_says_so(backend: str) -> None:
    db = ChronoDB(backend)
    trail = db.audit_trail
    db.close()
    for call in (
        trail.verify,
        lambda: trail.verify_transaction("00" * 32),
        lambda: trail.prove("00" * 32),
        trail.digest,
        lambda: trail.verify_consistency(Digest(0, EMPTY_ROOT.hex(), 0.0)),
        trail.generate_audit_report,
    ):
        with pytest.raises(ClosedError):
            call()


def test_on_postgresql_the_ledger_is_read_outside_a_transaction(pg_url: str) -> None:
    """It reads in a snapshot of its own, after the horizon: not inside an open one."""
    db = ChronoDB(pgserver.as_url(pg_url))
    db.execute("CREATE TABLE t (id integer PRIMARY KEY)")
    with db.transaction():
        db.execute("INSERT INTO t VALUES (1)")
        for call in (db.audit_trail.verify, db.audit_trail.digest, db.verify_audit_integrity):
            with pytest.raises(TransactionError, match="outside a transaction"):
                call()
    assert db.execute("SELECT count(*) FROM t").scalar() == 1  # the transaction went on
    assert db.audit_trail.verify().ok
    assert db.audit_trail.digest().tree_size == 2  # CREATE TABLE, then the INSERT
    db.close()


def test_every_proof_verifies_and_every_flipped_bit_fails(bank: ChronoDB) -> None:
    for i in range(3, 9):
        bank.execute("INSERT INTO accounts VALUES (?, ?, ?)", [i, f"o{i}", i])
        bank.execute("UPDATE accounts SET balance = balance + 1 WHERE id < ?", [i])
    root = bytes.fromhex(bank.audit_trail.digest(save=False).root)
    for tx in bank.transactions():
        tx_hash = bytes.fromhex(bank.tx_hash(tx["tx_id"]))
        proof = bank.audit_trail.prove(tx_hash.hex())
        index, size = proof["leaf_index"], proof["tree_size"]
        hashes = [bytes.fromhex(h) for h in proof["hashes"]]
        assert verify_inclusion(tx_hash, index, size, hashes, root)
        for n, digest in enumerate(hashes):
            flipped = bytes([digest[0] ^ 1]) + digest[1:]
            bad = [*hashes[:n], flipped, *hashes[n + 1 :]]
            assert not verify_inclusion(tx_hash, index, size, bad, root)
        assert not verify_inclusion(
            bytes([tx_hash[0] ^ 1]) + tx_hash[1:], index, size, hashes, root
        )


def test_on_postgresql_a_dropped_connection_is_reported_then_made_again(pg_url: str) -> None:
    db = ChronoDB(pgserver.as_url(pg_url))
    db.execute("CREATE TABLE t (id integer PRIMARY KEY)")
    tx_hash = db.execute("INSERT INTO t VALUES (1)").tx_hash
    pid = db.execute("SELECT pg_backend_pid()").scalar()
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    with pytest.raises(ConnectionLostError):
        db.audit_trail.digest()
    assert db.audit_trail.verify_transaction(tx_hash)  # connected again
    assert db.audit_trail.digest().tree_size == 2  # CREATE TABLE, then the INSERT
    db.close()
