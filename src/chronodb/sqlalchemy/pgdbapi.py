""":mod:`chronodb.dbapi` as SQLAlchemy's psycopg dialect expects its DBAPI module to look.

The connection underneath is psycopg's, so the dialect's psycopg-specific parameter
wrappers (``Json``, ``Range``) reach psycopg unchanged; this module adds the names the
dialect reads from ``psycopg`` itself (``adapters``, ``IsolationLevel``, ``__version__``)
and psycopg's ``pyformat`` parameter style, which ChronoDB's PostgreSQL engine takes too.
"""

from __future__ import annotations

from psycopg import IsolationLevel, adapters
from psycopg import __version__ as __version__

from chronodb.dbapi import (
    BINARY,
    DATETIME,
    NUMBER,
    ROWID,
    STRING,
    Binary,
    Connection,
    Cursor,
    DatabaseError,
    DataError,
    Date,
    DateFromTicks,
    Error,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
    Time,
    TimeFromTicks,
    Timestamp,
    TimestampFromTicks,
    Warning,
    apilevel,
    connect,
    threadsafety,
)

paramstyle = "pyformat"

__all__ = [
    "BINARY",
    "DATETIME",
    "NUMBER",
    "ROWID",
    "STRING",
    "Binary",
    "Connection",
    "Cursor",
    "DataError",
    "DatabaseError",
    "Date",
    "DateFromTicks",
    "Error",
    "IntegrityError",
    "InterfaceError",
    "InternalError",
    "IsolationLevel",
    "NotSupportedError",
    "OperationalError",
    "ProgrammingError",
    "Time",
    "TimeFromTicks",
    "Timestamp",
    "TimestampFromTicks",
    "Warning",
    "adapters",
    "apilevel",
    "connect",
    "paramstyle",
    "threadsafety",
]
