"""``db.connection``: the sqlite3 connection under ChronoDB, handed out for reads only.

A write made straight on the engine's connection would skip ChronoDB's transactions: its
versions would be filed under whichever transaction the connection last recorded. So the
view runs each statement with ``PRAGMA query_only`` on (under the engine's lock) and turns
a write into :class:`~chronodb.errors.ReadOnlyError`. Everything else of sqlite3's
connection (``create_function``, ``set_trace_callback``, ``backup``, ``iterdump``...) is
forwarded; ``commit``, ``rollback`` and ``close`` do nothing, because the connection's
transactions and life belong to the ChronoDB.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from chronodb.errors import ArgumentError, ReadOnlyError, TransactionError
from chronodb.sql.classify import Route, classify

T = TypeVar("T")

_CONTROL = (Route.BEGIN, Route.COMMIT, Route.ROLLBACK, Route.SAVEPOINT)
_REFUSED = (
    "db.connection is for reads; {sql!r} would write behind ChronoDB's transactions. "
    "Write through db.execute() or chronodb.dbapi, which version it as a transaction"
)


class ReadConnection:
    """A read-only view of a sqlite3 connection that ChronoDB owns."""

    __slots__ = ("_conn", "_lock")

    def __init__(self, conn: sqlite3.Connection, lock: threading.RLock) -> None:
        self._conn = conn
        self._lock = lock

    def reading(self, sql: str, run: Callable[[], T]) -> T:
        """``run()`` (which runs ``sql``) with writes refused."""
        if classify(sql) in _CONTROL:
            raise TransactionError(
                f"db.connection cannot run {sql.strip()[:40]!r}: transactions belong to the "
                "ChronoDB (db.transaction(), or BEGIN/COMMIT through db.execute)"
            )
        conn = self._conn
        with self._lock:
            conn.execute("PRAGMA query_only = ON")
            try:
                return run()
            except sqlite3.OperationalError as err:
                if "readonly database" in str(err):
                    raise ReadOnlyError(_REFUSED.format(sql=sql[:80])) from err
                raise
            finally:
                conn.execute("PRAGMA query_only = OFF")

    def cursor(self) -> ReadCursor:
        return ReadCursor(self, self._conn.cursor())

    def execute(self, sql: str, parameters: Any = (), /) -> ReadCursor:
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> ReadCursor:
        return self.cursor().executemany(sql, seq_of_parameters)

    def executescript(self, sql_script: str, /) -> ReadCursor:
        return self.cursor().executescript(sql_script)

    def commit(self) -> None:
        """Nothing to commit: the view writes nothing, and ChronoDB commits its own."""

    def rollback(self) -> None:
        """Nothing to roll back: ChronoDB's open transaction is not the view's to end."""

    def close(self) -> None:
        """The connection lives as long as its ChronoDB: close that instead."""

    def __enter__(self) -> ReadConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self.__slots__:
            object.__setattr__(self, name, value)
            return
        raise ArgumentError(
            f"db.connection.{name} belongs to ChronoDB, which reads and writes through this "
            "connection; set it on a connection of your own",
            argument=name,
            value=value,
        )

    def __repr__(self) -> str:
        return f"<chronodb ReadConnection over {self._conn!r}>"


class ReadCursor:
    """A cursor of :class:`ReadConnection`: each statement read-only, its rows fetched
    while it runs (``PRAGMA query_only`` expires statements still running when it is
    switched back off), then handed out as sqlite3's cursor would."""

    def __init__(self, connection: ReadConnection, cursor: sqlite3.Cursor) -> None:
        self.connection = connection
        self.arraysize = 1
        self._cursor = cursor
        self._rows: list[Any] = []
        self._pos = 0

    def _run(self, sql: str, run: Callable[[], object]) -> ReadCursor:
        def fetched() -> list[Any]:
            run()
            return self._cursor.fetchall()

        self._rows, self._pos = self.connection.reading(sql, fetched), 0
        return self

    def execute(self, sql: str, parameters: Any = (), /) -> ReadCursor:
        return self._run(sql, lambda: self._cursor.execute(sql, parameters))

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> ReadCursor:
        return self._run(sql, lambda: self._cursor.executemany(sql, seq_of_parameters))

    def executescript(self, sql_script: str, /) -> ReadCursor:
        """Each statement in turn, read-only (never sqlite3's COMMIT before a script)."""
        from chronodb.database import sqlite3_split

        for sql in sqlite3_split(sql_script):
            if sql.strip():
                self.execute(sql)
        return self

    def fetchone(self) -> Any:
        if self._pos >= len(self._rows):
            return None
        self._pos += 1
        return self._rows[self._pos - 1]

    def fetchmany(self, size: int | None = None) -> list[Any]:
        end = self._pos + (self.arraysize if size is None else size)
        chunk, self._pos = self._rows[self._pos : end], min(end, len(self._rows))
        return chunk

    def fetchall(self) -> list[Any]:
        rest, self._pos = self._rows[self._pos :], len(self._rows)
        return rest

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        row = self.fetchone()
        if row is None:
            raise StopIteration
        return row

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)  # description, rowcount, lastrowid, close...
