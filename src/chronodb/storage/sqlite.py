"""The SQLite backend: one connection in WAL mode, writers serialised by BEGIN IMMEDIATE."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from typing import Any

from chronodb.errors import ChronoDBError, TransactionError

_ALLOCATE = (
    "INSERT INTO _chrono_tx (tx_id, tx_time, user) VALUES ("
    "(SELECT coalesce(max(tx_id), 0) + 1 FROM _chrono_tx), "
    "max(?, coalesce((SELECT tx_time FROM _chrono_tx ORDER BY tx_id DESC LIMIT 1), 0) + 1), ?) "
    "RETURNING tx_id, tx_time"
)
WAL_AUTOCHECKPOINT = 10_000  # pages (SQLite's default: 1,000)
# Every write runs about nine statements of the engine's own (BEGIN, the transaction record,
# the ledger's seal, COMMIT): an application cycling through more distinct statements than
# the cache holds (sqlite3's default: 128) would make each of them compile again per write.
STATEMENT_CACHE = 512


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
        if wal and path != ":memory:" and not read_only:
            # Switching a new file to WAL needs it to itself: when several processes open
            # it at once, SQLite may answer "locked" without calling the busy handler.
            self._retry("PRAGMA journal_mode=WAL")
            # A versioned write dirties several pages (table, history, indexes, ledger) where
            # plain SQLite dirties one: checkpoint after as many commits, not as many pages.
            self.conn.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT}")
        self.conn.execute(f"PRAGMA synchronous={durability.upper()}")
        # REPLACE conflict resolution must fire delete triggers, or history misses the row.
        self.conn.execute("PRAGMA recursive_triggers=ON")
        self.in_transaction = False
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
                self.conn.execute(statement)
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

    def begin(self) -> None:
        self._retry("BEGIN IMMEDIATE")
        self.in_transaction = True

    def commit(self) -> None:
        self._retry("COMMIT")
        self.in_transaction = False

    def rollback(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")
        self.in_transaction = False

    def allocate_tx(self, now_us: int, user: str) -> tuple[int, int]:
        row = self.conn.execute(_ALLOCATE, (now_us, user)).fetchone()
        return row[0], row[1]

    def schema_cookie(self) -> int:
        return self.conn.execute("PRAGMA schema_version").fetchone()[0]

    def total_changes(self) -> int:
        return self.conn.total_changes

    def close(self) -> None:
        self.conn.close()
