"""The audit trail's access to the ledger on PostgreSQL (``audit.trail.LedgerAccess``).

A reading is one read-only REPEATABLE READ snapshot begun after the horizon
(``postgres.verify.reading``), over the Merkle tree of every leaf up to it, built in memory
(``postgres.tree``): so a proof, a digest and a consistency check see whole transactions
only, and a later reading's tree extends an earlier one's. Verification is
``postgres.verify``'s; saved digests go to ``_chrono_digests`` (``postgres.signoffs``). The
ledger reads in a transaction of its own, so it refuses to run inside an open one. Each
verification is kept in ``_chrono_meta`` (``audit/verified.py``, :func:`stored`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import psycopg

from chronodb.audit.leaf import Leaf
from chronodb.audit.verified import Verification
from chronodb.audit.verify import VerificationReport
from chronodb.errors import ChronoDBError, TransactionError
from chronodb.layout import META_VERIFIED
from chronodb.pgengine.core import PostgresEngine
from chronodb.postgres import meta, signoffs
from chronodb.postgres.names import TX_TABLE, qualified
from chronodb.postgres.tree import Tree
from chronodb.postgres.verify import matches, reading, verify

if TYPE_CHECKING:
    from chronodb.audit.trail import Digest


class PostgresView:
    """The tree over the leaves up to a horizon, read in one snapshot."""

    def __init__(self, conn: psycopg.Connection[Any], schema: str, tree: Tree) -> None:
        self._conn = conn
        self._schema = schema
        self._leaves = tree
        self.tree = tree.tree

    def find(self, digest: bytes) -> tuple[int, int, bytes] | None:
        tx_id = self._leaves.find(digest)
        if tx_id is None:
            return None
        return self._leaves.index[tx_id], tx_id, self._leaves.leaf(tx_id)

    def matches(self, tx_id: int, leaf: Leaf) -> bool:
        row = self._conn.execute(
            f"SELECT xid FROM {qualified(self._schema, TX_TABLE)} WHERE tx_id = %s", (tx_id,)
        ).fetchone()
        return row is not None and matches(self._conn, self._schema, row[0], leaf, self._leaves)


def stored(conn: psycopg.Connection[Any], schema: str) -> Verification | None:
    """The last verification of the ledger stored in the database, by any process."""
    return Verification.decode(meta.read(conn, schema, META_VERIFIED))


class PostgresAccess:
    """The ledger of the database a :class:`PostgresEngine` is connected to."""

    def __init__(self, engine: PostgresEngine) -> None:
        self._engine = engine

    @contextmanager
    def _outside(self) -> Iterator[psycopg.Connection[Any]]:
        """The connection, outside any open transaction (the ledger reads in its own)."""
        engine = self._engine
        with engine.translating() as conn:
            if engine.explicit:
                raise TransactionError(
                    "read the audit ledger outside a transaction (COMMIT or ROLLBACK first)"
                )
            yield conn

    def verify(
        self, progress: Callable[[int, int], None] | None = None, *, quick: bool = False
    ) -> VerificationReport:
        engine = self._engine
        schema = engine.backend.schema
        with self._outside() as conn:
            report = verify(conn, schema, progress=progress)
        done = Verification.of(report, time.time())
        engine.last_verification = done
        if not engine.read_only:
            # Stored for every process (verified.py); a server that cannot take it now
            # leaves it to this connection's memory.
            with contextlib.suppress(ChronoDBError), self._outside() as conn, conn.transaction():
                meta.write(conn, schema, META_VERIFIED, done.encode())
        return report

    @contextmanager
    def reading(self) -> Iterator[PostgresView]:
        schema = self._engine.backend.schema
        with self._outside() as conn, reading(conn, schema) as upto:
            yield PostgresView(conn, schema, Tree(conn, schema, upto))

    def save(self, digest: Digest) -> None:
        engine = self._engine
        with engine.translating() as conn:
            if engine.read_only or engine.explicit:
                return
            signoffs.save(conn, engine.backend.schema, *digest.row())
