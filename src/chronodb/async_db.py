"""AsyncChronoDB: ChronoDB's public methods as coroutines, for asyncio code.

Each call runs the ChronoDB method on one worker thread of its own (SQLite blocks, so the
event loop must not run it). One thread, not a pool: a transaction holds the database's
lock on the thread that began it, so BEGIN, the statements and COMMIT must all run there.
The coroutine wrappers are made from ChronoDB's methods the way chronomap's async_map.py
makes AsyncChronoMap's: same names, same arguments, same docstrings.

``async with db.transaction():`` is one ChronoDB transaction; while it is open, other
tasks' calls on the same AsyncChronoDB wait for it to end rather than joining it.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from chronodb.database import ChronoDB
from chronodb.errors import TransactionError

T = TypeVar("T")


def _coroutine(name: str) -> Callable[..., Awaitable[Any]]:
    """An async method running ChronoDB.<name> on the worker thread."""
    sync = getattr(ChronoDB, name)

    async def method(self: AsyncChronoDB, *args: Any, **kwargs: Any) -> Any:
        return await self._call(sync, self._db, *args, **kwargs)

    method.__name__ = name
    method.__qualname__ = f"AsyncChronoDB.{name}"
    method.__doc__ = sync.__doc__
    return method


def _attribute(name: str) -> property:
    """ChronoDB.<name>, read at once (an attribute, not a call to the database)."""
    return property(lambda self: getattr(self._db, name), doc=getattr(ChronoDB, name).__doc__)


class AsyncChronoDB:
    """A ChronoDB for asyncio: ``await db.execute(sql)``, ``async with db.transaction():``.

    Same constructor arguments as :class:`ChronoDB`; the file is opened on the worker
    thread. ``async with AsyncChronoDB(path) as db:`` closes it at the end. ``sync`` is the
    ChronoDB underneath (use it only from code that is not running on the event loop, and
    never inside an open async transaction).
    """

    def __init__(self, path: str | Path = ":memory:", **options: Any) -> None:
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chronodb")
        try:
            self._db: ChronoDB = self._worker.submit(ChronoDB, path, **options).result()
        except BaseException:
            self._worker.shutdown(wait=False)
            raise
        self._tx_lock: asyncio.Lock | None = None
        self._tx_task: asyncio.Task[Any] | None = None

    async def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` on the worker thread, after another task's transaction."""
        if self._db.closed:
            return fn(*args, **kwargs)  # ClosedError at once; the worker is gone
        current = asyncio.current_task()
        while self._tx_task is not None and self._tx_task is not current:
            assert self._tx_lock is not None
            async with self._tx_lock:  # held until that transaction ends
                pass
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._worker, functools.partial(fn, *args, **kwargs))

    @property
    def sync(self) -> ChronoDB:
        """The ChronoDB underneath."""
        return self._db

    path = _attribute("path")
    read_only = _attribute("read_only")
    user = _attribute("user")
    closed = _attribute("closed")
    in_transaction = _attribute("in_transaction")

    execute = _coroutine("execute")
    executemany = _coroutine("executemany")
    executescript = _coroutine("executescript")
    get_change_history = _coroutine("get_change_history")
    changes = _coroutine("changes")
    prune_history = _coroutine("prune_history")
    apply_retention = _coroutine("apply_retention")
    erase = _coroutine("erase")
    check_history = _coroutine("check_history")
    tx_hash = _coroutine("tx_hash")
    verify_audit_integrity = _coroutine("verify_audit_integrity")
    tables = _coroutine("tables")
    transactions = _coroutine("transactions")
    columns = _coroutine("columns")
    foreign_keys = _coroutine("foreign_keys")
    views = _coroutine("views")
    get_health_report = _coroutine("get_health_report")

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncChronoDB]:
        """``async with db.transaction():`` commits on success, rolls back on an exception;
        it is one ChronoDB transaction (one tx id)."""
        if self._tx_lock is None:
            self._tx_lock = asyncio.Lock()
        current = asyncio.current_task()
        if self._tx_task is current:
            raise TransactionError("A transaction is already open; COMMIT or ROLLBACK it first")
        async with self._tx_lock:
            context = self._db.transaction()
            await self._call(context.__enter__)
            self._tx_task = current
            try:
                try:
                    yield self
                except BaseException as err:
                    await self._call(context.__exit__, type(err), err, err.__traceback__)
                    raise
                await self._call(context.__exit__, None, None, None)
            finally:
                self._tx_task = None

    async def close(self) -> None:
        """Close the database and stop the worker thread."""
        if not self._db.closed:
            await self._call(self._db.close)
        self._worker.shutdown(wait=False)

    async def __aenter__(self) -> AsyncChronoDB:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return "Async" + repr(self._db)
