"""The DB-API connection: a ChronoDB and sqlite3's rules for when transactions begin."""

from __future__ import annotations

import sqlite3
import weakref
from collections.abc import Callable
from typing import Any

from chronodb.database import ChronoDB, engine_of
from chronodb.dbapi import exceptions
from chronodb.dbapi.cursor import Cursor
from chronodb.dbapi.exceptions import ProgrammingError, translate
from chronodb.engine import Engine
from chronodb.engine.common import Committed
from chronodb.errors import ArgumentError, ChronoDBError
from chronodb.sql.classify import Route

# sqlite3's constant (Python 3.12+): the autocommit value that leaves isolation_level in charge.
LEGACY_TRANSACTION_CONTROL: int = getattr(sqlite3, "LEGACY_TRANSACTION_CONTROL", -1)
_CLOSED = "Cannot operate on a closed database."  # sqlite3's words; SQLAlchemy looks for them
_ISOLATION_LEVELS = (None, "", "DEFERRED", "IMMEDIATE", "EXCLUSIVE")
# sqlite3's legacy mode begins a transaction before INSERT, UPDATE, DELETE and REPLACE.
_DML = (Route.WRITE, Route.TEMPORAL_WRITE)
_CONTROL = (Route.BEGIN, Route.COMMIT, Route.ROLLBACK)


def _bad(argument: str, allowed: str, value: object) -> exceptions.Error:
    """The error for a connection attribute set to a value sqlite3 would refuse too."""
    message = f"{argument} is {allowed}; got {value!r}"
    return translate(ArgumentError(message, argument=argument, value=value))


class Connection:
    """A PEP 249 connection over one :class:`ChronoDB`.

    Transactions follow sqlite3's rules. By default (``isolation_level=""``,
    ``autocommit=LEGACY_TRANSACTION_CONTROL``) a transaction begins before the first
    INSERT, UPDATE, DELETE or REPLACE and lasts until :meth:`commit` or :meth:`rollback`;
    ``isolation_level=None`` runs each statement in a transaction of its own;
    ``autocommit=False`` keeps a transaction open always (PEP 249's way), ``True``
    never opens one implicitly. Each transaction is one ChronoDB transaction: one tx id
    for all its writes, listed by ``db.transactions()``, sealed into the ledger on commit.

    The PEP 249 exception classes are attributes too (``conn.IntegrityError``).
    """

    Warning = exceptions.Warning
    Error = exceptions.Error
    InterfaceError = exceptions.InterfaceError
    DatabaseError = exceptions.DatabaseError
    DataError = exceptions.DataError
    OperationalError = exceptions.OperationalError
    IntegrityError = exceptions.IntegrityError
    InternalError = exceptions.InternalError
    ProgrammingError = exceptions.ProgrammingError
    NotSupportedError = exceptions.NotSupportedError

    def __init__(
        self,
        db: ChronoDB,
        *,
        owns: bool,
        isolation_level: str | None = "",
        autocommit: bool | int = LEGACY_TRANSACTION_CONTROL,
    ) -> None:
        self.db = db
        self._engine = engine_of(db)
        # The cursor's fast read path runs on SQLite's own connection; PostgreSQL's reads
        # go through the facade.
        self._on_file = isinstance(self._engine, Engine)
        # The statement that opens a transaction (PostgreSQL: with its isolation level).
        self.begin_statement = "BEGIN"
        self._owns = owns
        self._closed = False
        # Whether a plain read may run without a transaction (the cursor's fast path).
        self._reads_alone = True
        # Cursors whose last write awaits its transaction's id (given at COMMIT).
        self._awaiting: weakref.WeakSet[Cursor] = weakref.WeakSet()
        self._isolation_level: str | None = ""
        self._autocommit: bool | int = LEGACY_TRANSACTION_CONTROL
        self.isolation_level = isolation_level
        self.autocommit = autocommit

    # ------------------------------------------------------------------ transactions
    def prepare_for(self, sql: str) -> None:
        """Before ``sql`` runs: refuse a closed connection, begin the implicit transaction."""
        if self._closed:
            raise ProgrammingError(_CLOSED)
        engine = self._engine
        if engine.explicit:
            return
        mode = self._autocommit
        if mode is True or (mode == LEGACY_TRANSACTION_CONTROL and self._isolation_level is None):
            return
        route = engine.routes.get(sql) or engine.route(sql)
        begins = route not in _CONTROL if mode is False else route in _DML
        if begins:
            if self.begin_statement == "BEGIN":
                engine.begin()
            else:
                engine.begin(self.begin_statement)  # type: ignore[call-arg]

    @property
    def in_transaction(self) -> bool:
        """Whether a transaction is open (its writes not yet committed)."""
        return not self._closed and self._engine.explicit

    def commit(self) -> None:
        """Commit the open transaction, if any: one ChronoDB transaction, sealed. The
        cursors whose last statement wrote in it then name it (``tx_id``, ``tx_time``),
        on PostgreSQL too, where the id is given at COMMIT."""
        engine = self._engine
        with engine.lock:  # no other thread's COMMIT between this one and reading it
            if self._finish(engine.commit):
                self.settled(engine.last_commit)

    def rollback(self) -> None:
        """Roll back the open transaction, if any: none of its writes leaves a version."""
        self._finish(self._engine.rollback)
        self._awaiting.clear()

    def _finish(self, end: Callable[[], None]) -> bool:
        """End the open transaction with ``end``; whether there was one."""
        if self._closed:
            raise ProgrammingError(_CLOSED)
        if not self._engine.explicit:
            return False
        try:
            end()
        except ChronoDBError as err:
            self._awaiting.clear()
            raise translate(err) from err
        return True

    def awaits_commit(self, cursor: Cursor) -> None:
        """``cursor``'s last statement wrote in the open transaction, whose id is not known
        yet (PostgreSQL): its COMMIT gives it to the cursor."""
        self._awaiting.add(cursor)

    def settled(self, made: Committed | None) -> None:
        """The open transaction ended in a COMMIT that made ``made``: the cursors awaiting
        it name it."""
        for cursor in self._awaiting:
            cursor.committed(made)
        self._awaiting.clear()

    @property
    def isolation_level(self) -> str | None:
        """sqlite3's legacy switch: None runs every statement on its own; ``""`` (or
        DEFERRED, IMMEDIATE, EXCLUSIVE) begins a transaction before DML. ChronoDB's engine
        takes the write lock as its backend does, whichever of those is named."""
        return self._isolation_level

    @isolation_level.setter
    def isolation_level(self, value: str | None) -> None:
        if not (value is None or (isinstance(value, str) and value.upper() in _ISOLATION_LEVELS)):
            raise _bad("isolation_level", "None, '', DEFERRED, IMMEDIATE or EXCLUSIVE", value)
        if value is None and not self._closed and self._engine.explicit:
            self.commit()  # as sqlite3: switching to autocommit commits what is pending
        self._isolation_level = value

    @property
    def autocommit(self) -> bool | int:
        """sqlite3 3.12's attribute: LEGACY_TRANSACTION_CONTROL (the default:
        ``isolation_level`` decides), True (no implicit transactions) or False (always in
        a transaction; commit and rollback open the next one)."""
        return self._autocommit

    @autocommit.setter
    def autocommit(self, value: bool | int) -> None:
        if value is not True and value is not False and value != LEGACY_TRANSACTION_CONTROL:
            raise _bad("autocommit", "True, False or LEGACY_TRANSACTION_CONTROL", value)
        if value is True and not self._closed and self._engine.explicit:
            self.commit()
        self._autocommit = value
        self._reads_alone = value is not False and not self._closed and self._on_file

    # ------------------------------------------------------------------ statements
    def cursor(self, factory: Callable[[Connection], Cursor] = Cursor) -> Cursor:
        """A new cursor on this connection."""
        if self._closed:
            raise ProgrammingError(_CLOSED)
        return factory(self)

    def execute(self, sql: str, parameters: Any = None) -> Cursor:
        """sqlite3's shortcut: a new cursor, ``execute``d."""
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql: str, seq_of_parameters: Any) -> Cursor:
        """sqlite3's shortcut: a new cursor, ``executemany``d."""
        return self.cursor().executemany(sql, seq_of_parameters)

    def executescript(self, sql_script: str) -> Cursor:
        """sqlite3's shortcut: a new cursor, ``executescript``ed."""
        return self.cursor().executescript(sql_script)

    def create_function(
        self, name: str, narg: int, func: Callable[..., Any] | None, *, deterministic: bool = False
    ) -> None:
        """Make a Python function callable from SQL, as sqlite3's (SQLAlchemy registers
        ``regexp`` and ``floor`` this way)."""
        self._on_sqlite(lambda c: c.create_function(name, narg, func, deterministic=deterministic))

    def create_collation(self, name: str, func: Callable[[str, str], int] | None) -> None:
        """Register a collation, as sqlite3's."""
        self._on_sqlite(lambda c: c.create_collation(name, func))

    def _on_sqlite(self, register: Callable[[sqlite3.Connection], None]) -> None:
        if self._closed:
            raise ProgrammingError(_CLOSED)
        if not self._on_file:
            raise exceptions.NotSupportedError(
                f"{self.db.path}: SQL functions and collations are registered on SQLite only"
            )
        engine = self._engine
        try:
            with engine.lock:
                register(engine.conn)
        except sqlite3.Error as err:
            raise exceptions.OperationalError(str(err)) from err

    # ------------------------------------------------------------------ lifecycle
    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Roll back an open transaction and close the database (one passed to
        :func:`connect` as a ChronoDB stays open: its owner closes it)."""
        if self._closed:
            return
        if self._owns:
            if self._engine.explicit:
                self.rollback()
            self.db.close()
        self._closed = True
        self._reads_alone = False

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        """Commit on success, roll back on an exception; the connection stays open (as
        sqlite3's)."""
        if exc_type is None:
            self.commit()
        elif not self._closed:
            self.rollback()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<chronodb.dbapi.Connection {self.db.path!r} {state}>"
