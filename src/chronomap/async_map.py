"""AsyncChronoMap: ChronoMap's API as coroutines, for asyncio code.

Every operation is an in-memory step of microseconds, so the coroutines run it
directly instead of hopping to a thread; only file saves, loads and exports go
through ``asyncio.to_thread`` so they do not stall the event loop. Change
callbacks may be plain functions or coroutine functions (awaited after the
write). Registering callbacks and reading stats take effect at once, so those
methods work with or without ``await``.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Hashable
from types import TracebackType
from typing import Any, Generic, Literal, TypeVar

from chronomap._events import ChangeCallback, Subscription
from chronomap.map import ChronoMap, SnapshotContext

logger = logging.getLogger("chronomap")

T = TypeVar("T")


class Ready(Generic[T]):
    """A result that is already there but may also be awaited (``await cm.on_change(cb)``)."""

    __slots__ = ("value",)

    def __init__(self, value: T) -> None:
        self.value = value

    def __await__(self) -> Generator[None, None, T]:
        yield from ()
        return self.value

    def __bool__(self) -> bool:
        return bool(self.value)

    def __repr__(self) -> str:
        return f"Ready({self.value!r})"


class StatsDict(dict[str, int]):
    """``get_stats()``'s dict, also awaitable, so sync and async callers both work."""

    def __await__(self) -> Generator[None, None, dict[str, int]]:
        yield from ()
        return dict(self)


def _coroutine(name: str, in_thread: bool = False) -> Callable[..., Awaitable[Any]]:
    """An async method running ChronoMap.<name> on the wrapped map."""
    sync = getattr(ChronoMap, name)

    async def method(self: AsyncChronoMap, *args: Any, **kwargs: Any) -> Any:
        args = tuple(_unwrap(arg) for arg in args)
        kwargs = {key: _unwrap(value) for key, value in kwargs.items()}
        if in_thread:
            result = await asyncio.to_thread(sync, self._map, *args, **kwargs)
        else:
            result = sync(self._map, *args, **kwargs)
        if self._pending:
            await self._run_pending()
        return AsyncChronoMap._wrap(result) if isinstance(result, ChronoMap) else result

    method.__name__ = name
    method.__qualname__ = f"AsyncChronoMap.{name}"
    method.__doc__ = sync.__doc__
    return method


def _loader(name: str) -> Callable[..., Awaitable[AsyncChronoMap]]:
    """An async classmethod running ChronoMap.<name> (a loader) in a worker thread."""
    sync = getattr(ChronoMap, name)

    async def loader(
        cls: type[AsyncChronoMap], source: Any, *args: Any, **kwargs: Any
    ) -> AsyncChronoMap:
        return cls._wrap(await asyncio.to_thread(sync, source, *args, **kwargs))

    loader.__name__ = name
    loader.__qualname__ = f"AsyncChronoMap.{name}"
    loader.__doc__ = sync.__doc__
    return loader


def _unwrap(value: Any) -> Any:
    return value._map if isinstance(value, AsyncChronoMap) else value


class AsyncChronoMap:
    """A time-versioned map for asyncio: ``await cm.put(k, v)``, ``await cm.get(k)``, ...

    Same constructor flags and methods as ChronoMap. ``len(cm)`` and ``k in cm``
    stay synchronous; ``async for key in cm`` iterates over the keys.
    """

    __slots__ = ("_adapters", "_map", "_pending")

    def __init__(
        self, debug: bool = False, use_rwlock: bool = False, max_history: int | None = None
    ) -> None:
        self._map = ChronoMap(debug=debug, use_rwlock=use_rwlock, max_history=max_history)
        self._pending: list[Awaitable[object]] = []
        self._adapters: dict[tuple[Any, ...], tuple[ChangeCallback, ChangeCallback]] = {}

    @classmethod
    def _wrap(cls, cm: ChronoMap) -> AsyncChronoMap:
        wrapped = cls.__new__(cls)
        wrapped._map = cm
        wrapped._pending = []
        wrapped._adapters = {}
        return wrapped

    @property
    def sync(self) -> ChronoMap:
        """The underlying thread-safe ChronoMap (for code that is not async)."""
        return self._map

    @property
    def snapshot_time(self) -> float | None:
        """When this map was made by ``snapshot()``; None for other maps."""
        return self._map.snapshot_time

    put = _coroutine("put")
    put_many = _coroutine("put_many")
    delete = _coroutine("delete")
    delete_many = _coroutine("delete_many")
    clear = _coroutine("clear")
    clean_expired_keys = _coroutine("clean_expired_keys")
    get = _coroutine("get")
    history = _coroutine("history")
    get_range = _coroutine("get_range")
    latest = _coroutine("latest")
    keys = _coroutine("keys")
    values = _coroutine("values")
    items = _coroutine("items")
    get_latest_keys = _coroutine("get_latest_keys")
    get_keys_by_value = _coroutine("get_keys_by_value")
    query = _coroutine("query")
    aggregate = _coroutine("aggregate")
    count = _coroutine("count")
    prune_history = _coroutine("prune_history")
    prune_all_history = _coroutine("prune_all_history")
    snapshot = _coroutine("snapshot")
    rollback = _coroutine("rollback")
    diff = _coroutine("diff")
    diff_detailed = _coroutine("diff_detailed")
    merge = _coroutine("merge")
    reset_stats = _coroutine("reset_stats")
    to_dict = _coroutine("to_dict")
    to_dataframe = _coroutine("to_dataframe")
    save_json = _coroutine("save_json", in_thread=True)
    save_pickle = _coroutine("save_pickle", in_thread=True)
    to_csv = _coroutine("to_csv", in_thread=True)
    to_parquet = _coroutine("to_parquet", in_thread=True)
    from_dict = classmethod(_loader("from_dict"))
    load_json = classmethod(_loader("load_json"))
    load_pickle = classmethod(_loader("load_pickle"))

    async def iter_history(self, key: Hashable) -> AsyncIterator[tuple[float, Any]]:
        """``async for ts, value in cm.iter_history(key)`` over a copy of the history."""
        for version in self._map.history(key):
            yield version

    def snapshot_context(self) -> AsyncSnapshotContext:
        """``async with cm.snapshot_context(): ...`` rolls back if the block raises."""
        return AsyncSnapshotContext(self)

    def on_change(self, callback: ChangeCallback) -> Ready[None]:
        """Call ``callback(key, old, new, ts)`` (a function or coroutine function) on writes."""
        self._map.on_change(self._adapt(("*",), callback))
        return Ready(None)

    def remove_change_callback(self, callback: ChangeCallback) -> Ready[bool]:
        """Stop calling ``callback``; resolves to True if it was registered."""
        adapter = self._adapters.pop(("*", id(callback)), (None, callback))[1]
        return Ready(self._map.remove_change_callback(adapter))

    def subscribe(self, key: Hashable, callback: ChangeCallback) -> Subscription:
        """Call ``callback`` on writes of ``key``; the Subscription cancels it."""
        return self._map.subscribe(key, self._adapt(("key", key), callback))

    def unsubscribe(self, key: Hashable, callback: ChangeCallback) -> Ready[bool]:
        """Stop a ``subscribe`` callback; resolves to True if it was subscribed."""
        adapter = self._adapters.pop(("key", key, id(callback)), (None, callback))[1]
        return Ready(self._map.unsubscribe(key, adapter))

    def get_stats(self) -> StatsDict:
        """Counts of reads, writes, deletes and snapshots (awaitable or not)."""
        return StatsDict(self._map.get_stats())

    def _adapt(self, scope: tuple[Any, ...], callback: ChangeCallback) -> ChangeCallback:
        """Coroutine callbacks are queued by the write and awaited by the coroutine that wrote."""
        if not inspect.iscoroutinefunction(callback):
            return callback

        def queue(key: Any, old: Any, new: Any, ts: float) -> None:
            self._pending.append(callback(key, old, new, ts))

        self._adapters[(*scope, id(callback))] = (callback, queue)
        return queue

    async def _run_pending(self) -> None:
        pending, self._pending = self._pending, []
        for awaitable in pending:
            try:
                await awaitable
            except Exception:
                logger.exception("Error in change callback for %r", awaitable)

    def __len__(self) -> int:
        return len(self._map)

    def __contains__(self, key: object) -> bool:
        return key in self._map

    async def __aiter__(self) -> AsyncIterator[Any]:
        for key in self._map:
            yield key

    def __eq__(self, other: object) -> bool:
        if isinstance(other, AsyncChronoMap | ChronoMap):
            return self._map == _unwrap(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return "Async" + repr(self._map)


class AsyncSnapshotContext:
    """Async twin of SnapshotContext: snapshot on entry, roll back if the block raises."""

    def __init__(self, chronomap: AsyncChronoMap) -> None:
        self.chronomap = chronomap
        self._context = SnapshotContext(chronomap.sync)

    async def __aenter__(self) -> AsyncChronoMap:
        self._context.__enter__()
        return self.chronomap

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]:
        return self._context.__exit__(exc_type, exc, tb)
