"""The ledger's storage: one leaf per committed write transaction, and the Merkle tree over them.

``seal`` runs inside the writing transaction, just before COMMIT, so a transaction and its
leaf are committed together or not at all.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from chronodb.audit.digests import table_digests
from chronodb.audit.leaf import Amendment, Leaf, TableDigest
from chronodb.audit.merkle import MerkleTree, SQLiteNodeStore
from chronodb.audit.proofs import leaf_hash
from chronodb.versioning.catalog import Catalog

LEDGER_DDL = (
    "CREATE TABLE IF NOT EXISTS _chrono_ledger ("
    " leaf_index INTEGER PRIMARY KEY,"
    " tx_id INTEGER NOT NULL UNIQUE,"
    " leaf BLOB NOT NULL,"
    " leaf_hash BLOB NOT NULL)",
    "CREATE INDEX IF NOT EXISTS _chrono_ledger_hash ON _chrono_ledger (leaf_hash)",
    "CREATE TABLE IF NOT EXISTS _chrono_digests ("
    " tree_size INTEGER PRIMARY KEY,"
    " root BLOB NOT NULL,"
    " created REAL NOT NULL,"
    " signature BLOB,"
    " public_key BLOB)",
)


def create(conn: sqlite3.Connection) -> None:
    for statement in LEDGER_DDL:
        conn.execute(statement)
    SQLiteNodeStore(conn)  # creates _chrono_merkle


class Ledger:
    """Appends leaves; reads them back by transaction or by hash."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.tree = MerkleTree(SQLiteNodeStore(conn))

    def seal(
        self,
        catalog: Catalog,
        tx_id: int,
        tx_time: int,
        user: str,
        kinds: Sequence[str],
        amendments: Sequence[Amendment] = (),
    ) -> bytes:
        """Append the leaf of the open transaction ``tx_id``; returns its hash."""
        tables = tuple(TableDigest(*t) for t in table_digests(self.conn, catalog, tx_id))
        leaf = Leaf(tx_id, tx_time, user, tuple(kinds), tables, tuple(amendments)).encode()
        digest = leaf_hash(leaf)
        index = self.tree.append_leaf_hashes((digest,)).start
        self.conn.execute(
            "INSERT INTO _chrono_ledger (leaf_index, tx_id, leaf, leaf_hash) VALUES (?, ?, ?, ?)",
            (index, tx_id, leaf, digest),
        )
        return digest

    def hash_of(self, tx_id: int) -> bytes | None:
        row = self.conn.execute(
            "SELECT leaf_hash FROM _chrono_ledger WHERE tx_id = ?", (tx_id,)
        ).fetchone()
        return None if row is None else bytes(row[0])

    def find(self, digest: bytes) -> tuple[int, int, bytes] | None:
        """(leaf_index, tx_id, leaf) of the leaf with this hash."""
        row = self.conn.execute(
            "SELECT leaf_index, tx_id, CAST(leaf AS BLOB) FROM _chrono_ledger WHERE leaf_hash = ?",
            (digest,),
        ).fetchone()
        return None if row is None else (row[0], row[1], bytes(row[2]))

    @property
    def size(self) -> int:
        return self.tree.size
