"""The change source of a PostgreSQL database: its history tables, and LISTEN/NOTIFY.

The commit step (``chronodb.postgres.install``) notifies channel ``chronodb_<schema>`` with
the new transaction's id; NOTIFY is delivered when the transaction commits, to every
listening session, so a commit made by any client (psql writing through the triggers,
another ChronoDB process, another server) rings every server's doorbell. The notification
is only a doorbell: the reader then reads the changes from history up to the horizon
(``_chrono_horizon()``, which waits for every id handed out so far to be visible or rolled
back), so no transaction is half seen and a lost or merged notification loses nothing.

PostgreSQL serialises the commits of notifying transactions through their WAL flush, so
only one committing transaction per schema at a time notifies (a try-lock): one that
finds it taken got its id before the holder released it, and the horizon read on hearing
the holder waits for that id (PostgreSQL signals listeners a moment before releasing the
holder's locks: an id taken within that moment waits for the next ring). A notifying
transaction that fails after its commit step takes its notification with it; the doorbell
therefore also rings after a second of silence.

A history row names its writer by xid; ``_chrono_tx`` gives each committed writer its id,
and the range ``[seq_lo, seq_hi]`` of history order that holds its versions (a BRIN index on
``_chrono_seq`` finds them). A change's predecessor is the key's newest version written by
another transaction before it (one seek on the ``(key, _chrono_seq)`` index): writers of a
key are serialised by its row lock, so that is the previous committed version. The query is
``chronodb.postgres.changes.by_transactions``, which the facade's ``changes()`` reads too.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import threading
from collections.abc import Hashable, Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import psycopg

from chronodb.audit.proofs import leaf_hash
from chronodb.errors import ChronoDBError
from chronodb.postgres import Versioned, horizon, lookup
from chronodb.postgres.changes import by_transactions
from chronodb.postgres.names import (
    CATALOG,
    SEQ,
    TX_TABLE,
    XID,
    notify_channel,
    qualified,
    quote,
)
from chronodb.server.events import Change, encode, in_commit_order
from chronodb.server.sources import TableShape
from chronodb.sql.snapshots import BLOB_KEY
from chronodb.storage.postgres import PostgresBackend
from chronodb.storage.urls import redact
from chronodb.timepoint import to_micros

if TYPE_CHECKING:
    from chronodb.database import ChronoDB

log = logging.getLogger("chronodb.server")

_LISTEN_TIMEOUT = 0.5  # seconds the listener waits before checking whether to stop
_RECONNECT_DELAY = 0.5
_SAFETY_RING = 1.0  # seconds without a notification after which the feed reads anyway

# Changes whenever a table, column or constraint of the connection's schema does.
SCHEMA_VERSION_SQL = (
    "SELECT md5(coalesce((SELECT string_agg(c.oid::text || '.' || a.attnum || a.attname || "
    "a.atttypid::text, ',' ORDER BY c.oid, a.attnum) FROM pg_class c JOIN pg_attribute a "
    "ON a.attrelid = c.oid WHERE c.relnamespace = current_schema()::regnamespace "
    "AND c.relkind IN ('r', 'p', 'v') AND a.attnum > 0 AND NOT a.attisdropped), '') || "
    "coalesce((SELECT string_agg(k.oid::text, ',' ORDER BY k.oid) FROM pg_constraint k "
    "WHERE k.connamespace = current_schema()::regnamespace), ''))"
)


def step_sql(v: Versioned) -> str:
    """A transaction after ``%(lo)s`` about ``%(skip)s`` versions of ``v`` on in history."""
    h = qualified(v.schema, v.hist)
    tx = qualified(v.schema, TX_TABLE)
    return (
        f"SELECT x.tx_id FROM {h} AS h JOIN {tx} AS x ON x.xid = h.{XID} "
        f"WHERE h.{SEQ} >= (SELECT min(seq_lo) FROM {tx} WHERE tx_id > %(lo)s) "
        f"AND x.tx_id > %(lo)s ORDER BY h.{SEQ} OFFSET %(skip)s LIMIT 1"
    )


def json_value(value: Any) -> Any:
    """A PostgreSQL value as the stream's JSON carries it, as on SQLite: bytes as
    ``{"$hex": ...}``, an exact number as a number (else its text), times as ISO-8601."""
    if isinstance(value, bytes | memoryview):
        return {BLOB_KEY: bytes(value).hex().upper()}
    if isinstance(value, Decimal):
        if value == value.to_integral_value() and abs(value) < 2**63:
            return int(value)
        as_float = float(value)
        return as_float if Decimal(repr(as_float)) == value else str(value)
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return value


def _values(columns: tuple[str, ...], row: tuple[Any, ...]) -> dict[str, Any]:
    return {c: json_value(v) for c, v in zip(columns, row, strict=True)}


def _changes(v: Versioned, rows: list[tuple[Any, ...]]) -> list[Change]:
    """The feed's changes from ``chronodb.postgres.changes.by_transactions`` rows over the
    table's history columns now, named as its columns are now."""
    n = len(v.columns)
    out = []
    for row in rows:
        op, tx_id, micros, user, leaf = row[n : n + 5]
        previous, previous_op = row[n + 5 : 2 * n + 5], row[2 * n + 5]
        before = None if previous_op in (None, "D") else _values(v.columns, previous)
        after = None if op == "D" else _values(v.columns, row[:n])
        if before is None and after is None:
            continue  # a row inserted and deleted by one transaction
        operation = "DELETE" if after is None else "UPDATE" if before is not None else "INSERT"
        tx_hash = None if leaf is None else leaf_hash(bytes(leaf)).hex()
        out.append(encode(v.table, operation, before, after, tx_id, micros / 1e6, tx_hash, user))
    return out


class PostgresReader:
    """A read-only connection to the database and the versioned tables it has looked up."""

    def __init__(self, url: str) -> None:
        self.backend = PostgresBackend(url, read_only=True)
        self.schema = self.backend.schema
        self._tables: dict[str, Versioned] = {}
        self._schema_version: str | None = None  # the catalog's digest the tables are of

    def _run(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        backend = self.backend
        if backend.conn.closed:
            backend.reconnect()
        try:
            return [tuple(r) for r in backend.conn.execute(sql, params).fetchall()]
        except psycopg.Error as err:
            raise backend.translate(err, sql) from err

    def _table(self, key: str) -> Versioned | None:
        found = self._tables.get(key)
        if found is None:
            rows = self._run(
                f"SELECT table_name FROM {qualified(self.schema, CATALOG)} "
                "WHERE lower(table_name) = lower(%s) ORDER BY table_name <> %s LIMIT 1",
                (key, key),
            )
            if not rows:
                return None
            try:
                found = lookup(self.backend.conn, rows[0][0], self.schema)
            except psycopg.Error as err:
                raise self.backend.translate(err) from err
            if found is None:
                return None
            self._tables[key.lower()] = found
        return found

    def last_tx(self) -> int:
        try:
            if self.backend.conn.closed:
                self.backend.reconnect()
            return horizon(self.backend.conn, self.schema)
        except psycopg.Error as err:
            raise self.backend.translate(err) from err

    def tx_at(self, point: Any) -> int:
        micros = to_micros(point)
        rows = self._run(
            f"SELECT tx_id FROM {qualified(self.schema, TX_TABLE)} "
            "WHERE tx_time <= %s AND tx_id <= %s ORDER BY tx_time DESC LIMIT 1",
            (micros, self.last_tx()),
        )
        return int(rows[0][0]) if rows else 0

    def resolve(self, table: str) -> TableShape | None:
        self._tables.pop(table.lower(), None)  # a subscription sees the table as it is now
        v = self._table(table)
        if v is None:
            return None
        return TableShape(v.table, v.columns, ",".join(v.columns))

    def step_after(self, table: str, lo: int, versions: int) -> int | None:
        v = self._table(table)
        if v is None:
            return None
        rows = self._run(step_sql(v), {"lo": lo, "skip": max(versions - 1, 0)})
        return int(rows[0][0]) if rows else None

    def _follow_schema(self) -> None:
        """Forget the tables looked up if a table or column changed since (ALTER TABLE)."""
        version = self._run(SCHEMA_VERSION_SQL)[0][0]
        if version != self._schema_version:
            self._tables.clear()
            self._schema_version = version

    def changes(self, tables: Iterable[str], lo: int, hi: int) -> list[Change]:
        self._follow_schema()
        out: list[Change] = []
        for key in tables:
            v = self._table(key)
            if v is not None and lo < hi:
                sql = by_transactions(v, v.history_columns)
                out.extend(_changes(v, self._run(sql, {"lo": lo, "hi": hi})))
        return in_commit_order(out)

    def close(self) -> None:
        self.backend.close()


class NotifyBell:
    """Rings when the commit step's NOTIFY arrives, heard by a thread on a connection of its
    own. Reconnecting rings too: commits made while nobody listened are read all the same."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None
        self._rung = False
        self._scheduled = False  # a ring is on its way to the event loop
        self._stop = threading.Event()
        self._listening = threading.Event()
        self._failure: BaseException | None = None
        self._thread: threading.Thread | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._event = asyncio.Event()
        # The channel is the schema's: find it as the server names it to this user.
        backend = PostgresBackend(self.url, read_only=True)
        try:
            self.channel = notify_channel(backend.schema)
            self.server = backend.server
        finally:
            backend.close()
        self._thread = threading.Thread(target=self._listen, name="chronodb-listen", daemon=True)
        self._thread.start()
        await self._loop.run_in_executor(None, self._listening.wait, 30.0)
        if not self._listening.is_set():
            raise ChronoDBError(
                f"could not LISTEN on {self.server.where}: {self._failure or 'no answer'}"
            )

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.server.url, autocommit=True) as conn:
                    conn.execute(f"LISTEN {quote(self.channel)}")
                    self._listening.set()
                    self._ring()  # whatever was committed while nobody listened
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=_LISTEN_TIMEOUT, stop_after=1):
                            self._ring()
            except psycopg.Error as err:
                self._failure = err
                log.warning("change feed: listening on %s failed: %s", self.server.where, err)
                self._ring()
                self._stop.wait(_RECONNECT_DELAY)

    def _ring(self) -> None:
        """Called on the listener's thread."""
        if self._scheduled or self._loop is None:
            return
        self._scheduled = True
        with contextlib.suppress(RuntimeError):  # the loop is closed: the feed has stopped
            self._loop.call_soon_threadsafe(self._set)

    def _set(self) -> None:
        self._scheduled = False
        self._rung = True
        assert self._event is not None
        self._event.set()

    def _safety(self) -> None:
        """A notifying transaction that fails after its commit step (a deferred check queued
        after it) takes its notification with it: ring anyway after a second of silence."""
        self._set()

    async def wait(self) -> None:
        assert self._event is not None and self._loop is not None
        timer = self._loop.call_later(_SAFETY_RING, self._safety)
        try:
            await self._event.wait()
        finally:
            timer.cancel()

    def rang(self) -> bool:
        assert self._event is not None
        rung, self._rung = self._rung, False
        self._event.clear()
        return rung

    async def close(self) -> None:
        self._stop.set()
        if self._thread is not None and self._loop is not None:
            await self._loop.run_in_executor(None, self._thread.join, 5.0)


class PostgresSource:
    """A PostgreSQL database's changes (see the module's docstring)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.location = redact(url)

    def reader(self) -> PostgresReader:
        return PostgresReader(self.url)

    def doorbell(self) -> NotifyBell:
        return NotifyBell(self.url)

    def schema_version(self, db: ChronoDB) -> Hashable:
        return db.execute(SCHEMA_VERSION_SQL).rows[0][0]
