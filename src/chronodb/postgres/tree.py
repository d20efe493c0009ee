"""The ledger's Merkle tree on PostgreSQL, built on demand over the sealed leaves.

The tree (``audit/merkle.py``, RFC 9162) is not stored: it is built in memory over the
leaves in ``tx_id`` order up to the horizon (``install.horizon``), below which no
transaction can still appear, so a later tree always extends an earlier one and
consistency proofs hold. Proofs are ``audit/proofs.py``'s.
"""

from __future__ import annotations

import psycopg

from chronodb.audit.merkle import MemoryNodeStore, MerkleTree
from chronodb.audit.proofs import ConsistencyProof, InclusionProof, leaf_hash
from chronodb.errors import AuditError
from chronodb.postgres.install import horizon
from chronodb.postgres.names import TX_TABLE, qualified


def leaves(
    conn: psycopg.Connection, schema: str = "public", upto: int | None = None
) -> list[tuple[int, bytes]]:
    """(tx_id, leaf) of the committed transactions with a leaf, in id order, up to ``upto``
    (default: the horizon, below which no transaction can still appear)."""
    if upto is None:
        upto = horizon(conn, schema)
    rows = conn.execute(
        f"SELECT tx_id, leaf FROM {qualified(schema, TX_TABLE)} "
        "WHERE tx_id <= %s AND leaf IS NOT NULL ORDER BY tx_id",
        (upto,),
    ).fetchall()
    return [(int(tx), bytes(leaf)) for tx, leaf in rows]


class Tree:
    """The Merkle tree over the leaves up to a horizon, built in memory, with the leaf
    index of each transaction."""

    def __init__(self, conn: psycopg.Connection, schema: str = "public", upto: int | None = None):
        found = leaves(conn, schema, upto)
        hashes = [leaf_hash(leaf) for _, leaf in found]
        self.tree = MerkleTree(MemoryNodeStore())
        self.tree.append_leaf_hashes(hashes)
        self.index = {tx: i for i, (tx, _) in enumerate(found)}
        self.leaves = dict(found)
        self.by_hash = {h: tx for h, (tx, _) in zip(hashes, found, strict=True)}

    @property
    def size(self) -> int:
        return self.tree.size

    def root(self, size: int | None = None) -> bytes:
        return self.tree.root(size)

    def leaf_hash(self, tx_id: int) -> bytes:
        return leaf_hash(self.leaf(tx_id))

    def leaf(self, tx_id: int) -> bytes:
        if tx_id not in self.leaves:
            raise AuditError(f"transaction {tx_id} has no leaf in the ledger")
        return self.leaves[tx_id]

    def find(self, digest: bytes) -> int | None:
        """The transaction whose leaf hashes to ``digest`` (a ``tx_hash``), if any."""
        return self.by_hash.get(digest)

    def prove(self, tx_id: int, size: int | None = None) -> InclusionProof:
        """The inclusion proof of ``tx_id``'s leaf in the tree of ``size`` leaves."""
        self.leaf(tx_id)
        return self.tree.inclusion_proof(self.index[tx_id], size)

    def consistency(self, size1: int, size2: int | None = None) -> ConsistencyProof:
        """The proof that the tree of ``size1`` leaves is a prefix of the one of ``size2``."""
        return self.tree.consistency_proof(size1, size2)


def digest(conn: psycopg.Connection, schema: str = "public") -> tuple[int, bytes]:
    """(tree size, root) of the ledger now: what a signed digest signs."""
    tree = Tree(conn, schema)
    return tree.size, tree.root()
