"""The audit trail's access to the ledger of a SQLite file (``trail.LedgerAccess``).

A reading holds the engine's lock over the tree of every leaf: the stored tree, indexed and
stored first when this connection may write, else completed in memory (``ledger.py``).
Saved digests go to ``_chrono_digests``, with the tree's pending nodes; each verification
to ``_chrono_meta`` (``verified.py``).
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from chronodb.audit.digests import table_digests
from chronodb.audit.leaf import Leaf
from chronodb.audit.ledger import Ledger
from chronodb.audit.merkle import MerkleTree
from chronodb.audit.verified import Verification, store
from chronodb.audit.verify import DAMAGED, Problem, VerificationReport, verify
from chronodb.errors import AuditError, ChronoDBError, CorruptDatabaseError
from chronodb.layout import DIGESTS

if TYPE_CHECKING:
    from chronodb.audit.trail import Digest
    from chronodb.engine import Engine


class SQLiteView:
    """The tree over every leaf of a SQLite file, read under the engine's lock."""

    def __init__(self, engine: Engine, ledger: Ledger, tree: MerkleTree) -> None:
        self._engine = engine
        self._ledger = ledger
        self.tree = tree

    def find(self, digest: bytes) -> tuple[int, int, bytes] | None:
        return self._ledger.find(digest)

    def matches(self, tx_id: int, leaf: Leaf) -> bool:
        engine = self._engine
        rows = {t: (n, d) for t, n, d in table_digests(engine.conn, engine.catalog, tx_id)}
        recorded = {t.table_id: (t.versions, t.digest) for t in leaf.tables}
        return rows == recorded or self._amended(tx_id)

    def _amended(self, tx_id: int) -> bool:
        """Whether pruning or erasure has since changed this transaction's versions."""
        for blob in self._ledger.leaves_after(tx_id):
            if any(a.tx_id == tx_id for a in Leaf.decode(blob).amendments):
                return True
        return False


class SQLiteAccess:
    """The ledger of the file an :class:`~chronodb.engine.Engine` has open."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @property
    def _ledger(self) -> Ledger:
        if self._engine.ledger is None:
            raise AuditError("This database was opened with ledger=False")
        return self._engine.ledger

    def verify(
        self, progress: Callable[[int, int], None] | None = None, *, quick: bool = False
    ) -> VerificationReport:
        engine = self._engine
        # One snapshot: a commit by another process between its reads is not tampering.
        with engine.lock, engine.snapshot():
            try:
                engine.refresh_catalog()
            except (sqlite3.DatabaseError, CorruptDatabaseError) as err:
                stale: Exception | None = err  # verify with the catalog loaded before
            else:
                stale = None
            report = verify(engine.conn, engine.catalog, progress, quick=quick)
        if stale is not None:
            report.problems.insert(0, Problem(DAMAGED, f"the catalog cannot be read: {stale}"))
            report.ok = False
        done = Verification.of(report, time.time())
        engine.last_verification = done
        # A file too damaged or busy to take it: this connection remembers it.
        with contextlib.suppress(sqlite3.Error, ChronoDBError):
            self._write(lambda conn: store(conn, done))
        return report

    def _write(self, run: Callable[[sqlite3.Connection], object]) -> None:
        """``run`` the connection in a write transaction of its own, then commit; not on a
        connection that may not write, nor inside an open transaction (whose ROLLBACK
        would undo it)."""
        engine = self._engine
        with engine.lock:
            if engine.read_only or engine.explicit:
                return
            backend = engine.backend
            backend.begin()
            try:
                run(engine.conn)
                backend.commit()
            except BaseException:
                backend.rollback()
                raise

    @contextmanager
    def reading(self) -> Iterator[SQLiteView]:
        engine = self._engine
        with engine.lock:
            ledger = self._ledger
            engine.refresh_catalog()
            tree = ledger.tree if engine.store_leaves() else ledger.view()
            yield SQLiteView(engine, ledger, tree)

    def save(self, digest: Digest) -> None:
        ledger = self._ledger

        def sign_off(conn: sqlite3.Connection) -> None:
            # Signing off also stores the tree's pending nodes (ledger.py batches them).
            ledger.catch_up()
            conn.execute(
                f"INSERT OR REPLACE INTO main.{DIGESTS} VALUES (?, ?, ?, ?, ?)", digest.row()
            )

        self._write(sign_off)
