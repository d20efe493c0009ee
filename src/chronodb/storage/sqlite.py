"""The SQLite backend: one connection in WAL mode, writers serialised by BEGIN IMMEDIATE."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from chronodb.errors import ChronoDBError
from chronodb.layout import TRANSACTIONS, WRITE_GUARD
from chronodb.storage.sqlite_errors import busy, is_busy
from chronodb.versioning import timeline
from chronodb.versioning.tables import NOW_TABLE, SET_NOW

# A transaction's id is its time (versioning/timeline.py); most write no record.
_RECORD = f"INSERT INTO main.{TRANSACTIONS} (tx_id, tx_time, user) VALUES (?, ?, ?)"
_DISCARD = f"DELETE FROM main.{TRANSACTIONS} WHERE tx_id = ?"
_UNKNOWN = object()
R = TypeVar("R")
S = TypeVar("S")
WAL_AUTOCHECKPOINT = 10_000  # pages (SQLite's default: 1,000)
# Every write runs about nine statements of the engine's own (BEGIN, the transaction record,
# the ledger's seal, COMMIT): an application cycling through more distinct statements than
# the cache holds (sqlite3's default: 128) would make each of them compile again per write.
STATEMENT_CACHE = 512


def _never_used(_a: str, _b: str) -> int:
    return 0


class SQLiteBackend:
    """A connection with ChronoDB's pragmas; knows nothing about versioning."""

    def __init__(
        self,
        path: str,
        *,
        wal: bool = True,
        durability: str = "normal",
        timeout: float = 30.0,
        read_only: bool = False,
    ) -> None:
        if durability not in ("normal", "full", "off"):
            raise ChronoDBError(f"durability must be 'normal', 'full' or 'off', not {durability!r}")
        self.path = path
        self.timeout = timeout
        uri = False
        target = path
        if read_only and path != ":memory:":
            target, uri = f"file:{path}?mode=ro", True
        self.conn = sqlite3.connect(
            target,
            isolation_level=None,
            check_same_thread=False,
            timeout=timeout,
            uri=uri,
            cached_statements=STATEMENT_CACHE,
        )
        self.conn.row_factory = sqlite3.Row
        # Versioned tables accept writes only from connections that define this (never used).
        self.conn.create_collation(WRITE_GUARD, _never_used)
        # The engine's own statements run on one cursor (a new cursor per statement is about
        # 0.13 µs). Each runs to completion, so none is left holding a lock: a query stopped
        # part-way would be, so queries keep to their own cursors.
        self._own = self.conn.cursor()
        self.read_only = read_only
        if wal:
            self.use_wal()
        self.conn.execute(f"PRAGMA synchronous={durability.upper()}")
        # SQLite's default, stated: a user's triggers behave as in plain SQLite (a trigger
        # updating its own table's row runs once; REPLACE fires no delete trigger). The rows
        # REPLACE removes are versioned by triggers of their own (versioning/unique.py).
        self.conn.execute("PRAGMA recursive_triggers=OFF")
        self.in_transaction = False
        # The newest transaction in the file and the user of its newest record, as known at
        # ``PRAGMA data_version`` ``_version`` (it changes when another connection commits);
        # the open transaction (id, time), and the user of its record if it wrote one.
        self._version: int | None = None
        self._origin: int | None = None
        self._last = 0
        self._last_user: object = _UNKNOWN
        self._pending: tuple[int, int] | None = None
        self._recorded: str | object | None = _UNKNOWN
        self._single = False
        self.compiled = True
        self.conn.set_authorizer(self._on_compile)
        if not read_only:
            for statement in NOW_TABLE:
                self.conn.execute(statement)
        # Called, inside the write lock, when another connection has committed since this
        # one last wrote: the engine checks whether the schema changed (see allocate_tx).
        self.on_foreign_commit: Callable[[], None] | None = None

    def use_wal(self) -> None:
        """Put the file in WAL mode (it stays so); nothing for ``:memory:`` or read-only."""
        if self.path == ":memory:" or self.read_only:
            return
        # Switching a new file to WAL needs it to itself: when several processes open
        # it at once, SQLite may answer "locked" without calling the busy handler.
        self._retry("PRAGMA journal_mode=WAL")
        self._own.fetchall()  # the mode it answers; read, so the statement completes
        # A versioned write dirties several pages (table, history, indexes, ledger) where
        # plain SQLite dirties one: checkpoint after as many commits, not as many pages.
        self.conn.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT}")

    def _on_compile(self, *_action: object) -> int:
        """Note that SQLite compiled a statement; it allows everything.

        SQLite recompiles a cached statement when any connection, in any process, changed the
        schema, so a schema check is only needed after this ran: the temporal path reads the
        schema cookie then, instead of paying a PRAGMA round trip on every statement.
        """
        self.compiled = True
        return sqlite3.SQLITE_OK

    def run(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    def run_many(self, sql: str, rows: Iterable[Any]) -> sqlite3.Cursor:
        return self.conn.executemany(sql, rows)

    def _retry(self, statement: str) -> None:
        """Run a statement that needs the write lock (BEGIN IMMEDIATE, COMMIT, the switch to
        WAL), waiting up to ``timeout`` for other connections.

        The connection's busy handler does most of the waiting; this loop also covers the
        busy cases SQLite reports without calling it.
        """
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                self._own.execute(statement)
                return
            except sqlite3.OperationalError as err:
                if not is_busy(err):
                    raise
                if time.monotonic() > deadline:
                    raise busy(err, self.timeout) from err
                time.sleep(0.005)

    def begin(self, *, single: bool = False) -> None:
        """``single``: the transaction runs one statement and commits (nothing in it can roll
        back part of it, as ROLLBACK TO a savepoint could)."""
        self._retry("BEGIN IMMEDIATE")
        self.in_transaction = True
        self._single = single

    def commit(self) -> None:
        self._retry("COMMIT")
        self.in_transaction = False
        if self._pending is not None:
            self._last = self._pending[0]
            if self._recorded is not _UNKNOWN:
                # A longer transaction's record may have been undone by ROLLBACK TO.
                self._last_user = self._recorded if self._single else _UNKNOWN
            self._pending = None
            self._recorded = _UNKNOWN

    def rollback(self) -> None:
        if self.conn.in_transaction:
            self._own.execute("ROLLBACK")
        self.in_transaction = False
        self._pending = None
        self._recorded = _UNKNOWN

    def write_alone(
        self,
        sql: str,
        params: Any,
        now_us: int,
        user: str,
        wrap: Callable[[sqlite3.Cursor], R],
        seal: Callable[[tuple[int, int], int, int], S] | None = None,
    ) -> tuple[R, tuple[int, int] | None, S | None]:
        """Run one write statement as a transaction of its own, recorded at ``now_us``.

        Returns ``wrap`` of its cursor (called before the commit, so RETURNING rows are read
        in the transaction), the transaction, or None if the statement versioned nothing
        (see :meth:`settle`), and what ``seal(tx, changed, own)`` returned: it runs just
        before the commit, with :meth:`settle`'s counts. Any error rolls it all back.
        """
        conn = self.conn
        self.begin(single=True)
        try:
            tx = self.allocate_tx(now_us, user)
            before = conn.total_changes
            cursor = conn.execute(sql, params)
            result = wrap(cursor)
            changed, own = conn.total_changes - before, cursor.rowcount
            if not self.settle(changed, own):
                return result, None, None
            sealed = None if seal is None else seal(tx, changed, own)
            self.commit()
            return result, tx, sealed
        except BaseException:
            self.rollback()
            raise

    def settle(self, changed: int, own: int) -> bool:
        """End a one-statement transaction that versioned nothing; True if it did.

        ``changed``: rows changed since the transaction's record, triggers' included;
        ``own``: the statement's rowcount. Nothing changed: rolled back. Only the statement's
        own rows (an UPDATE that changed no value, a TEMP table): committed without its
        record. Otherwise the caller commits (after sealing it into the ledger, if any).
        """
        if changed == 0:
            self.rollback()
            return False
        if changed == (own if own > 0 else 0):
            self.discard_tx()
            self.commit()
            return False
        return True

    def allocate_tx(self, now_us: int, user: str) -> tuple[int, int]:
        """Open a transaction at ``now_us``, or just after the newest one if that is later.

        Its id is its time, counted from the file's origin (``versioning/timeline.py``);
        the time returned is the id plus the origin. It writes a record in ``_chrono_tx``
        only if ``user`` is not the newest record's (the ledger's leaf goes elsewhere).
        What the file's newest transaction and record are is read again only after another
        connection committed (``PRAGMA data_version``); otherwise this connection knows it.
        """
        own = self._own
        version = own.execute("PRAGMA data_version").fetchone()[0]
        if version != self._version:  # another connection committed since
            if self._origin is None:
                self._origin = timeline.epoch(self.conn).origin
            self._last = max(self._last, timeline.last_tx(self.conn))
            self._last_user = _UNKNOWN
            if self.on_foreign_commit is not None:
                self.on_foreign_commit()
            # Taken in only once followed: if following failed, the next write tries again.
            self._version = version
        origin = self._origin
        assert origin is not None
        tx_id = now_us - origin
        if tx_id <= self._last:
            tx_id = self._last + 1
        us = origin + tx_id
        if self._last_user is _UNKNOWN:
            found = own.execute(timeline.LAST_USER).fetchone()
            self._last_user = _UNKNOWN if found is None else found[0]
        if user != self._last_user:
            own.execute(_RECORD, (tx_id, us, user))
            self._recorded = user
        own.execute(SET_NOW, (tx_id,))
        self._pending = (tx_id, us)
        return tx_id, us

    def discard_tx(self) -> None:
        """Forget the open transaction: it wrote nothing (its record, if any, goes)."""
        if self._pending is None:
            return
        if self._recorded is not _UNKNOWN:
            self._own.execute(_DISCARD, (self._pending[0],))
        self._pending = None
        self._recorded = _UNKNOWN

    def schema_cookie(self) -> int:
        return self.conn.execute("PRAGMA schema_version").fetchone()[0]

    def total_changes(self) -> int:
        return self.conn.total_changes

    def close(self) -> None:
        self.conn.close()
