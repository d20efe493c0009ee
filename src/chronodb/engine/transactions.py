"""Transaction state: BEGIN, COMMIT and ROLLBACK, savepoints, and what SQLite undid itself."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager

from chronodb.engine.common import Committed
from chronodb.engine.state import EngineState, Mark
from chronodb.errors import ReadOnlyError, TransactionError
from chronodb.layout import ATOMIC
from chronodb.result import Result
from chronodb.sql.classify import savepoint_of
from chronodb.storage.sqlite_errors import translate
from chronodb.timepoint import from_micros


class Transactions(EngineState):
    """The part of :class:`~chronodb.engine.Engine` that keeps the transaction state."""

    def _allocate(self) -> tuple[int, int]:
        tx = self.backend.allocate_tx(time.time_ns() // 1000, self.user)
        self.open_tx = tx
        self._changes_at_alloc = self.backend.total_changes()
        self._rows_written = 0
        self._targets = set()
        self.tx_has_ddl = False
        return tx

    def _ensure_tx(self) -> tuple[int, int]:
        if self.read_only:
            raise ReadOnlyError("This database was opened read-only")
        return self.open_tx or self._allocate()

    def note_ddl(self) -> None:
        """Mark the open transaction as one that changed the schema (its ROLLBACK reloads
        the catalog; its leaf counts every table's versions)."""
        self.tx_has_ddl = True

    def begin(self) -> None:
        """BEGIN: open an explicit transaction, holding the lock until it ends."""
        # Lock first: another thread's open transaction is waited for, not an error.
        self.lock.acquire()
        if self.explicit:
            self.lock.release()
            raise TransactionError("A transaction is already open; COMMIT or ROLLBACK it first")
        try:
            if not self.read_only:
                self.backend.begin()
            else:
                self.conn.execute("BEGIN")
        except BaseException:
            self.lock.release()
            raise
        self.explicit = True
        self._aborted = None
        self.open_tx = None
        self._savepoints = []
        self._plain_since_begin = False

    def _finish_tx(self) -> Committed | None:
        """Drop the transaction record if the transaction changed nothing, else seal it;
        returns the transaction COMMIT is about to make, if any."""
        # No change beyond the statements' own rows means no trigger wrote a version.
        changed = self.backend.total_changes() - self._changes_at_alloc
        unchanged = changed <= self._rows_written
        tx = self.open_tx
        made = None
        if tx is not None and not self.tx_has_ddl and unchanged:
            self.backend.discard_tx()
        elif tx is not None:
            made = Committed(tx[0], from_micros(tx[1]), self._seal(tx))
        self._kinds = []
        self._amendments = []
        return made

    def commit(self) -> None:
        """COMMIT the explicit transaction (sealing it into the ledger first)."""
        with self.lock:
            if not self.explicit:
                raise TransactionError("COMMIT without an open transaction")
            if self._aborted is not None:
                reason = self._aborted
                self.rollback()
                raise TransactionError(
                    f"COMMIT: SQLite rolled this transaction back after an error ({reason}); "
                    "none of it was committed"
                )
            try:
                made = self._finish_tx()
                self.backend.commit()
            except BaseException as err:
                # A failed COMMIT (e.g. busy past the timeout) must not leave the lock held.
                self.rollback()
                if isinstance(err, sqlite3.Error):
                    raise translate(err) from err
                raise
            self.explicit = False
            self.open_tx = None
            self.last_commit = made
            self.lock.release()

    def rollback(self) -> None:
        """ROLLBACK the explicit transaction."""
        with self.lock:
            if not self.explicit:
                raise TransactionError("ROLLBACK without an open transaction")
            had_ddl = self.tx_has_ddl
            try:
                self._rolled_back()
            finally:
                self.explicit = False
                self._aborted = None
                self.open_tx = None
                self.lock.release()
            if had_ddl:
                self.reload_catalog()

    def _rolled_back(self) -> None:
        if self._plain_since_begin:
            self.schema_changes += 1  # it may have undone a CREATE INDEX
        self.backend.rollback()
        if self.ledger is not None:
            self.ledger.rolled_back()

    def note_abort(self, err: BaseException) -> None:
        """After an error: if SQLite rolled the whole open transaction back, so does ChronoDB.

        The transaction then refuses writes until COMMIT or ROLLBACK ends it: run on their
        own, they would commit one by one, and a later COMMIT would keep part of a
        transaction that was meant to be all or nothing.
        """
        if not self.explicit or self._aborted is not None or self.conn.in_transaction:
            return
        self._aborted = str(err) or type(err).__name__
        self.open_tx = None
        self._savepoints = []
        self._rolled_back()
        self.refresh_catalog()  # a CREATE or ALTER it undid

    def _refuse_if_aborted(self) -> None:
        if self._aborted is not None:
            raise TransactionError(
                f"SQLite rolled this transaction back after an error ({self._aborted}); "
                "ROLLBACK (or COMMIT) to end it before writing again"
            )

    @contextmanager
    def whole(self) -> Iterator[None]:
        """Run a batch of statements as one: in a transaction of its own, or atomically
        inside the open one."""
        with self.lock:
            if self.explicit:
                with self.atomic():
                    yield
                return
            with self.transaction():
                yield

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """Make a write of several steps all or nothing inside an explicit transaction.

        SQLite undoes one failed statement and keeps the transaction open; DDL, a table
        created for an INSERT, executemany and executescript are several statements, so a
        savepoint around them undoes all their steps (and what ChronoDB noted of them) when
        one fails. Outside a transaction the write runs in one of its own, rolled back whole.
        """
        if not self.explicit:
            yield
            return
        if not self.read_only:
            self._ensure_tx()  # the transaction's record stays outside the savepoint
        mark, depth, had_ddl = self._mark(), len(self._savepoints), self.tx_has_ddl
        conn = self.conn
        conn.execute(f"SAVEPOINT {ATOMIC}")
        try:
            yield
        except BaseException:
            if conn.in_transaction:  # a statement's ON CONFLICT ROLLBACK ends it all
                conn.execute(f"ROLLBACK TO {ATOMIC}")
                conn.execute(f"RELEASE {ATOMIC}")
            del self._savepoints[depth:]
            self._undo_to(mark)
            self.tx_has_ddl = had_ddl
            self.refresh_catalog()  # the catalog of a CREATE or ALTER just undone
            raise
        conn.execute(f"RELEASE {ATOMIC}")

    def _savepoint(self, sql: str) -> Result:
        """SAVEPOINT, RELEASE or ROLLBACK TO, inside a transaction opened with BEGIN.

        The transaction's record is written before its first savepoint: a ROLLBACK TO must
        not undo it, or later writes would be filed under the transaction before.
        """
        with self.lock:
            if not self.explicit:
                raise TransactionError(
                    f"{sql.strip()[:60]!r}: savepoints work inside a transaction; run BEGIN "
                    "(or use db.transaction()) first, so that ChronoDB records it"
                )
            self._refuse_if_aborted()
            if not self.read_only and self.open_tx is None:
                self._ensure_tx()
            result = Result(self.conn.execute(sql))
            action = savepoint_of(sql)
            if action is not None:
                self._mark_savepoint(*action)
                if action[0] == "ROLLBACK" and self._plain_since_begin:
                    self.schema_changes += 1  # it may have undone a CREATE INDEX
            if self.tx_has_ddl:
                self.reload_catalog()  # ROLLBACK TO may have undone a CREATE or ALTER
            return result

    def _mark_savepoint(self, action: str, name: str) -> None:
        """Follow SQLite's savepoint stack; ROLLBACK TO forgets what it undid.

        A prune or erase rolled back must not have its digests recorded, and rows changed
        then must not count as versions (``total_changes`` never goes down).
        """
        if action == "SAVEPOINT":
            self._savepoints.append((name, self._mark()))
            return
        names = [entry[0] for entry in self._savepoints]
        if name not in names:
            return
        depth = len(names) - 1 - names[::-1].index(name)
        mark = self._savepoints[depth][1]
        if action == "RELEASE":
            del self._savepoints[depth:]
            return
        del self._savepoints[depth + 1 :]
        self._undo_to(mark)

    def _mark(self) -> Mark:
        """What the open transaction has done so far (see :meth:`_undo_to`)."""
        changes = self.backend.total_changes()
        return Mark(len(self._amendments), len(self._kinds), self._rows_written, changes)

    def _undo_to(self, mark: Mark) -> None:
        """Forget what the transaction did after ``mark``, which SQLite has just undone."""
        del self._amendments[mark.amendments :]
        del self._kinds[mark.kinds :]
        self._rows_written = mark.rows_written
        self._changes_at_alloc += self.backend.total_changes() - mark.changes
