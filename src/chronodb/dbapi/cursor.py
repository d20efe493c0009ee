"""The DB-API cursor: statements through the ChronoDB facade, rows as tuples."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import islice
from typing import TYPE_CHECKING, Any

from chronodb.database import engine_of
from chronodb.dbapi.exceptions import NotSupportedError, ProgrammingError, translate
from chronodb.engine.common import Committed
from chronodb.errors import ChronoDBError
from chronodb.result import Result
from chronodb.sql.classify import Route

if TYPE_CHECKING:
    from chronodb.dbapi.connection import Connection

_CLOSED_CURSOR = "Cannot operate on a closed cursor."
_INSERTS = ("INSERT", "REPLACE")
_READ, _COMMIT = Route.READ, Route.COMMIT
_WRITES = (Route.WRITE, Route.TEMPORAL_WRITE, Route.DDL)
_NO_ROWS: Iterator[tuple[Any, ...]] = iter(())  # exhausted: shared by every statement without rows


@functools.lru_cache(maxsize=4096)
def _inserts(operation: str) -> bool:
    """Whether ``operation`` is an INSERT or REPLACE (after which sqlite3 moves lastrowid)."""
    return operation.lstrip()[:7].upper().startswith(_INSERTS)


class Cursor:
    """A PEP 249 cursor: ``execute`` then ``fetchone``/``fetchmany``/``fetchall``.

    Each statement runs through :meth:`ChronoDB.execute`, so temporal SQL (``AS OF``,
    ``FOR SYSTEM_TIME``) works and every write is versioned. Rows are fetched when the
    statement runs. After a write, ``tx_id``, ``tx_time`` and ``tx_hash`` name the
    ChronoDB transaction that holds it (``tx_hash`` is None until that transaction
    commits, or without a ledger).
    """

    # A new cursor's state, as class attributes: SQLAlchemy opens a cursor per statement,
    # and each is set on the instance only once a statement changes it.
    arraysize: int = 1
    rowcount: int = -1
    lastrowid: int | None = None
    tx_id: int | None = None
    tx_time: float | None = None
    # One 7-tuple per column of the last statement's rows (name, then six Nones, as sqlite3
    # gives), or None if it returned no rows.
    description: tuple[tuple[Any, ...], ...] | None = None
    _sqlite_cursor: sqlite3.Cursor | None = None
    _awaits = False  # whether the last statement wrote in a transaction not yet named
    # The rows still to fetch, as tuples; None before the first statement.
    _rows: Iterator[tuple[Any, ...]] | None = None
    _closed = False

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        engine = engine_of(connection.db)
        self._engine = engine
        # The engine's route cache and lock, looked up once: the read path runs per call.
        self._routes = engine.routes
        self._lock = engine.lock

    # ------------------------------------------------------------------ statements
    def execute(self, operation: str, parameters: Any = None) -> Cursor:
        """Run one statement; ``?`` (qmark) or ``:name`` placeholders, as sqlite3."""
        if self._closed:
            raise ProgrammingError(_CLOSED_CURSOR)
        connection = self.connection
        route = self._routes.get(operation)
        # A plain read outside an implicit transaction's reach runs as the engine runs its
        # reads (on its connection, under its lock), straight into tuples; anything else,
        # and any error, goes through ChronoDB.execute.
        if route is _READ and connection._reads_alone:
            with self._lock:
                sqlite_cursor = self._sqlite_cursor or self._open_sqlite_cursor()
                try:
                    sqlite_cursor.execute(operation, () if parameters is None else parameters)
                    self._rows = iter(sqlite_cursor.fetchall())
                except sqlite3.Error:
                    pass
                else:
                    self.description = sqlite_cursor.description
                    if self.tx_id is not None or self.rowcount != -1:
                        self.rowcount, self.tx_id, self.tx_time = -1, None, None
                    return self
        try:
            connection.prepare_for(operation)
            result = connection.db.execute(operation, parameters)
        except ChronoDBError as err:
            raise translate(err) from err
        self._took(result, operation, route)
        return self

    def _open_sqlite_cursor(self) -> sqlite3.Cursor:
        sqlite_cursor = self._engine.conn.cursor()
        sqlite_cursor.row_factory = None  # rows as tuples, as PEP 249 and sqlite3 give them
        self._sqlite_cursor = sqlite_cursor
        return sqlite_cursor

    def executemany(self, operation: str, seq_of_parameters: Iterable[Any]) -> Cursor:
        """Run one write statement for each parameter set: all of them or none, in the
        open transaction (or one of its own); ``rowcount`` is their total."""
        if self._closed:
            raise ProgrammingError(_CLOSED_CURSOR)
        db = self.connection.db
        return self._through_db(operation, lambda: db.executemany(operation, seq_of_parameters))

    def _through_db(self, operation: str, run: Callable[[], Result]) -> Cursor:
        """``run()`` (the statement, through ChronoDB), after the implicit BEGIN."""
        try:
            self.connection.prepare_for(operation)
            result = run()
        except ChronoDBError as err:
            raise translate(err) from err
        self._took(result, operation)
        return self

    def executescript(self, sql_script: str) -> Cursor:
        """Commit a transaction the connection has open, then run the script as
        :meth:`ChronoDB.executescript` does (all or nothing, in a transaction of its own)."""
        if self._closed:
            raise ProgrammingError(_CLOSED_CURSOR)
        connection = self.connection
        connection.commit()
        try:
            connection.db.executescript(sql_script)
        except ChronoDBError as err:
            raise translate(err) from err
        self._took(Result(None), sql_script)
        return self

    def _took(self, result: Result, operation: str, route: Route | None = None) -> None:
        """Take ``result`` as the last statement's; ``route``: ``operation``'s, if known."""
        rows = result.rows
        self._rows = map(tuple, rows) if rows else _NO_ROWS
        self.description = result.description
        self.rowcount = result.rowcount
        tx_id = self.tx_id = result.tx_id
        self.tx_time = result.tx_time
        # sqlite3 moves lastrowid after INSERT and REPLACE only; other writes leave it.
        if result.lastrowid is not None and _inserts(operation):
            self.lastrowid = result.lastrowid
        if route is None:
            route = self._routes.get(operation)
        engine = self._engine
        # A write inside a transaction whose id is given at COMMIT (PostgreSQL) learns it then.
        self._awaits = tx_id is None and engine.explicit and route in _WRITES
        if self._awaits:
            self.connection.awaits_commit(self)
        elif route is _COMMIT:  # a COMMIT statement: what it made, as commit() does
            self.connection.settled(engine.last_commit)

    def committed(self, made: Committed | None) -> None:
        """The transaction that this cursor's last statement wrote in was committed as
        ``made``: the cursor names it, if that statement is still its last."""
        if self._awaits and made is not None:
            self.tx_id, self.tx_time = made.tx_id, made.tx_time
        self._awaits = False

    # ------------------------------------------------------------------ results
    @property
    def tx_hash(self) -> str | None:
        """The ledger hash of the transaction that holds the last write, once committed."""
        if self.tx_id is None:
            return None
        try:
            return self.connection.db.tx_hash(self.tx_id)
        except ChronoDBError as err:
            raise translate(err) from err

    def _no_rows(self) -> ProgrammingError:
        """Why there are no rows to fetch."""
        if self._closed:
            return ProgrammingError(_CLOSED_CURSOR)
        return ProgrammingError("No statement has been executed on this cursor")

    def fetchone(self) -> tuple[Any, ...] | None:
        """The next row, or None after the last."""
        try:
            return next(self._rows, None)  # type: ignore[arg-type]
        except TypeError:
            if self._rows is None:
                raise self._no_rows() from None
            raise

    def fetchmany(self, size: int | None = None) -> list[tuple[Any, ...]]:
        """Up to ``size`` (default ``arraysize``) next rows."""
        if self._rows is None:
            raise self._no_rows()
        return list(islice(self._rows, self.arraysize if size is None else size))

    def fetchall(self) -> list[tuple[Any, ...]]:
        """The remaining rows."""
        if self._rows is None:
            raise self._no_rows()
        return list(self._rows)

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return self

    def __next__(self) -> tuple[Any, ...]:
        if self._rows is None:
            raise self._no_rows()
        return next(self._rows)

    # ------------------------------------------------------------------ the rest of PEP 249
    def setinputsizes(self, sizes: Sequence[Any]) -> None:
        """Accepted and ignored, as PEP 249 allows."""

    def setoutputsize(self, size: int, column: int | None = None) -> None:
        """Accepted and ignored, as PEP 249 allows."""

    def callproc(self, procname: str, parameters: Sequence[Any] = ()) -> None:
        """SQLite has no stored procedures."""
        raise NotSupportedError(f"callproc({procname!r}): SQLite has no stored procedures")

    def close(self) -> None:
        """Forget the rows; the cursor refuses further use."""
        self._closed = True
        self._rows = None
        if self._sqlite_cursor is not None:
            self._sqlite_cursor.close()

    def __enter__(self) -> Cursor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
