"""The ledger's storage: one leaf per committed write transaction, and the Merkle tree over them.

``seal`` runs inside the writing transaction, just before COMMIT, so a transaction and its
leaf are committed together or not at all. The leaf is stored in the transaction's own
``_chrono_tx`` row (the view ``_chrono_ledger`` shows the leaves), so a commit writes no page
for the ledger that it did not write anyway. The Merkle nodes and the hash -> transaction
index are stored later, by whoever needs them: a reader that can write stores the pending
ones first (``AuditTrail``), ``digest()`` does, and a writer does every ``BATCH`` leaves so
the backlog stays bounded. A reader that cannot write completes the stored tree in memory
(``view()``, cached and extended as leaves arrive).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence, Set

from chronodb.audit.digests import table_digests
from chronodb.audit.leaf import Amendment
from chronodb.audit.leaf import encode as encode_leaf
from chronodb.audit.merkle import MemoryNodeStore, MerkleTree, Node, SQLiteNodeStore
from chronodb.audit.proofs import leaf_hash
from chronodb.errors import AuditError
from chronodb.versioning.catalog import Catalog

BATCH = 65_536

LEDGER_DDL = (
    "CREATE VIEW IF NOT EXISTS _chrono_ledger AS SELECT tx_id, leaf_index, leaf, leaf_hash "
    "FROM _chrono_tx WHERE leaf IS NOT NULL",
    "CREATE TABLE IF NOT EXISTS _chrono_ledger_hash ("
    " leaf_hash BLOB PRIMARY KEY,"
    " tx_id INTEGER NOT NULL) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS _chrono_digests ("
    " tree_size INTEGER PRIMARY KEY,"
    " root BLOB NOT NULL,"
    " created REAL NOT NULL,"
    " signature BLOB,"
    " public_key BLOB)",
)
OBJECTS = frozenset(("_chrono_ledger", "_chrono_ledger_hash", "_chrono_digests", "_chrono_merkle"))

_LAST = "SELECT leaf_index FROM _chrono_tx WHERE leaf_index IS NOT NULL ORDER BY tx_id DESC LIMIT 1"
_NEWEST = (
    "SELECT leaf_index, tx_id, CAST(leaf_hash AS BLOB) FROM _chrono_tx "
    "WHERE leaf_index IS NOT NULL ORDER BY tx_id DESC LIMIT ?"
)
_SEAL = "UPDATE _chrono_tx SET leaf_index = ?, leaf = ?, leaf_hash = ? WHERE tx_id = ?"


def create(conn: sqlite3.Connection) -> None:
    have = {r[1] for r in conn.execute("PRAGMA table_info(_chrono_tx)")}
    for column, kind in (("leaf_index", "INTEGER"), ("leaf", "BLOB"), ("leaf_hash", "BLOB")):
        if column not in have:  # a file made before the ledger kept its leaves here
            conn.execute(f"ALTER TABLE _chrono_tx ADD COLUMN {column} {kind}")
    for statement in LEDGER_DDL:
        conn.execute(statement)
    SQLiteNodeStore(conn)  # creates _chrono_merkle


class _Overlay:
    """A node store that reads through to the stored tree and keeps new nodes in memory."""

    def __init__(self, base: SQLiteNodeStore) -> None:
        self.base = base
        self.extra = MemoryNodeStore()
        self._base_count = base.leaf_count()

    def get(self, level: int, index: int) -> bytes | None:
        found = self.extra.get(level, index)
        return found if found is not None else self.base.get(level, index)

    def put(self, level: int, index: int, digest: bytes) -> None:
        self.extra.put(level, index, digest)

    def put_many(self, nodes: Iterable[Node]) -> None:
        self.extra.put_many(nodes)

    def leaf_count(self) -> int:
        return max(self._base_count, self.extra.leaf_count())


class Ledger:
    """Appends leaves; reads them back by transaction or by hash."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.store = SQLiteNodeStore(conn)
        self.tree = MerkleTree(self.store)  # the stored tree: may lag by < BATCH leaves
        # (stored size, total, tree, pending hash -> tx) of the last view()
        self._view: tuple[int, int, MerkleTree, dict[bytes, int]] | None = None
        # (tx_id, leaf_index) of this ledger's last seal; see _next_index
        self._sealed: tuple[int, int] | None = None

    def seal(
        self,
        catalog: Catalog,
        tx_id: int,
        tx_time: int,
        user: str,
        kinds: Sequence[str],
        amendments: Sequence[Amendment] = (),
        written: int = 0,
        *,
        tables: Set[int] | None = None,
        versions: int | None = None,
    ) -> bytes:
        """Append the leaf of the open transaction ``tx_id``; returns its hash.

        ``written``: rows the transaction changed (an upper bound on the versions it wrote).
        ``tables`` and ``versions``: where its versions probably are, and how many history
        writes it made (see :func:`table_digests`).
        """
        digests = table_digests(self.conn, catalog, tx_id, written, tables, versions)
        leaf = encode_leaf(tx_id, tx_time, user, kinds, digests, amendments)
        digest = leaf_hash(leaf)
        index = self._next_index(tx_id)
        if self.conn.execute(_SEAL, (index, leaf, digest, tx_id)).rowcount != 1:
            raise AuditError(f"transaction {tx_id} has no record to seal")
        self._sealed = (tx_id, index)
        if (index + 1) % BATCH == 0:
            self.catch_up()
        return digest

    def _next_index(self, tx_id: int) -> int:
        """The open transaction's leaf index, without a query when this ledger sealed the last.

        Transaction ids are allocated one after the other under the write lock, so when
        ``tx_id`` follows the one this ledger sealed last, no transaction committed between
        the two and the leaf follows too. Otherwise (another connection wrote, or the sealed
        transaction was rolled back and its id is being used again) the last leaf is read.
        """
        sealed = self._sealed
        if sealed is not None and tx_id == sealed[0] + 1:
            return sealed[1] + 1
        return self.size

    def rolled_back(self) -> None:
        """The open transaction was rolled back, perhaps after its seal: forget that seal.

        Its id will be used again, maybe by a writer that seals nothing, so the next leaf
        may not follow it.
        """
        self._sealed = None

    def pending(self) -> list[tuple[int, int, bytes]]:
        """(leaf_index, tx_id, leaf_hash) of the leaves not yet in the stored tree."""
        waiting = self.size - self.tree.size
        if waiting <= 0:
            return []
        rows = self.conn.execute(_NEWEST, (waiting,)).fetchall()
        return [(i, t, bytes(h)) for i, t, h in reversed(rows)]

    def catch_up(self) -> int:
        """Store the pending leaves' Merkle nodes and hash entries (inside a write)."""
        rows = self.pending()
        if rows:
            self.tree.append_leaf_hashes(h for _, _, h in rows)
            self.conn.executemany(
                "INSERT INTO _chrono_ledger_hash (leaf_hash, tx_id) VALUES (?, ?)",
                ((h, t) for _, t, h in rows),
            )
        return len(rows)

    def view(self) -> MerkleTree:
        """The tree over every committed leaf, without writing: pending ones in memory."""
        stored, total = self.tree.size, self.size
        cached = self._view
        if cached is not None and cached[0] == stored and cached[1] <= total:
            _, seen, tree, hashes = cached
            if seen < total:
                rows = self.conn.execute(_NEWEST, (total - seen,)).fetchall()
                new = [(t, bytes(h)) for _, t, h in reversed(rows)]
                tree.append_leaf_hashes(h for _, h in new)
                hashes.update((h, t) for t, h in new)
        else:
            tree = MerkleTree(_Overlay(self.store))
            rows = self.pending()
            tree.append_leaf_hashes(h for _, _, h in rows)
            hashes = {h: t for _, t, h in rows}
        self._view = (stored, total, tree, hashes)
        return tree

    def hash_of(self, tx_id: int) -> bytes | None:
        row = self.conn.execute(
            "SELECT leaf_hash FROM _chrono_tx WHERE tx_id = ? AND leaf IS NOT NULL", (tx_id,)
        ).fetchone()
        return None if row is None else bytes(row[0])

    def find(self, digest: bytes) -> tuple[int, int, bytes] | None:
        """(leaf_index, tx_id, leaf) of the leaf with this hash."""
        row = self.conn.execute(
            "SELECT tx_id FROM _chrono_ledger_hash WHERE leaf_hash = ?", (digest,)
        ).fetchone()
        if row is not None:
            tx_id = row[0]
        else:
            self.view()
            assert self._view is not None
            tx_id = self._view[3].get(digest)
        if tx_id is None:
            return None
        found = self.conn.execute(
            "SELECT leaf_index, tx_id, CAST(leaf AS BLOB), CAST(leaf_hash AS BLOB) "
            "FROM _chrono_tx WHERE tx_id = ? AND leaf IS NOT NULL",
            (tx_id,),
        ).fetchone()
        if found is None or bytes(found[3]) != digest:
            return None
        return found[0], found[1], bytes(found[2])

    @property
    def size(self) -> int:
        last = self.conn.execute(_LAST).fetchone()
        return 0 if last is None else last[0] + 1


def iter_leaves(conn: sqlite3.Connection) -> Iterator[tuple[int, int, bytes, bytes]]:
    """(leaf_index, tx_id, leaf, leaf_hash) of every leaf, in leaf order."""
    for index, tx_id, blob, stored in conn.execute(
        "SELECT leaf_index, tx_id, CAST(leaf AS BLOB), CAST(leaf_hash AS BLOB) "
        "FROM _chrono_ledger ORDER BY leaf_index"
    ):
        yield index, tx_id, bytes(blob), bytes(stored)
