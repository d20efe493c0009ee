"""An append-only RFC 9162 Merkle tree kept as its complete subtrees in a node store.

The tree never holds more than a proof's worth of hashes in memory. A
:class:`NodeStore` keeps the hash of every *complete* subtree, keyed by
``(level, index)``: level 0 holds the leaf hashes, and the node at
``(level, i)`` covers leaves ``[i * 2**level, (i + 1) * 2**level)``. Such a node
never changes once written, so appending only adds rows, and any older tree
(size ``m <= n``) can still be read back: its root folds, right to left, the
complete subtrees that the binary digits of ``m`` name.

Costs, for a tree of ``n`` leaves: appending writes the leaf and every subtree
it completes (amortised two rows, at most ``log2(n) + 1``); a root, an
inclusion proof or a consistency proof reads ``O(log n)`` nodes.

Example::

    >>> from chronodb.audit import MerkleTree, leaf_hash, verify_inclusion
    >>> tree = MerkleTree()
    >>> tree.append_many([b"a", b"b", b"c"])
    range(0, 3)
    >>> proof = tree.inclusion_proof(2)
    >>> verify_inclusion(leaf_hash(b"c"), 2, 3, proof.hashes, tree.root())
    True

The store is the source of truth: the tree caches nothing, so a caller that
rolls back its SQLite transaction after an append finds the tree as it was.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Iterable, Iterator
from typing import Protocol, runtime_checkable

from chronodb.audit.proofs import (
    EMPTY_ROOT,
    HASH_SIZE,
    ConsistencyProof,
    InclusionProof,
    leaf_hash,
    node_hash,
)
from chronodb.errors import AuditError
from chronodb.layout import MERKLE

Node = tuple[int, int, bytes]
"""``(level, index, hash)`` of one complete subtree."""


@runtime_checkable
class NodeStore(Protocol):
    """Where a :class:`MerkleTree` keeps the hashes of its complete subtrees.

    Nodes are written once and never changed; a store refuses to overwrite one
    (:class:`~chronodb.errors.AuditError`). Leaves are stored contiguously from
    index 0, so the number of leaves is one past the last leaf stored.
    """

    def get(self, level: int, index: int) -> bytes | None:
        """The hash of the node at ``(level, index)``, or None if it is not stored."""
        ...

    def put(self, level: int, index: int, digest: bytes) -> None:
        """Store one node."""
        ...

    def put_many(self, nodes: Iterable[Node]) -> None:
        """Store many nodes, consuming ``nodes`` lazily and in order."""
        ...

    def leaf_count(self) -> int:
        """How many leaves (level-0 nodes) are stored."""
        ...


class MemoryNodeStore:
    """A :class:`NodeStore` in a dict, for tests and throwaway trees."""

    def __init__(self) -> None:
        self._nodes: dict[tuple[int, int], bytes] = {}
        self._leaves = 0

    def __len__(self) -> int:
        return len(self._nodes)

    def get(self, level: int, index: int) -> bytes | None:
        return self._nodes.get((level, index))

    def put(self, level: int, index: int, digest: bytes) -> None:
        key = (level, index)
        if key in self._nodes:
            raise AuditError(f"Merkle node (level {level}, index {index}) is already stored")
        self._nodes[key] = bytes(digest)
        if level == 0 and index >= self._leaves:
            self._leaves = index + 1

    def put_many(self, nodes: Iterable[Node]) -> None:
        for level, index, digest in nodes:
            self.put(level, index, digest)

    def leaf_count(self) -> int:
        return self._leaves


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class SQLiteNodeStore:
    """A :class:`NodeStore` in a SQLite table of the caller's connection.

    The table ``(level, idx, hash)`` is created if missing. The store never
    begins, commits or rolls back: nodes become durable with the caller's
    transaction, and vanish with its rollback.
    """

    def __init__(self, conn: sqlite3.Connection, table: str = MERKLE) -> None:
        if not _IDENTIFIER.match(table):
            raise AuditError(f"not a plain table name: {table!r}")
        self._conn = conn
        self.table = table
        try:
            conn.execute(
                f'CREATE TABLE IF NOT EXISTS "{table}" ('
                "level INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL, "
                "PRIMARY KEY (level, idx)) WITHOUT ROWID"
            )
        except sqlite3.OperationalError as exc:  # e.g. a read-only file without the table
            raise AuditError(f"cannot create the Merkle table {table}: {exc}") from exc
        # The file's table, even where a TEMP table of the same name would hide it.
        self._get_sql = f'SELECT hash FROM main."{table}" WHERE level = ? AND idx = ?'
        self._put_sql = f'INSERT INTO main."{table}" (level, idx, hash) VALUES (?, ?, ?)'
        self._count_sql = (
            f'SELECT idx FROM main."{table}" WHERE level = 0 ORDER BY idx DESC LIMIT 1'
        )

    def get(self, level: int, index: int) -> bytes | None:
        row = self._conn.execute(self._get_sql, (level, index)).fetchone()
        return None if row is None else bytes(row[0])

    def put(self, level: int, index: int, digest: bytes) -> None:
        self.put_many(((level, index, digest),))

    def put_many(self, nodes: Iterable[Node]) -> None:
        try:
            self._conn.executemany(self._put_sql, nodes)
        except sqlite3.IntegrityError as exc:
            raise AuditError(f"a Merkle node is already stored in {self.table}: {exc}") from exc

    def leaf_count(self) -> int:
        row = self._conn.execute(self._count_sql).fetchone()
        return 0 if row is None else int(row[0]) + 1


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n >= 2): where RFC 9162 splits a tree."""
    return 1 << ((n - 1).bit_length() - 1)


class MerkleTree:
    """An append-only RFC 9162 Merkle tree over a :class:`NodeStore`.

    Leaves are bytes; the tree stores their hashes (``SHA-256(0x00 || leaf)``),
    never the leaves themselves.
    """

    def __init__(self, store: NodeStore | None = None) -> None:
        self.store: NodeStore = MemoryNodeStore() if store is None else store

    @property
    def size(self) -> int:
        """The number of leaves, read from the store."""
        return self.store.leaf_count()

    def __len__(self) -> int:
        return self.size

    # -- appending ---------------------------------------------------------------

    def append(self, leaf: bytes) -> int:
        """Append one leaf's data; return its index."""
        return self.append_leaf_hashes((leaf_hash(leaf),)).start

    def append_many(self, leaves: Iterable[bytes]) -> range:
        """Append many leaves' data in one pass; return the range of their indices."""
        sha256 = hashlib.sha256
        return self.append_leaf_hashes(sha256(b"\x00" + leaf).digest() for leaf in leaves)

    def append_leaf_hashes(self, hashes: Iterable[bytes]) -> range:
        """Append leaves already hashed with :func:`leaf_hash`; return their indices.

        Nodes are streamed to the store as they are completed, each leaf with
        the subtrees it closes, so a failure part way leaves a valid, shorter
        tree behind.
        """
        first = self.size
        appended = 0

        def nodes() -> Iterator[Node]:
            nonlocal appended
            sha256 = hashlib.sha256
            # frontier[level]: hash of the right-edge complete subtree at that level,
            # read from the store only when a new leaf first needs it.
            frontier: dict[int, bytes] = {}
            i = first
            for digest in hashes:
                if len(digest) != HASH_SIZE:
                    raise AuditError(
                        f"a leaf hash must be {HASH_SIZE} bytes, not {len(digest)}",
                        tree_size=i,
                    )
                yield (0, i, digest)
                level, j = 0, i
                while j & 1:
                    left = frontier.pop(level, None)
                    if left is None:
                        left = self._node(level, j - 1)
                    digest = sha256(b"\x01" + left + digest).digest()
                    level += 1
                    j >>= 1
                    yield (level, j, digest)
                frontier[level] = digest
                i += 1
                appended += 1

        self.store.put_many(nodes())
        return range(first, first + appended)

    # -- reading -----------------------------------------------------------------

    def leaf_hash(self, index: int) -> bytes:
        """The stored hash of leaf ``index``."""
        self._check_index(index, self.size)
        return self._node(0, index)

    def root(self, size: int | None = None) -> bytes:
        """The Merkle Tree Hash of the first ``size`` leaves (default: all of them)."""
        size = self._check_size(size)
        return self._range_hash(0, size) if size else EMPTY_ROOT

    def inclusion_proof(self, index: int, size: int | None = None) -> InclusionProof:
        """The audit path (RFC 9162 section 2.1.3) of leaf ``index`` in the tree of ``size``."""
        size = self._check_size(size)
        self._check_index(index, size)
        # PATH(m, D[start:end]) from the RFC, unrolled: descend towards the leaf,
        # collecting the sibling subtree at each split; the proof lists them bottom-up.
        siblings: list[bytes] = []
        start, end = 0, size
        while end - start > 1:
            mid = start + _split(end - start)
            if index < mid:
                siblings.append(self._range_hash(mid, end))
                end = mid
            else:
                siblings.append(self._range_hash(start, mid))
                start = mid
        return InclusionProof(index, size, tuple(reversed(siblings)))

    def consistency_proof(self, size1: int, size2: int | None = None) -> ConsistencyProof:
        """The proof (RFC 9162 section 2.1.4) that tree ``size2`` extends tree ``size1``."""
        size2 = self._check_size(size2)
        if not 0 <= size1 <= size2:
            raise AuditError(f"need 0 <= size1 <= size2, got {size1} and {size2}", tree_size=size2)
        if size1 in (0, size2):
            return ConsistencyProof(size1, size2, ())
        # SUBPROOF(m, D[start:end], b) from the RFC, unrolled the same way.
        siblings: list[bytes] = []
        start, end, m, whole = 0, size2, size1, True
        while m != end - start:
            k = _split(end - start)
            if m <= k:
                siblings.append(self._range_hash(start + k, end))
                end = start + k
            else:
                siblings.append(self._range_hash(start, start + k))
                start += k
                m -= k
                whole = False
        head = [] if whole else [self._range_hash(start, end)]
        return ConsistencyProof(size1, size2, tuple(head + siblings[::-1]))

    # -- internals ---------------------------------------------------------------

    def _node(self, level: int, index: int) -> bytes:
        digest = self.store.get(level, index)
        if digest is None:
            raise AuditError(
                f"Merkle node (level {level}, index {index}) is missing from the store"
            )
        return digest

    def _range_hash(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) for a range every proof and root uses.

        Such a range starts at a multiple of a power of two at least its length
        (it is a complete subtree, or runs to the right edge of the tree), so
        its binary digits name complete subtrees, left to right, and MTH folds
        them right to left. Reads popcount(end - start) nodes.
        """
        parts: list[bytes] = []
        pos = start
        while pos < end:
            level = (end - pos).bit_length() - 1
            if pos & ((1 << level) - 1):
                raise AuditError(f"range [{start}, {end}) is not aligned to the tree")
            parts.append(self._node(level, pos >> level))
            pos += 1 << level
        acc = parts.pop()
        while parts:
            acc = node_hash(parts.pop(), acc)
        return acc

    def _check_size(self, size: int | None) -> int:
        current = self.size
        if size is None:
            return current
        if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= current:
            raise AuditError(f"no tree of size {size!r}: the log has {current}", tree_size=current)
        return size

    @staticmethod
    def _check_index(index: int, size: int) -> None:
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < size:
            raise AuditError(f"no leaf {index!r} in a tree of size {size}", tree_size=size)
