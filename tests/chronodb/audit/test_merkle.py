"""The incremental Merkle tree of chronodb.audit.merkle against the naive RFC 9162
reference, over both node stores."""

from __future__ import annotations

import doctest
import math
import random
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from rfc9162_reference import CT_LEAVES, ReferenceTree, leaf_bytes

import chronodb.audit
from chronodb.audit import (
    EMPTY_ROOT,
    AuditError,
    MemoryNodeStore,
    MerkleTree,
    NodeStore,
    SQLiteNodeStore,
    leaf_hash,
    merkle,
    proofs,
    verify_consistency,
    verify_inclusion,
)
from chronodb.errors import ChronoDBError

MAX_SIZE = 200
LEAVES = [leaf_bytes(i) for i in range(MAX_SIZE)]
REF = ReferenceTree(LEAVES)

# Roots of the first n CT test leaves, as published with the certificate-transparency
# reference implementation's tests (merkle_tree_test.cc).
CT_ROOTS = {
    1: "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    2: "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    3: "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    4: "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    5: "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    6: "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    7: "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    8: "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}


@pytest.fixture
def conn() -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(":memory:", isolation_level=None)
    yield connection
    connection.close()


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, conn: sqlite3.Connection) -> NodeStore:
    return MemoryNodeStore() if request.param == "memory" else SQLiteNodeStore(conn)


@pytest.fixture(scope="module")
def big_tree() -> MerkleTree:
    """200 leaves in a memory store, shared by the read-only exhaustive tests."""
    tree = MerkleTree()
    tree.append_many(LEAVES)
    return tree


class CountingStore(MemoryNodeStore):
    """A memory store that counts reads."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def get(self, level: int, index: int) -> bytes | None:
        self.reads += 1
        return super().get(level, index)


# -- test vectors ----------------------------------------------------------------


def test_ct_roots_for_sizes_1_to_8_match_the_reference_and_the_published_values(store):
    tree = MerkleTree(store)
    tree.append_many(CT_LEAVES)
    ct = ReferenceTree(CT_LEAVES)
    for n, expected in CT_ROOTS.items():
        assert tree.root(n) == ct.root(n)
        assert tree.root(n).hex() == expected
    assert tree.root().hex() == "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"


def test_ct_proofs_match_the_reference(store):
    tree = MerkleTree(store)
    tree.append_many(CT_LEAVES)
    ct = ReferenceTree(CT_LEAVES)
    for n in range(1, 9):
        for i in range(n):
            assert list(tree.inclusion_proof(i, n).hashes) == ct.inclusion(i, n)
        for m in range(n + 1):
            assert list(tree.consistency_proof(m, n).hashes) == ct.consistency(m, n)


def test_empty_tree():
    tree = MerkleTree()
    assert tree.size == len(tree) == 0
    assert tree.root() == EMPTY_ROOT
    assert tree.consistency_proof(0).hashes == ()


# -- exhaustive properties up to 200 leaves --------------------------------------


def test_roots_and_inclusion_proofs_of_every_size_up_to_200(big_tree):
    for n in range(1, MAX_SIZE + 1):
        root = big_tree.root(n)
        assert root == REF.root(n)
        for i in range(n):
            proof = big_tree.inclusion_proof(i, n)
            assert (proof.leaf_index, proof.tree_size) == (i, n)
            assert list(proof.hashes) == REF.inclusion(i, n)
            assert verify_inclusion(leaf_hash(LEAVES[i]), i, n, proof.hashes, root)


def test_consistency_proofs_all_pairs_up_to_64_then_sampled_up_to_200(big_tree):
    rng = random.Random(6962)
    pairs = [(m, n) for n in range(1, 65) for m in range(n + 1)]
    pairs += [(m, n) for n in range(65, MAX_SIZE + 1) for m in rng.sample(range(n + 1), 15)]
    for m, n in pairs:
        proof = big_tree.consistency_proof(m, n)
        assert list(proof.hashes) == REF.consistency(m, n), (m, n)
        assert proof.verify(big_tree.root(m), big_tree.root(n)), (m, n)


def test_proofs_from_the_tree_reject_a_tampered_leaf_or_root(big_tree):
    root = big_tree.root(150)
    proof = big_tree.inclusion_proof(77, 150)
    assert proof.verify(leaf_hash(LEAVES[77]), root)
    assert not proof.verify(leaf_hash(LEAVES[78]), root)
    assert not proof.verify(leaf_hash(LEAVES[77] + b"!"), root)
    assert not proof.verify(leaf_hash(LEAVES[77]), big_tree.root(151))
    consistency = big_tree.consistency_proof(99, 150)
    assert not consistency.verify(big_tree.root(98), root)
    assert not verify_consistency(99, 150, consistency.hashes, big_tree.root(99), big_tree.root())


# -- incremental appends and the stored nodes -------------------------------------


def test_one_by_one_appends_and_batches_store_the_same_nodes():
    single, batched = MemoryNodeStore(), MemoryNodeStore()
    one, many = MerkleTree(single), MerkleTree(batched)
    assert [one.append(leaf) for leaf in LEAVES[:77]] == list(range(77))
    # batches of uneven sizes, each continuing an arbitrary right edge
    sizes, start = [1, 2, 5, 13, 0, 30, 26], 0
    for size in sizes:
        assert many.append_many(LEAVES[start : start + size]) == range(start, start + size)
        start += size
    assert start == 77
    assert single._nodes == batched._nodes
    assert one.root() == many.root() == REF.root(77)


def test_the_store_holds_exactly_the_complete_subtrees(store):
    tree = MerkleTree(store)
    n = 45
    tree.append_many(LEAVES[:n])
    for level in range(7):
        width = 1 << level
        for index in range(n // width + 1):
            stored = store.get(level, index)
            if (index + 1) * width <= n:
                assert stored == REF.mth(index * width, (index + 1) * width)
            else:
                assert stored is None


def test_reads_are_logarithmic():
    store = CountingStore()
    tree = MerkleTree(store)
    n = 5_000
    tree.append_many(leaf_bytes(i) for i in range(n))
    bound = 2 * math.ceil(math.log2(n)) + 2
    checks = [
        lambda: tree.root(),
        lambda: tree.root(4_321),
        lambda: tree.inclusion_proof(4_999),
        lambda: tree.inclusion_proof(17, 3_001),
        lambda: tree.consistency_proof(3_333),
        lambda: tree.consistency_proof(1_023, 4_097),
    ]
    for check in checks:
        store.reads = 0
        check()
        assert store.reads <= bound
    store.reads = 0
    for i in range(n, n + 1_000):
        tree.append(leaf_bytes(i))
    assert store.reads <= 2 * 1_000  # amortised: one sibling read per completed subtree
    assert tree.root() == ReferenceTree([leaf_bytes(i) for i in range(n + 1_000)]).root(n + 1_000)


def test_a_failing_batch_leaves_a_valid_shorter_tree():
    tree = MerkleTree()
    tree.append_many(LEAVES[:5])
    with pytest.raises(TypeError):
        tree.append_many([*LEAVES[5:9], "not bytes"])  # type: ignore[list-item]
    assert tree.size == 9
    assert tree.root() == REF.root(9)
    assert tree.append(LEAVES[9]) == 9
    assert tree.root() == REF.root(10)


def test_leaf_hashes_can_be_appended_directly():
    tree = MerkleTree()
    assert tree.append_leaf_hashes(leaf_hash(leaf) for leaf in LEAVES[:6]) == range(6)
    assert tree.leaf_hash(5) == leaf_hash(LEAVES[5])
    assert tree.root() == REF.root(6)
    with pytest.raises(AuditError, match="32 bytes"):
        tree.append_leaf_hashes([b"short"])
    assert tree.size == 6


# -- SQLite store ------------------------------------------------------------------


def test_sqlite_and_memory_stores_give_identical_roots_and_proofs(conn):
    memory, sqlite = MerkleTree(MemoryNodeStore()), MerkleTree(SQLiteNodeStore(conn))
    for tree in (memory, sqlite):
        tree.append_many(LEAVES[:60])
        for leaf in LEAVES[60:99]:
            tree.append(leaf)
    for n in range(1, 100):
        assert memory.root(n) == sqlite.root(n)
        for i in range(0, n, 7):
            assert memory.inclusion_proof(i, n) == sqlite.inclusion_proof(i, n)
        for m in range(0, n, 5):
            assert memory.consistency_proof(m, n) == sqlite.consistency_proof(m, n)


def test_sqlite_store_leaves_the_transaction_to_the_caller(conn):
    store = SQLiteNodeStore(conn, table="ledger_nodes")
    tree = MerkleTree(store)
    conn.execute("BEGIN")
    tree.append_many(LEAVES[:10])
    assert conn.in_transaction
    conn.execute("COMMIT")
    root10 = tree.root()
    conn.execute("BEGIN")
    tree.append_many(LEAVES[10:20])
    assert conn.in_transaction
    assert tree.size == 20
    conn.execute("ROLLBACK")
    assert tree.size == 10
    assert tree.root() == root10
    columns = [row[1] for row in conn.execute("PRAGMA table_info(ledger_nodes)")]
    assert columns == ["level", "idx", "hash"]


def test_sqlite_store_persists_across_connections(tmp_path: Path):
    path = tmp_path / "ledger.db"
    first = sqlite3.connect(path)
    tree = MerkleTree(SQLiteNodeStore(first))
    tree.append_many(LEAVES[:33])
    first.commit()
    first.close()
    second = sqlite3.connect(path)
    second.row_factory = sqlite3.Row  # as ChronoDB's connection has
    try:
        reopened = MerkleTree(SQLiteNodeStore(second))
        assert reopened.size == 33
        assert reopened.root() == REF.root(33)
        reopened.append(LEAVES[33])
        assert reopened.root() == REF.root(34)
    finally:
        second.close()


def test_sqlite_store_reads_a_read_only_file_and_says_when_the_table_is_missing(tmp_path):
    path = tmp_path / "ledger.db"
    writer = sqlite3.connect(path)
    MerkleTree(SQLiteNodeStore(writer)).append_many(LEAVES[:7])
    writer.commit()
    writer.close()
    reader = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        assert MerkleTree(SQLiteNodeStore(reader)).root() == REF.root(7)
        with pytest.raises(AuditError, match="cannot create"):
            SQLiteNodeStore(reader, table="other_nodes")
    finally:
        reader.close()


def test_a_deleted_node_is_reported_not_misread(conn):
    tree = MerkleTree(SQLiteNodeStore(conn))
    tree.append_many(LEAVES[:16])
    conn.execute("DELETE FROM _chrono_merkle WHERE level = 2 AND idx = 1")
    with pytest.raises(AuditError, match="level 2, index 1"):
        tree.inclusion_proof(0)
    with pytest.raises(AuditError, match="level 2, index 1"):
        tree.consistency_proof(4, 8)
    assert tree.inclusion_proof(9).verify(leaf_hash(LEAVES[9]), REF.root(16))


def test_stores_refuse_to_overwrite_a_node(store):
    store.put(0, 0, b"\x00" * 32)
    with pytest.raises(AuditError, match="already stored"):
        store.put(0, 0, b"\x11" * 32)
    assert store.get(0, 0) == b"\x00" * 32


def test_sqlite_store_rejects_a_table_name_it_would_have_to_quote(conn):
    with pytest.raises(AuditError):
        SQLiteNodeStore(conn, table='x"; DROP TABLE y; --')


# -- bad requests ------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda t: t.root(11),
        lambda t: t.root(-1),
        lambda t: t.inclusion_proof(10),
        lambda t: t.inclusion_proof(5, 5),
        lambda t: t.inclusion_proof(-1),
        lambda t: t.inclusion_proof(0, 0),
        lambda t: t.consistency_proof(11),
        lambda t: t.consistency_proof(6, 5),
        lambda t: t.consistency_proof(-1, 5),
        lambda t: t.leaf_hash(10),
    ],
)
def test_impossible_requests_raise_audit_error(call):
    tree = MerkleTree()
    tree.append_many(LEAVES[:10])
    with pytest.raises(AuditError) as info:
        call(tree)
    assert isinstance(info.value, ChronoDBError)


def test_stores_satisfy_the_protocol(conn):
    assert isinstance(MemoryNodeStore(), NodeStore)
    assert isinstance(SQLiteNodeStore(conn), NodeStore)


@pytest.mark.parametrize("module", [merkle, proofs])
def test_docstring_examples_run(module):
    result = doctest.testmod(module)
    assert result.attempted > 0
    assert result.failed == 0


def test_public_api():
    assert chronodb.audit.__all__ == [
        "EMPTY_ROOT",
        "HASH_SIZE",
        "AuditError",
        "ConsistencyProof",
        "InclusionProof",
        "MemoryNodeStore",
        "MerkleTree",
        "NodeStore",
        "SQLiteNodeStore",
        "leaf_hash",
        "node_hash",
        "verify_consistency",
        "verify_inclusion",
    ]
    for name in chronodb.audit.__all__:
        assert getattr(chronodb.audit, name) is not None
