"""The PostgreSQL backend: one psycopg 3 connection to a server, in autocommit mode.

ChronoDB sends BEGIN, COMMIT and ROLLBACK itself (the engine knows when a transaction is
open). The connection's session settings carry the options: the user recorded with each
transaction (``chronodb."user"``), read-only (``default_transaction_read_only``) and the
timeout (``connect_timeout``, and ``lock_timeout`` for waiting on other writers). Every
psycopg error leaves through :meth:`translate`, which names the server without the password.
"""

from __future__ import annotations

import warnings
from typing import Any

import psycopg
from psycopg.rows import RowMaker

from chronodb.errors import (
    ChronoDBError,
    ChronoDBWarning,
    ReadOnlyError,
    UnversionedTablesError,
)
from chronodb.layout import PREFIX
from chronodb.postgres import install, installed, lookup, outside, version_table
from chronodb.postgres.install import has_settled_mark
from chronodb.postgres.names import CATALOG, USER_SETTING, quote
from chronodb.postgres.rows import one
from chronodb.storage import postgres_errors
from chronodb.storage.urls import ServerURL, parse, redact

# The user tables of the connection's schema (the first of its search_path), with whether
# each has a primary key. ChronoDB's own objects are left out by their prefix.
_USER_TABLES = (
    "SELECT c.relname, EXISTS (SELECT FROM pg_constraint k "
    "WHERE k.conrelid = c.oid AND k.contype = 'p') "
    "FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace "
    "AND c.relkind IN ('r', 'p') AND NOT c.relispartition "
    "AND left(c.relname, %s) <> %s ORDER BY c.relname"
)


class Row(tuple):
    """A row by position or by column name, as ``sqlite3.Row`` reads."""

    __slots__ = ()
    names: tuple[str, ...] = ()

    def __getitem__(self, key: Any) -> Any:  # type: ignore[override]
        if isinstance(key, str):
            try:
                return tuple.__getitem__(self, self.names.index(key))
            except ValueError:
                raise IndexError(f"No item with that key: {key!r}") from None
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self.names)


def _rows(cursor: psycopg.Cursor[Any]) -> RowMaker[Row]:
    """psycopg's row factory: :class:`Row` with the cursor's column names."""
    # The result's field names as sent (cursor.description would build a Column apiece).
    result = cursor.pgresult
    if result is None or not result.nfields:
        return tuple  # type: ignore[return-value]
    fields = tuple(result.fname(i) for i in range(result.nfields))
    kind = _ROW_TYPES.get(fields)
    if kind is None:
        if len(_ROW_TYPES) > 1000:
            _ROW_TYPES.clear()
        names = tuple(d.name for d in cursor.description or ())
        kind = _ROW_TYPES[fields] = type("Row", (Row,), {"__slots__": (), "names": names})
    return kind


_ROW_TYPES: dict[tuple[bytes | None, ...], type[Row]] = {}  # one Row class per list of column names


class PostgresBackend:
    """A connection to one PostgreSQL database with ChronoDB's objects installed."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 30.0,
        read_only: bool = False,
        **ignored: Any,
    ) -> None:
        self.server: ServerURL = parse(url)
        self.path = redact(url)
        self.timeout = timeout
        self.read_only = read_only
        self.conn = self._connect()
        self.schema: str = one(self.conn.execute("SELECT current_schema()"))[0]
        # Whether a transaction reads one snapshot throughout (REPEATABLE READ or stronger).
        isolation = one(self.conn.execute("SHOW default_transaction_isolation"))[0]
        self.one_snapshot = isolation in ("repeatable read", "serializable")
        # A hot standby replays the primary's WAL: it reads, and never writes.
        self.standby: bool = one(self.conn.execute("SELECT pg_is_in_recovery()"))[0]
        self._user: str | None = None
        if self.standby and not read_only:
            self.conn.close()
            raise ReadOnlyError(
                f"{self.server.where} is a standby (a replica in recovery), which cannot "
                "be written: open it with read_only=True, and write to its primary"
            )

    def _connect(self) -> psycopg.Connection[Any]:
        options = [f"-c lock_timeout={max(int(self.timeout * 1000), 1)}"]
        if self.read_only:
            options.append("-c default_transaction_read_only=on")
        try:
            conn = psycopg.connect(
                self.server.url,
                autocommit=True,
                connect_timeout=max(int(self.timeout), 2),
                options=" ".join(options),
                row_factory=_rows,
            )
        except psycopg.Error as err:
            raise self.translate(err) from None
        return conn

    def reconnect(self) -> psycopg.Connection[Any]:
        """A new connection, after the old one dropped (its session settings made again)."""
        self.conn = self._connect()
        self._user = None
        return self.conn

    def translate(self, err: psycopg.Error, sql: str | None = None) -> ChronoDBError:
        """``err`` as a ChronoDBError naming the server (never its password)."""
        return postgres_errors.translate(err, self.server, sql)

    @property
    def in_transaction(self) -> bool:
        return self.conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE

    def set_user(self, user: str) -> None:
        """Record ``user`` with the transactions this connection commits from now on."""
        if user != self._user:
            self.conn.execute(f"SELECT set_config('{USER_SETTING}', %s, false)", (user,))
            self._user = user

    # ------------------------------------------------------------------ setup
    def prepare(self, *, adopt: bool) -> None:
        """Install ChronoDB's objects and version the schema's tables not yet versioned.

        Tables with a primary key are adopted (their rows become first versions, in one
        transaction); tables without one are reported in a ChronoDBWarning and left alone.
        ``adopt=False``: UnversionedTablesError instead of adopting.
        """
        conn, schema = self.conn, self.schema
        if self.read_only:
            if not installed(conn, schema):
                raise ChronoDBError(
                    f"{self.server.where} holds no ChronoDB objects yet; open it once "
                    "without read_only"
                )
            if self.standby and not has_settled_mark(conn, schema):
                raise ChronoDBError(
                    f"{self.server.where} is a standby of a database whose ChronoDB objects "
                    "predate reading standbys; open its primary once without read_only to "
                    "upgrade them"
                )
            return
        install(conn, schema)
        outside.prepare(conn, schema)
        found = conn.execute(_USER_TABLES, (len(PREFIX), PREFIX)).fetchall()
        keyless = [name for name, keyed in found if not keyed]
        missing = [name for name, keyed in found if keyed and lookup(conn, name, schema) is None]
        if keyless:
            warnings.warn(
                f"{self.server.where}: not versioned, no primary key: {', '.join(keyless)} "
                "(ChronoDB on PostgreSQL keeps history by primary key)",
                ChronoDBWarning,
                stacklevel=4,
            )
        if missing and not adopt:
            raise UnversionedTablesError(self.path, missing)
        if missing:
            with conn.transaction():
                for name in missing:
                    version_table(conn, name, schema)

    def versioned_tables(self) -> list[str]:
        """The names of the versioned tables, sorted."""
        rows = self.conn.execute(
            f"SELECT table_name FROM {quote(self.schema)}.{quote(CATALOG)} "
            "WHERE to_regclass(quote_ident(table_name)) IS NOT NULL ORDER BY table_name"
        )
        return [r[0] for r in rows]

    def close(self) -> None:
        self.conn.close()
