"""``chronodb.dbapi``: a PEP 249 (DB-API 2.0) driver over ChronoDB.

``connect("app.db")`` gives a Connection whose cursors run ordinary and temporal SQL
(``SELECT … AS OF TIMESTAMP …``) through :class:`~chronodb.ChronoDB`; every transaction the
driver opens is one ChronoDB transaction (one tx id, sealed into the audit ledger).
Transactions begin as sqlite3's do (before the first INSERT, UPDATE, DELETE or REPLACE),
so tools written for sqlite3, pandas and SQLAlchemy's ``sqlite`` dialect, can use it.

``threadsafety`` is 1: threads may share the module, not connections. A transaction holds
the database's lock on the thread that began it, so another thread's statements on the same
connection would wait for it, or end someone else's transaction; give each thread its own
connection (SQLite serializes their writes).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from chronodb.database import ChronoDB
from chronodb.dbapi.connection import LEGACY_TRANSACTION_CONTROL, Connection
from chronodb.dbapi.cursor import Cursor
from chronodb.dbapi.exceptions import (
    DatabaseError,
    DataError,
    Error,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
    Warning,
    translate,
)
from chronodb.dbapi.types import (
    BINARY,
    DATETIME,
    NUMBER,
    ROWID,
    STRING,
    Binary,
    Date,
    DateFromTicks,
    Time,
    TimeFromTicks,
    Timestamp,
    TimestampFromTicks,
)
from chronodb.errors import ChronoDBError

apilevel = "2.0"
threadsafety = 1
paramstyle = "qmark"
# The SQLite library's version, which SQLAlchemy's sqlite dialect reads for its features.
sqlite_version: str = sqlite3.sqlite_version
sqlite_version_info: tuple[int, int, int] = sqlite3.sqlite_version_info


def connect(
    database: str | Path | ChronoDB,
    *,
    isolation_level: str | None = "",
    autocommit: bool | int = LEGACY_TRANSACTION_CONTROL,
    check_same_thread: bool = True,
    detect_types: int = 0,
    cached_statements: int | None = None,
    uri: bool = False,
    **options: Any,
) -> Connection:
    """Open ``database`` (a path, ``":memory:"``, a ``postgresql://`` URL, or an open
    :class:`ChronoDB`) for DB-API use.

    ``options`` are ChronoDB's (``user``, ``timeout``, ``read_only``, ``ledger``...).
    ``isolation_level`` and ``autocommit`` are sqlite3's (see :class:`Connection`).
    sqlite3's ``check_same_thread`` and ``cached_statements`` are accepted and have no
    effect (the database's lock orders threads; ChronoDB caches its own statements);
    ``detect_types`` and ``uri`` are refused. A ChronoDB passed in is shared, transaction
    state included, and stays open when the connection closes.
    """
    if detect_types:
        raise NotSupportedError(f"detect_types={detect_types!r}: ChronoDB returns SQLite's types")
    if uri:
        raise NotSupportedError("uri=True: name the database by its path")
    del check_same_thread, cached_statements
    if isinstance(database, ChronoDB):
        if options:
            raise ProgrammingError(
                f"options ({', '.join(sorted(options))}) apply when connect() opens the "
                "database; this ChronoDB is already open"
            )
        db, owns = database, False
    else:
        try:
            db, owns = ChronoDB(database, **options), True
        except ChronoDBError as err:
            raise translate(err) from err
    return Connection(db, owns=owns, isolation_level=isolation_level, autocommit=autocommit)


__all__ = [
    "BINARY",
    "DATETIME",
    "LEGACY_TRANSACTION_CONTROL",
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
    "NotSupportedError",
    "OperationalError",
    "ProgrammingError",
    "Time",
    "TimeFromTicks",
    "Timestamp",
    "TimestampFromTicks",
    "Warning",
    "apilevel",
    "connect",
    "paramstyle",
    "sqlite_version",
    "sqlite_version_info",
    "threadsafety",
]
