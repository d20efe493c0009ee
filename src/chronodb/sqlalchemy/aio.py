"""``sqlite+chronodb_async`` and ``postgresql+chronodb_async``: the dialects for
``create_async_engine``.

Each DBAPI connection is a :mod:`chronodb.dbapi` connection with a worker thread of its
own: every call that reaches the database (connect, execute, commit, rollback, close) runs
there while the event loop goes on, and SQLAlchemy's greenlet bridge (``await_``) waits for
it. One thread per connection, because a ChronoDB transaction holds the database's lock on
the thread that began it. Rows are fetched when a statement runs, so ``fetch*`` are
ordinary calls.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from types import ModuleType
from typing import Any

from sqlalchemy import pool

try:  # SQLAlchemy 2.1
    from sqlalchemy.util.concurrency import await_ as _await
except ImportError:  # SQLAlchemy 2.0
    from sqlalchemy.util.concurrency import await_only as _await

from chronodb.sqlalchemy.postgresql import PGDialect_chronodb
from chronodb.sqlalchemy.sqlite import SQLiteDialect_chronodb


class AsyncCursor:
    """A DB-API cursor whose statements run on its connection's worker thread."""

    def __init__(self, connection: AsyncConnection, cursor: Any) -> None:
        self._connection = connection
        self._cursor = cursor

    def execute(self, operation: str, parameters: Any = None) -> AsyncCursor:
        self._connection.call(self._cursor.execute, operation, parameters)
        return self

    def executemany(self, operation: str, seq_of_parameters: Any) -> AsyncCursor:
        self._connection.call(self._cursor.executemany, operation, seq_of_parameters)
        return self

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    def fetchone(self) -> Any:
        return self._cursor.fetchone()

    def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size)

    def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    def __iter__(self) -> Any:
        return iter(self._cursor)

    def setinputsizes(self, sizes: Sequence[Any]) -> None:
        """Accepted and ignored, as PEP 249 allows."""

    def close(self) -> None:
        self._cursor.close()

    async def _async_soft_close(self) -> None:
        """SQLAlchemy's async results call this; the rows are already fetched."""


class AsyncConnection:
    """A :mod:`chronodb.dbapi` connection driven from asyncio through one worker thread."""

    def __init__(self, connection: Any, worker: ThreadPoolExecutor) -> None:
        self._connection = connection
        self._worker = worker

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` on the worker thread, the event loop running meanwhile."""
        loop = asyncio.get_running_loop()
        return _await(loop.run_in_executor(self._worker, partial(fn, *args)))

    @property
    def driver_connection(self) -> Any:
        """The synchronous :class:`chronodb.dbapi.Connection` underneath."""
        return self._connection

    def cursor(self, *args: Any) -> AsyncCursor:
        return AsyncCursor(self, self._connection.cursor())

    def commit(self) -> None:
        self.call(self._connection.commit)

    def rollback(self) -> None:
        self.call(self._connection.rollback)

    def close(self) -> None:
        try:
            self.call(self._connection.close)
        finally:
            self._worker.shutdown(wait=False)

    def create_function(self, *args: Any, **kw: Any) -> None:
        self.call(partial(self._connection.create_function, *args, **kw))

    def __getattr__(self, name: str) -> Any:
        # isolation_level, autocommit, in_transaction, begin_statement, closed, db
        return getattr(self._connection, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            object.__setattr__(self, name, value)
        else:  # a setter may commit (isolation_level=None, autocommit=True)
            self.call(setattr, self._connection, name, value)


class AsyncDBAPI:
    """The DBAPI module SQLAlchemy's async engine is given: ``sync``'s names, and a
    ``connect`` that opens the connection on a worker thread of its own."""

    def __init__(self, sync: ModuleType) -> None:
        self.sync = sync
        for name in getattr(sync, "__all__", ()):
            if name != "connect":
                setattr(self, name, getattr(sync, name))
        for name in ("sqlite_version", "sqlite_version_info", "__version__", "adapters"):
            if hasattr(sync, name):
                setattr(self, name, getattr(sync, name))

    def connect(self, *args: Any, **kw: Any) -> AsyncConnection:
        worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chronodb-async")
        loop = asyncio.get_running_loop()
        try:
            made = _await(loop.run_in_executor(worker, partial(self.sync.connect, *args, **kw)))
        except BaseException:
            worker.shutdown(wait=False)
            raise
        return AsyncConnection(made, worker)


class _AsyncDriver:
    """What both async dialects add to their synchronous twins."""

    driver = "chronodb_async"
    is_async = True
    supports_statement_cache = True
    supports_server_side_cursors = False

    @classmethod
    def get_async_dialect_cls(cls, url: Any) -> Any:
        return cls

    def get_driver_connection(self, connection: Any) -> Any:
        return connection.driver_connection


class SQLiteDialect_chronodb_async(_AsyncDriver, SQLiteDialect_chronodb):
    """``create_async_engine("sqlite+chronodb_async:///app.db")``."""

    supports_statement_cache = True  # SQLAlchemy reads it from each class's own body

    @classmethod
    def import_dbapi(cls) -> Any:
        return AsyncDBAPI(SQLiteDialect_chronodb.import_dbapi())

    @classmethod
    def get_pool_class(cls, url: Any) -> type[pool.Pool]:
        if cls._is_url_file_db(url):
            return pool.AsyncAdaptedQueuePool
        return pool.StaticPool  # one in-memory database, shared


class PGDialect_chronodb_async(_AsyncDriver, PGDialect_chronodb):
    """``create_async_engine("postgresql+chronodb_async://user@host/db")``."""

    supports_statement_cache = True  # SQLAlchemy reads it from each class's own body

    @classmethod
    def import_dbapi(cls) -> Any:
        return AsyncDBAPI(PGDialect_chronodb.import_dbapi())

    @classmethod
    def get_pool_class(cls, url: Any) -> type[pool.Pool]:
        return pool.AsyncAdaptedQueuePool
