"""The audit ledger's core: an RFC 9162 Merkle tree log and standalone proof checks.

``merkle`` keeps the append-only tree in a node store (memory or a SQLite table);
``proofs`` verifies its inclusion and consistency proofs with only the standard
library, and can be copied out on its own.
"""

from chronodb.audit.merkle import MemoryNodeStore, MerkleTree, NodeStore, SQLiteNodeStore
from chronodb.audit.proofs import (
    EMPTY_ROOT,
    HASH_SIZE,
    ConsistencyProof,
    InclusionProof,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)
from chronodb.errors import AuditError

__all__ = [
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
