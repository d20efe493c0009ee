"""The ledger's write path: one leaf per committed write transaction, tx hashes, leaf encoding."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chronodb import ChronoDB
from chronodb.audit.leaf import Amendment, Leaf, TableDigest, encode_one
from chronodb.audit.proofs import leaf_hash
from chronodb.database import engine_of
from chronodb.errors import AuditError


def indexed(db: ChronoDB) -> ChronoDB:
    """``db`` with its leaves indexed into ``_chrono_ledger`` (writers do it in batches)."""
    engine_of(db).store_leaves(merkle=False)
    return db


def leaf_count(db: ChronoDB) -> int:
    return indexed(db).execute("SELECT count(*) FROM _chrono_ledger").scalar()


def test_every_committed_write_transaction_appends_one_leaf(db: ChronoDB) -> None:
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    before = leaf_count(db)
    db.execute("INSERT INTO t VALUES (1, 'a')")
    db.execute("UPDATE t SET v = 'b' WHERE id = 1")
    with db.transaction():  # two statements, one transaction, one leaf
        db.execute("INSERT INTO t VALUES (2, 'c')")
        db.execute("DELETE FROM t WHERE id = 1")
    assert leaf_count(db) == before + 3
    ledger_tx = [
        r[0] for r in indexed(db).execute("SELECT tx_id FROM _chrono_ledger ORDER BY leaf_index")
    ]
    assert ledger_tx == [r[0] for r in db.execute("SELECT tx_id FROM _chrono_tx ORDER BY tx_id")]


def test_rolled_back_and_empty_transactions_append_nothing(db: ChronoDB) -> None:
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    before = leaf_count(db)
    with pytest.raises(RuntimeError), db.transaction():
        db.execute("INSERT INTO t VALUES (1, 'a')")
        raise RuntimeError("give up")
    db.execute("BEGIN")
    db.execute("INSERT INTO t VALUES (2, 'b')")
    db.execute("ROLLBACK")
    empty = db.execute("UPDATE t SET v = 'x' WHERE id = 99")
    assert empty.tx_hash is None
    with db.transaction():
        db.execute("DELETE FROM t WHERE id = 42")
    assert leaf_count(db) == before
    assert db.verify_audit_integrity()


def test_tx_hash_is_on_results_and_in_change_history(db: ChronoDB) -> None:
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    first = db.execute("INSERT INTO t VALUES (1, 'a')")
    second = db.execute("UPDATE t SET v = 'b' WHERE id = 1")
    for result in (first, second):
        assert len(result.tx_hash) == 64
        assert result.tx_hash == db.tx_hash(result.tx_id)
    assert first.tx_hash != second.tx_hash
    later = db.execute("UPDATE t SET v = 'c' WHERE id = 1")  # hashed only when asked, below
    db.execute("UPDATE t SET v = 'd' WHERE id = 1")
    assert later.tx_hash == db.tx_hash(later.tx_id) != second.tx_hash
    history = db.get_change_history("t", 1)
    assert [h["tx_hash"] for h in history][:2] == [first.tx_hash, second.tx_hash]
    assert db.tx_hash(10_000) is None


def test_the_leaf_records_the_transaction(db: ChronoDB) -> None:
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    with db.transaction():
        db.execute("INSERT INTO t VALUES (1, 'a'), (2, 'b')")
        result = db.execute("UPDATE t SET v = 'c' WHERE id = 1")
    blob = (
        indexed(db)
        .execute("SELECT leaf FROM _chrono_ledger WHERE tx_id = ?", [result.tx_id])
        .scalar()
    )
    assert leaf_hash(blob).hex() == db.tx_hash(result.tx_id)
    leaf = Leaf.decode(blob)
    assert (leaf.tx_id, leaf.user, leaf.kinds) == (result.tx_id, "tester", ("INSERT", "UPDATE"))
    assert [t.versions for t in leaf.tables] == [2]  # one version per key per transaction
    assert leaf.amendments == ()


def test_each_leaf_counts_exactly_the_versions_its_transaction_left(db: ChronoDB) -> None:
    """Sealing finds a transaction's versions at the tail of each history table."""
    db.execute("CREATE TABLE big (id INTEGER PRIMARY KEY, v REAL)")
    db.execute("CREATE TABLE small (id INTEGER PRIMARY KEY, v TEXT)")
    db.execute("CREATE TABLE idle (id INTEGER PRIMARY KEY)")
    db.execute("INSERT INTO idle VALUES (1)")
    db.executemany("INSERT INTO big VALUES (?, 0.5)", [(i,) for i in range(500)])
    with db.transaction():
        db.executemany("UPDATE big SET v = ? WHERE id = ?", [(i + 0.25, i) for i in range(300)])
        for n in range(20):  # one row changed many times: still one version
            db.execute("UPDATE small SET v = ? WHERE id = 1", [f"v{n}"])
            db.execute("INSERT OR REPLACE INTO small VALUES (1, ?)", [f"w{n}"])
        db.execute("DELETE FROM big WHERE id >= 450")
        mixed = db.execute("INSERT INTO small VALUES (2, 'b')")
    after = db.execute("UPDATE small SET v = 'later' WHERE id = 2")
    names = dict(db.execute("SELECT DISTINCT table_id, name FROM _chrono_schema").rows)
    for result, want in ((mixed, {"big": 350, "small": 2}), (after, {"small": 1})):
        blob = indexed(db).execute(
            "SELECT leaf FROM _chrono_ledger WHERE tx_id = ?", [result.tx_id]
        )
        leaf = Leaf.decode(blob.scalar())
        assert {names[t.table_id]: t.versions for t in leaf.tables} == want
        assert db.audit_trail.verify_transaction(db.tx_hash(result.tx_id))
    assert db.verify_audit_integrity()


def test_a_database_without_ledger_has_no_hashes(tmp_path) -> None:
    db = ChronoDB(tmp_path / "plain.db", ledger=False)
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    result = db.execute("INSERT INTO t VALUES (1)")
    assert result.tx_hash is None
    assert db.tx_hash(result.tx_id) is None
    with pytest.raises(AuditError, match="ledger=False"):
        db.audit_trail.digest()
    db.close()


digests = st.binary(min_size=32, max_size=32)
ids = st.integers(0, 2**32 - 1)
counts = st.integers(0, 2**63 - 1)
leaves = st.builds(
    Leaf,
    tx_id=counts,
    tx_time=st.integers(-(2**63), 2**63 - 1),
    user=st.text(max_size=50),
    kinds=st.lists(
        st.sampled_from(["INSERT", "UPDATE", "DELETE", "CREATE", "PRUNE"]), max_size=4
    ).map(tuple),
    tables=st.lists(st.builds(TableDigest, ids, counts, digests), max_size=5).map(tuple),
    amendments=st.lists(st.builds(Amendment, counts, ids, counts, digests), max_size=3).map(tuple),
)


@given(leaves)
def test_leaf_encoding_round_trips(leaf: Leaf) -> None:
    encoded = leaf.encode()
    assert Leaf.decode(encoded) == leaf
    assert Leaf.decode(encoded).encode() == encoded


@given(leaves, ids, digests)
def test_a_one_version_leaf_is_encoded_as_every_leaf(
    leaf: Leaf, table_id: int, digest: bytes
) -> None:
    one = Leaf(leaf.tx_id, leaf.tx_time, leaf.user, leaf.kinds, (TableDigest(table_id, 1, digest),))
    encoded = encode_one(leaf.tx_id, leaf.tx_time, leaf.user, leaf.kinds, table_id, digest)
    assert encoded == one.encode()
    assert Leaf.decode(encoded) == one


@given(leaves, st.data())
def test_a_damaged_leaf_never_decodes_to_the_same_leaf(leaf: Leaf, data: st.DataObject) -> None:
    encoded = leaf.encode()
    cut = data.draw(st.integers(0, len(encoded) - 1))
    with pytest.raises(AuditError):
        Leaf.decode(encoded[:cut])
    with pytest.raises(AuditError, match="trailing"):
        Leaf.decode(encoded + b"\x00")


def test_unknown_leaf_format_is_refused() -> None:
    encoded = bytearray(Leaf(1, 2, "u", (), ()).encode())
    encoded[0] = 2
    with pytest.raises(AuditError, match="format 2"):
        Leaf.decode(bytes(encoded))


def test_merkle_nodes_are_stored_lazily_and_readers_see_every_leaf(tmp_path) -> None:
    from chronodb.audit.ledger import BATCH

    path = tmp_path / "batched.db"
    db = ChronoDB(path)
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)")
    hashes = [db.execute("INSERT INTO t VALUES (?, ?)", (i, i)).tx_hash for i in range(150)]
    ledger = engine_of(db).ledger
    # Writers put leaves on history rows and index them in batches (and on close); the
    # tree's nodes wait for a reader (or BATCH more leaves).
    assert ledger.indexed_size < 151
    assert ledger.tree.size == 0 < BATCH
    db.close()
    # A read-only reader completes the tree in memory; proofs cover every leaf.
    reader = ChronoDB(path, read_only=True)
    assert reader.audit_trail.verify_transaction(hashes[-1])
    assert engine_of(reader).ledger.tree.size == 0
    reader.close()
    # A reader that may write stores the pending nodes first.
    db = ChronoDB(path)
    assert db.audit_trail.verify_transaction(hashes[-1])
    assert engine_of(db).ledger.tree.size == 151
    hashes.append(db.execute("INSERT INTO t VALUES (999, 1)").tx_hash)
    assert db.audit_trail.verify_transaction(hashes[-1])
    db.close()
    reader = ChronoDB(path, read_only=True)
    assert reader.audit_trail.verify_transaction(hashes[-1])
    assert reader.audit_trail.verify_transaction(hashes[3])
    assert reader.audit_trail.verify().ok
    reader.close()


def test_an_edited_hash_index_entry_fails_verification(tmp_path) -> None:
    import sqlite3

    path = tmp_path / "index.db"
    db = ChronoDB(path)
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)")
    txs = [db.execute("INSERT INTO t VALUES (?, ?)", (i, i)).tx_id for i in range(70)]
    db.audit_trail.digest()  # stores the Merkle nodes and the hash index
    db.close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE _chrono_ledger_hash SET tx_id = ? WHERE tx_id = ?", (txs[5], txs[4]))
    conn.commit()
    conn.close()
    db = ChronoDB(path)
    report = db.audit_trail.verify()
    assert not report.ok
    assert any(p.kind == "ledger hash index edited" for p in report.problems)
    db.close()


def test_versions_written_by_triggers_and_cascades_elsewhere_are_sealed(db: ChronoDB) -> None:
    """The seal reads the table a statement names first; writes elsewhere are not missed."""
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT)")
    db.execute(
        "CREATE TABLE child (id INTEGER PRIMARY KEY, "
        "parent_id INTEGER REFERENCES parent (id) ON DELETE CASCADE)"
    )
    db.execute("CREATE TABLE log (id INTEGER PRIMARY KEY, what TEXT)")
    for n in range(5):  # idle tables the seal need not read
        db.execute(f"CREATE TABLE idle{n} (id INTEGER PRIMARY KEY)")
    db.execute(
        "CREATE TRIGGER audit_parent AFTER UPDATE ON parent "
        "BEGIN INSERT INTO log (what) VALUES ('renamed ' || NEW.name); END"
    )
    db.execute("INSERT INTO parent VALUES (1, 'a'), (2, 'b')")
    db.executemany("INSERT INTO child VALUES (?, ?)", [(10, 1), (11, 1), (12, 2)])
    names = dict(db.execute("SELECT DISTINCT table_id, name FROM _chrono_schema").rows)

    def sealed(result) -> dict[str, int]:
        blob = indexed(db).execute(
            "SELECT leaf FROM _chrono_ledger WHERE tx_id = ?", [result.tx_id]
        )
        return {names[t.table_id]: t.versions for t in Leaf.decode(blob.scalar()).tables}

    assert sealed(db.execute("UPDATE parent SET name = 'A' WHERE id = 1")) == {
        "parent": 1,
        "log": 1,
    }
    assert sealed(db.execute("DELETE FROM parent WHERE id = 1")) == {"parent": 1, "child": 2}
    with db.transaction():  # a statement naming no table of its own: every table is read
        db.execute("WITH v(x) AS (VALUES (3)) INSERT INTO parent SELECT x, 'c' FROM v")
        last = db.execute("UPDATE idle0 SET id = id")  # changes no value: no version
    assert sealed(last) == {"parent": 1}
    assert db.verify_audit_integrity()


def leaf_indexes(db: ChronoDB) -> list[int]:
    rows = indexed(db).connection.execute(
        "SELECT leaf_index FROM _chrono_tx WHERE leaf IS NOT NULL ORDER BY tx_id"
    )
    return [r[0] for r in rows]


def test_leaves_stay_in_order_when_two_connections_take_turns(tmp_path) -> None:
    # Each connection numbers its next leaf from its own last seal only while no other
    # transaction came between: turns and a failed commit break that.
    path = tmp_path / "turns.db"
    first, second = ChronoDB(path), ChronoDB(path)
    first.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v INTEGER)")
    for n in range(12):
        writer = (first, first, second)[n % 3]
        writer.execute("INSERT INTO t VALUES (?, ?)", [n, n])
        if n == 5:
            with pytest.raises(RuntimeError), first.transaction():
                first.execute("UPDATE t SET v = -1 WHERE k = 0")
                raise RuntimeError("rolled back after the write")
    assert leaf_indexes(first) == list(range(13))
    assert first.verify_audit_integrity()
    first.close()
    second.close()


def test_a_transaction_without_a_leaf_does_not_shift_the_next_leaf(tmp_path) -> None:
    path = tmp_path / "gap.db"
    db, plain = ChronoDB(path), ChronoDB(path, ledger=False)
    db.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v INTEGER)")
    db.execute("INSERT INTO t VALUES (1, 1)")
    plain.execute("UPDATE t SET v = 2 WHERE k = 1")  # a writer that seals nothing
    db.execute("UPDATE t SET v = 3 WHERE k = 1")
    assert leaf_indexes(db) == [0, 1, 2]
    db.close()
    plain.close()


def test_a_table_another_connection_created_is_sealed(tmp_path) -> None:
    # `late` opened before the table existed: its leaf must still count the table's versions.
    path = tmp_path / "late.db"
    early, late = ChronoDB(path), ChronoDB(path)
    early.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v INTEGER)")
    late.execute("INSERT INTO t VALUES (1, 1)")
    with late.transaction():
        late.execute("INSERT INTO t VALUES (2, 2)")
    assert early.verify_audit_integrity()
    early.close()
    late.close()


def test_a_seal_whose_commit_failed_does_not_number_the_next_leaf(tmp_path, monkeypatch) -> None:
    # The failed transaction's id goes to a writer without a ledger; the next leaf must
    # still follow the last committed one.
    from chronodb.errors import TransactionError

    path = tmp_path / "failed.db"
    db, plain = ChronoDB(path), ChronoDB(path, ledger=False)
    db.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v INTEGER)")
    db.execute("INSERT INTO t VALUES (1, 1)")
    backend = engine_of(db).backend
    commit = backend.commit

    def busy() -> None:
        raise TransactionError("The database is busy (a stand-in for a COMMIT that timed out)")

    monkeypatch.setattr(backend, "commit", busy)
    with pytest.raises(TransactionError), db.transaction():
        db.execute("UPDATE t SET v = 2 WHERE k = 1")
    monkeypatch.setattr(backend, "commit", commit)
    plain.execute("UPDATE t SET v = 3 WHERE k = 1")  # takes the failed transaction's id
    db.execute("UPDATE t SET v = 4 WHERE k = 1")
    assert leaf_indexes(db) == [0, 1, 2]
    db.close()
    plain.close()


@pytest.mark.parametrize("trim", ["erase", "prune"])
def test_a_prune_or_erase_undone_by_rollback_to_leaves_the_ledger_verifiable(
    db: ChronoDB, trim: str
) -> None:
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    db.execute("INSERT INTO t VALUES (1, 'a')")
    db.execute("UPDATE t SET v = 'b' WHERE id = 1")
    db.execute("BEGIN")
    db.execute("INSERT INTO t VALUES (2, 'c')")
    db.execute("SAVEPOINT before_trim")
    removed = db.erase("t", 1) if trim == "erase" else db.prune_history(time.time())
    assert removed > 0
    db.execute("ROLLBACK TO before_trim")
    db.execute("COMMIT")
    assert [h["values"]["v"] for h in db.get_change_history("t", 1)] == ["a", "b"]
    assert db.verify_audit_integrity()


def test_a_transaction_whose_changes_were_all_rolled_back_to_a_savepoint_leaves_nothing(
    db: ChronoDB,
) -> None:
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    db.execute("INSERT INTO t VALUES (1, 'a')")
    before, transactions = leaf_count(db), len(db.transactions())
    db.execute("BEGIN")
    db.execute("SAVEPOINT s")
    db.execute("UPDATE t SET v = 'x' WHERE id = 1")
    db.execute("rollback to S")  # savepoint names are not case-sensitive
    db.execute("COMMIT")
    assert (leaf_count(db), len(db.transactions())) == (before, transactions)
    assert db.verify_audit_integrity()


def test_a_write_seals_its_leaf_on_its_history_row_and_writes_no_record(db: ChronoDB) -> None:
    """The leaf goes on a page the write dirties anyway; indexing copies it later."""
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    indexed(db)
    records = db.execute("SELECT count(*) FROM _chrono_tx").scalar()
    result = db.execute("INSERT INTO t VALUES (1, 'a'), (2, 'b')")
    assert db.execute("SELECT count(*) FROM _chrono_tx").scalar() == records
    on_rows = db.execute(
        "SELECT _chrono_seq, _chrono_leaf FROM _chrono_h1_t WHERE _chrono_tx = ? "
        "ORDER BY _chrono_seq",
        [result.tx_id],
    ).rows
    assert [leaf is None for _, leaf in on_rows] == [True, False]  # the last row holds it
    assert leaf_hash(bytes(on_rows[-1][1])).hex() == result.tx_hash == db.tx_hash(result.tx_id)
    # DDL writes no version: its leaf is a record, after every leaf before it is indexed
    db.execute("CREATE TABLE u (id INTEGER PRIMARY KEY)")
    assert leaf_indexes(db) == list(range(3))


def test_a_reader_that_cannot_write_sees_leaves_not_yet_indexed(tmp_path) -> None:
    path = tmp_path / "unindexed.db"
    writer = ChronoDB(path)
    writer.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)")
    hashes = [writer.execute("INSERT INTO t VALUES (?, ?)", (i, i)).tx_hash for i in range(5)]
    reader = ChronoDB(path, read_only=True)
    assert engine_of(reader).ledger.indexed_size == 1  # the CREATE's, a record
    for digest in (hashes[0], hashes[-1]):
        assert reader.audit_trail.verify_transaction(digest)
        assert reader.audit_trail.prove(digest)["tree_size"] == 6
    assert reader.audit_trail.verify().ok
    assert reader.audit_trail.digest().tree_size == 6
    assert engine_of(reader).ledger.indexed_size == 1  # it wrote nothing
    reader.close()
    # a reader that may write indexes them first
    other = ChronoDB(path)
    assert other.audit_trail.verify_transaction(hashes[-1])
    assert engine_of(other).ledger.indexed_size == 6
    other.close()
    writer.close()


@pytest.mark.parametrize("trim", ["prune", "erase"])
def test_leaves_on_history_rows_that_go_are_indexed_first(db: ChronoDB, trim: str) -> None:
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    first = db.execute("INSERT INTO t VALUES (1, 'a')")
    db.execute("UPDATE t SET v = 'b' WHERE id = 1")
    time.sleep(0.01)
    if trim == "prune":
        assert db.prune_history(time.time()) == 1  # the row that held first's leaf
    else:
        assert db.erase("t", 1) == 2
    assert db.tx_hash(first.tx_id) == first.tx_hash
    assert db.verify_audit_integrity()
