"""The SQLite backend: one connection in WAL mode, writers serialised by BEGIN IMMEDIATE."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from chronodb.errors import ChronoDBError, TransactionError
from chronodb.versioning import timeline
from chronodb.versioning.tables import WRITE_GUARD

# The record takes the next id (max + 1: SQLite's choice for an INTEGER PRIMARY KEY). Its
# time is worked out here, not in SQL: reading the last record inside the INSERT made SQLite
# copy it through a temporary table first (about 2 µs, a twentieth of an autocommit).
_RECORD = "INSERT INTO _chrono_tx (tx_time, user) VALUES (?, ?)"
_TIME_BEFORE = "SELECT tx_time FROM _chrono_tx WHERE tx_id < ? ORDER BY tx_id DESC LIMIT 1"
_RETIME = "UPDATE _chrono_tx SET tx_time = ? WHERE tx_id = ?"
_DISCARD = "DELETE FROM _chrono_tx WHERE tx_id = ?"
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
        if wal and path != ":memory:" and not read_only:
            # Switching a new file to WAL needs it to itself: when several processes open
            # it at once, SQLite may answer "locked" without calling the busy handler.
            self._retry("PRAGMA journal_mode=WAL")
            self._own.fetchall()  # the mode it answers; read, so the statement completes
            # A versioned write dirties several pages (table, history, indexes, ledger) where
            # plain SQLite dirties one: checkpoint after as many commits, not as many pages.
            self.conn.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT}")
        self.conn.execute(f"PRAGMA synchronous={durability.upper()}")
        # REPLACE conflict resolution must fire delete triggers, or history misses the row.
        self.conn.execute("PRAGMA recursive_triggers=ON")
        self.in_transaction = False
        # The transaction record this connection wrote last, (tx_id, tx_time), known to be
        # committed; and the open transaction's. See allocate_tx.
        self._last: tuple[int, int] | None = None
        self._pending: tuple[int, int] | None = None
        self._single = False
        self.compiled = True
        self.conn.set_authorizer(self._on_compile)

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
                if "locked" not in str(err) and "busy" not in str(err):
                    raise
                if time.monotonic() > deadline:
                    raise TransactionError(
                        f"The database is busy: another connection kept it locked for longer "
                        f"than the timeout ({self.timeout:g} s) ({err})"
                    ) from err
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
            # A record written by a one-statement transaction is there for good; one written
            # in a longer transaction may have been undone by ROLLBACK TO.
            self._last = self._pending if self._single else None
            self._pending = None

    def rollback(self) -> None:
        if self.conn.in_transaction:
            self._own.execute("ROLLBACK")
        self.in_transaction = False
        self._pending = None

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
        """Record a transaction at ``now_us``, or just after the last one if that is later.

        Finding the last record's time costs a query, unless it is this connection's own last
        record: the new record's id then follows it. (A committed record is never deleted, so
        that id still names it, with the time remembered.)
        """
        last = self._last
        us = now_us if last is None or now_us > last[1] else last[1] + 1
        own = self._own
        tx_id = own.execute(_RECORD, (us, user)).lastrowid
        if last is None or tx_id != last[0] + 1:
            before = self.conn.execute(_TIME_BEFORE, (tx_id,)).fetchone()
            if before is not None and us <= before[0]:
                us = before[0] + 1
                own.execute(_RETIME, (us, tx_id))
        if timeline.is_marked(tx_id):
            own.execute(timeline.MARK, (us, tx_id))
        self._pending = (tx_id, us)
        return tx_id, us

    def discard_tx(self) -> None:
        """Delete the open transaction's record (it wrote nothing)."""
        if self._pending is None:
            return
        tx_id, us = self._pending
        self._own.execute(_DISCARD, (tx_id,))
        if timeline.is_marked(tx_id):
            self._own.execute(timeline.UNMARK, (us,))
        self._pending = None

    def schema_cookie(self) -> int:
        return self.conn.execute("PRAGMA schema_version").fetchone()[0]

    def total_changes(self) -> int:
        return self.conn.total_changes

    def close(self) -> None:
        self.conn.close()
