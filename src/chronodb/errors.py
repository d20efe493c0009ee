"""ChronoDB's errors, one tree under ChronoDBError.

ChronoDBError
├── ConfigError            bad option or config file
├── ArgumentError          an argument of the wrong type or out of range (``argument``,
│                          ``value``); also a TypeError and a ValueError
├── SQLError               a statement SQLite or the parser rejected
│   ├── SQLSyntaxError     malformed SQL (``position``, ``line``, ``column``)
│   └── TemporalError      a bad AS OF / FOR SYSTEM_TIME clause
│       └── TimestampError a point in time that cannot be read (``value``)
├── SchemaError            unknown table or column (``table``, ``column``)
├── TransactionError       BEGIN inside a transaction, COMMIT outside one, ...
│   ├── BusyError          another connection held the lock past the timeout (``timeout``)
│   ├── SerializationError a concurrent transaction conflicted; nothing was written, retry
│   └── StatementTimeoutError the server's statement or lock timeout cancelled a statement
├── ClosedError            a call on a ChronoDB after its close()
├── ReadOnlyError          a write on a read-only database
├── NotSupportedError      a feature this backend does not offer yet (``feature``,
│                          ``backend``)
├── IntegrityError         a constraint failed (also sqlite3.IntegrityError's meaning)
│   ├── UniqueViolation    UNIQUE or PRIMARY KEY
│   ├── NotNullViolation   NOT NULL
│   ├── CheckViolation     CHECK
│   └── ForeignKeyViolation  FOREIGN KEY
├── StorageError           the file cannot be read or written (disk full, I/O error)
│   ├── CorruptDatabaseError  a damaged file: malformed pages or ChronoDB metadata
│   │   └── NotADatabaseError the file is not an SQLite database at all
│   └── ServerError        the PostgreSQL server cannot be used (``host``)
│       ├── ServerUnavailableError  no connection: refused, unreachable, full
│       ├── AuthenticationError     the server refused the user, password or database
│       └── ConnectionLostError     the connection dropped; its open transaction is undone
├── AuditError             the audit ledger's Merkle tree cannot answer (bad size or
│                          index, a missing or overwritten node)
└── CopyError              a database that cannot be copied as asked: a destination that
                           is not empty, a table or value the other backend cannot hold
                           exactly (``source``, ``destination``)

ChronoDBWarning            something worked but deserves attention

Every call on ChronoDB's public API raises only these (``chronodb/_guard.py`` translates
what SQLite, sqlglot and Python raise underneath), except where Python itself would: a call
whose arguments do not fit the method's signature (one missing, one unknown) raises a
TypeError, for most methods the ArgumentError above, which is one.
"""

from __future__ import annotations

from typing import Any


class ChronoDBError(Exception):
    """Root of every error ChronoDB raises for bad input or misuse."""


class ConfigError(ChronoDBError):
    """An option or a config file that cannot be used."""


class ArgumentError(ChronoDBError, TypeError, ValueError):
    """An argument of the wrong type or out of range; ``argument`` names it, ``value`` holds it.

    Also a TypeError and a ValueError, so code that catches Python's own errors for bad
    arguments keeps working.
    """

    def __init__(self, message: str, *, argument: str | None = None, value: Any = None) -> None:
        self.argument = argument
        self.value = value
        super().__init__(message)


class SQLError(ChronoDBError):
    """A statement that SQLite or ChronoDB's parser rejected."""

    def __init__(
        self,
        message: str,
        *,
        sql: str | None = None,
        position: int | None = None,
    ) -> None:
        self.sql = sql
        self.position = position
        self.line: int | None = None
        self.column: int | None = None
        if sql is not None and position is not None:
            self.line, self.column = line_and_column(sql, position)
            message = f"{message} (line {self.line}, column {self.column})"
        super().__init__(message)


def line_and_column(sql: str, position: int) -> tuple[int, int]:
    """The 1-based line and column of a 0-based offset in ``sql``."""
    before = sql[:position]
    return before.count("\n") + 1, position - (before.rfind("\n") + 1) + 1


class SQLSyntaxError(SQLError):
    """Malformed SQL; ``position`` is the 0-based offset of the offending token."""


class TemporalError(SQLError):
    """A temporal clause that cannot be applied."""


class TimestampError(TemporalError):
    """A point in time that cannot be understood; ``value`` holds it."""

    def __init__(self, message: str, *, value: Any = None, **kw: Any) -> None:
        self.value = value
        super().__init__(message, **kw)


class SchemaError(ChronoDBError):
    """An unknown table or column; ``table`` or ``column`` names it, and ``position`` is
    its 0-based offset in ``sql`` when it was found there."""

    def __init__(
        self,
        message: str,
        *,
        table: str | None = None,
        column: str | None = None,
        sql: str | None = None,
        position: int | None = None,
    ):
        self.table = table
        self.column = column
        self.sql = sql
        self.position = position
        if sql is not None and position is not None:
            line, col = line_and_column(sql, position)
            message = f"{message} (line {line}, column {col})"
        super().__init__(message)


class UnversionedTablesError(ChronoDBError):
    """The file has tables ChronoDB does not version yet and adopting them was refused
    (``adopt=False``); ``tables`` names them."""

    def __init__(self, path: str, tables: list[str]) -> None:
        self.path = path
        self.tables = tables
        super().__init__(
            f"{path} has tables ChronoDB does not version yet: {', '.join(tables)}; open it "
            f"without adopt=False (or run `chronodb adopt {path}`) to version them"
        )


class TransactionError(ChronoDBError):
    """Transaction statements out of order."""


class BusyError(TransactionError):
    """Another connection kept the database locked for longer than ``timeout`` seconds
    (None when not known); nothing of the statement was written. Trying again may work."""

    def __init__(self, message: str, *, timeout: float | None = None) -> None:
        self.timeout = timeout
        super().__init__(message)


class ClosedError(ChronoDBError):
    """A call on a database after ``close()``; ``path`` names its file."""

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(f"the database {path} is closed; open it again to use it")


class ReadOnlyError(ChronoDBError):
    """A write was attempted on a read-only database."""


class NotSupportedError(ChronoDBError):
    """A feature the database's backend does not offer yet (``feature``, ``backend``):
    nothing was run."""

    def __init__(self, feature: str, backend: str, hint: str = "") -> None:
        self.feature = feature
        self.backend = backend
        super().__init__(
            f"{feature} is not supported on {backend} yet" + (f"; {hint}" if hint else "")
        )


class IntegrityError(ChronoDBError):
    """A constraint (UNIQUE, NOT NULL, CHECK, FOREIGN KEY) failed; nothing was written."""


class UniqueViolation(IntegrityError):
    """A row would repeat another's UNIQUE or PRIMARY KEY value."""


class NotNullViolation(IntegrityError):
    """A NOT NULL column would hold NULL."""


class CheckViolation(IntegrityError):
    """A CHECK constraint would fail."""


class ForeignKeyViolation(IntegrityError):
    """A FOREIGN KEY would reference no row (or a referenced row would go)."""


class StorageError(ChronoDBError):
    """The database file cannot be read or written: the disk is full, an I/O error, no
    permission. ``path`` names the file when known."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        self.path = path
        super().__init__(message)


class CorruptDatabaseError(StorageError):
    """The file is damaged: SQLite found malformed pages, or ChronoDB's own metadata
    (``_chrono_meta``, ``_chrono_schema``) cannot be read. Nothing was answered from it."""


class NotADatabaseError(CorruptDatabaseError):
    """The file is not an SQLite database (or its header is destroyed)."""


class ServerError(StorageError):
    """The PostgreSQL server cannot be used; ``host`` names it (``host:port``), ``path`` the
    database's URL without its password."""

    def __init__(self, message: str, *, host: str | None = None, path: str | None = None):
        self.host = host
        super().__init__(message, path=path)


class ServerUnavailableError(ServerError):
    """No connection to the server: refused, unreachable, timed out, or out of connections."""


class AuthenticationError(ServerError):
    """The server refused the user, the password, or the database named."""


class ConnectionLostError(ServerError):
    """The connection dropped; the transaction open on it was not applied. The next call
    connects again."""


class SerializationError(TransactionError):
    """A concurrent transaction conflicted with this one (a serialization failure or a
    deadlock); the server rolled this one back, nothing of it was written: retry it."""


class StatementTimeoutError(TransactionError):
    """A statement ran past the server's ``statement_timeout`` (or waited past
    ``lock_timeout``) and was cancelled; its transaction was rolled back."""


class AuditError(ChronoDBError):
    """The audit ledger's Merkle tree was asked the impossible or found damaged.

    ``tree_size`` is the tree's size when the error was raised, when known.
    """

    def __init__(self, message: str, *, tree_size: int | None = None) -> None:
        self.tree_size = tree_size
        super().__init__(message)


class CopyError(ChronoDBError):
    """``copy_database`` refused or could not finish; ``source`` and ``destination`` name
    the two databases (a server URL without its password). Nothing was written to the
    destination."""

    def __init__(self, message: str, *, source: str, destination: str) -> None:
        self.source = source
        self.destination = destination
        super().__init__(message)


class ChronoDBWarning(UserWarning):
    """Something worked but deserves attention."""
