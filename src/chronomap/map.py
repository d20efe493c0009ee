"""ChronoMap: a thread-safe dict that keeps every version of every key.

Per key, two parallel lists hold the versions: timestamps (sorted ascending)
and values. The newest value is ``values[-1]`` (O(1)); a read as of a moment is
one ``bisect`` over the timestamps (O(log versions)); a write at or after the
newest timestamp is an append (O(1)). A key with a TTL expires lazily: reads
treat it as absent and the next write or ``clean_expired_keys()`` drops it.
"""

from __future__ import annotations

import heapq
import logging
import time
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from copy import deepcopy
from operator import itemgetter
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from chronomap import export, persistence
from chronomap._events import ChangeCallback, ChangeHub, Subscription
from chronomap._locks import make_locks
from chronomap._timestamps import Timestamp, to_duration, to_epoch
from chronomap.errors import ChronoMapKeyError, ChronoMapTypeError, ChronoMapValueError

if TYPE_CHECKING:
    import pandas

logger = logging.getLogger("chronomap")

_time = time.time
_MISSING: Any = object()
_by_timestamp = itemgetter(1)

MergeStrategy = Literal["timestamp", "overwrite"]
State = tuple[dict[Any, list[float]], dict[Any, list[Any]], dict[Any, float]]
"""(timestamps per key, values per key, expiry per key): a copy of a map's contents."""


class ChronoMap:
    """A thread-safe, time-versioned key-value map.

    ``debug`` logs every operation on the ``chronomap`` logger; ``use_rwlock``
    swaps the single RLock for a readers-writer lock; ``max_history`` keeps at
    most that many versions per key, dropping the oldest on write.
    """

    __slots__ = (
        "_debug",
        "_deletes",
        "_events",
        "_expiry",
        "_last_now",
        "_max_history",
        "_read_lock",
        "_reads",
        "_rwlock",
        "_snapshot_time",
        "_snapshots",
        "_ts",
        "_vals",
        "_write_lock",
        "_writes",
    )

    def __init__(
        self, debug: bool = False, use_rwlock: bool = False, max_history: int | None = None
    ) -> None:
        if max_history is not None:
            _check_count(max_history, "max_history")
        self._ts: dict[Any, list[float]] = {}
        self._vals: dict[Any, list[Any]] = {}
        self._expiry: dict[Any, float] = {}
        self._read_lock, self._write_lock, self._rwlock = make_locks(use_rwlock)
        self._max_history = max_history
        self._events = ChangeHub()
        self._debug = debug
        self._snapshot_time: float | None = None
        self._last_now = 0.0
        self._reads = self._writes = self._deletes = self._snapshots = 0
        if debug:
            _enable_debug_logging()

    # ------------------------------------------------------------------ writes

    def put(
        self,
        key: Hashable,
        value: Any,
        timestamp: Timestamp | None = None,
        ttl: float | None = None,
    ) -> None:
        """Store ``value`` as a new version of ``key`` at ``timestamp`` (default: now).

        ``ttl`` (seconds from now) makes the whole key expire. Default timestamps
        never go backwards within one map, even if the system clock does.
        """
        ts = None if timestamp is None else to_epoch(timestamp)
        expiry = None if ttl is None else _time() + to_duration(ttl)
        _check_key(key)
        with self._write_lock:
            if ts is None:
                ts = self._now()
            old = self._insert(key, ts, value, expiry)
            self._writes += 1
        if self._debug:
            logger.debug("PUT %r = %r at %f (ttl=%s)", key, value, ts, ttl)
        if self._events.active:
            self._events.emit(key, old, value, ts)

    def put_many(
        self,
        items: Mapping[Any, Any] | Iterable[tuple[Any, Any]],
        timestamp: Timestamp | None = None,
        ttl: float | None = None,
    ) -> None:
        """Store several keys at one timestamp, atomically (other threads see all or none)."""
        pairs = list(items.items() if isinstance(items, Mapping) else items)
        ts = None if timestamp is None else to_epoch(timestamp)
        expiry = None if ttl is None else _time() + to_duration(ttl)
        for key, _ in pairs:
            _check_key(key)
        with self._write_lock:
            if ts is None:
                ts = self._now()
            changes = [(key, self._insert(key, ts, value, expiry), value) for key, value in pairs]
            self._writes += len(pairs)
        if self._debug:
            logger.debug("PUT_MANY %d items at %f", len(pairs), ts)
        if self._events.active:
            for key, old, value in changes:
                self._events.emit(key, old, value, ts)

    def delete(self, key: Hashable) -> bool:
        """Remove ``key`` and its whole history; True if it existed."""
        _check_key(key)
        with self._write_lock:
            existed = self._drop(key)
            if existed:
                self._deletes += 1
        if self._debug:
            logger.debug("DELETE %r -> %s", key, existed)
        return existed

    def delete_many(self, keys: Iterable[Hashable]) -> int:
        """Remove several keys atomically; return how many existed."""
        keys = list(keys)
        for key in keys:
            _check_key(key)
        with self._write_lock:
            removed = sum(self._drop(key) for key in keys)
            self._deletes += removed
        if self._debug:
            logger.debug("DELETE_MANY %d/%d keys", removed, len(keys))
        return removed

    def clear(self) -> None:
        """Remove every key and all history."""
        with self._write_lock:
            self._ts.clear()
            self._vals.clear()
            self._expiry.clear()

    def clean_expired_keys(self) -> int:
        """Drop every key whose TTL has passed; return how many."""
        with self._write_lock:
            now = _time()
            expired = [key for key, deadline in self._expiry.items() if deadline <= now]
            for key in expired:
                self._drop(key)
        if self._debug:
            logger.debug("CLEAN_EXPIRED removed %d keys", len(expired))
        return len(expired)

    # ------------------------------------------------------------------- reads

    def get(
        self,
        key: Hashable,
        timestamp: Timestamp | None = None,
        default: Any = None,
        *,
        strict: bool = False,
    ) -> Any:
        """Return the newest value of ``key``, or its value as of ``timestamp``.

        A missing, expired or not-yet-written key gives ``default``, or raises
        ChronoMapKeyError when ``strict`` is true.
        """
        at = None if timestamp is None else to_epoch(timestamp)
        expired = False
        with self._read_lock:
            self._reads += 1
            try:
                vals = self._vals.get(key)
            except TypeError:
                raise _unhashable(key) from None
            if vals is not None:
                expiry = self._expiry
                if not expiry or key not in expiry or expiry[key] > _time():
                    if at is None:
                        return vals[-1]
                    index = bisect_right(self._ts[key], at)
                    if index:
                        return vals[index - 1]
                else:
                    expired = True
        if expired:
            self._drop_if_expired(key)
        if strict:
            raise ChronoMapKeyError(key)
        return default

    def history(self, key: Hashable) -> list[tuple[float, Any]]:
        """Every version of ``key`` as (timestamp, value), oldest first."""
        with self._read_lock:
            try:
                stamps = self._ts.get(key)
            except TypeError:
                raise _unhashable(key) from None
            if stamps is None or (self._expiry and not self._alive(key, _time())):
                return []
            # The two lists always have the same length; strict checking would only cost.
            return list(zip(stamps, self._vals[key], strict=False))

    def iter_history(self, key: Hashable) -> Iterator[tuple[float, Any]]:
        """Iterate over a copy of ``key``'s history, so writes during iteration are safe."""
        return iter(self.history(key))

    def get_range(
        self,
        key: Hashable,
        start_ts: Timestamp | None = None,
        end_ts: Timestamp | None = None,
    ) -> list[tuple[float, Any]]:
        """The versions of ``key`` with ``start_ts <= timestamp <= end_ts`` (both optional)."""
        start = None if start_ts is None else to_epoch(start_ts, "start_ts")
        end = None if end_ts is None else to_epoch(end_ts, "end_ts")
        _check_key(key)
        with self._read_lock:
            if not self._alive(key, _time()):
                return []
            stamps = self._ts[key]
            lo = 0 if start is None else bisect_left(stamps, start)
            hi = len(stamps) if end is None else bisect_right(stamps, end)
            return list(zip(stamps[lo:hi], self._vals[key][lo:hi], strict=True))

    def latest(self) -> dict[Any, Any]:
        """Every live key with its newest value."""
        with self._read_lock:
            return {key: self._vals[key][-1] for key in self._live_keys()}

    def keys(self) -> list[Any]:
        """The live keys, in first-write order."""
        with self._read_lock:
            return self._live_keys()

    def values(self) -> list[Any]:
        """The newest value of every live key."""
        return list(self.latest().values())

    def items(self) -> list[tuple[Any, Any]]:
        """(key, newest value) for every live key."""
        return list(self.latest().items())

    def get_latest_keys(self, n: int) -> list[tuple[Any, float, Any]]:
        """The ``n`` most recently updated keys as (key, timestamp, value), newest first."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ChronoMapValueError(f"n must be a non-negative integer, got {n!r}")
        with self._read_lock:
            rows = [(key, self._ts[key][-1], self._vals[key][-1]) for key in self._live_keys()]
        return heapq.nlargest(n, rows, key=_by_timestamp)

    def get_keys_by_value(self, value: Any, timestamp: Timestamp | None = None) -> list[Any]:
        """The keys whose value (newest, or as of ``timestamp``) equals ``value``."""
        return [key for key, current in self._view(timestamp) if current == value]

    def query(
        self, predicate: Callable[[Any, Any], bool], timestamp: Timestamp | None = None
    ) -> dict[Any, Any]:
        """``{key: value}`` for the keys where ``predicate(key, value)`` is true."""
        return {key: value for key, value in self._view(timestamp) if predicate(key, value)}

    def aggregate(
        self,
        func: Callable[[list[Any]], Any],
        keys: Iterable[Hashable] | None = None,
        timestamp: Timestamp | None = None,
    ) -> Any:
        """``func(values)`` over the non-None values of ``keys`` (default: all); None if none."""
        view = self._view(timestamp, None if keys is None else list(keys))
        values = [value for _, value in view if value is not None]
        return func(values) if values else None

    def count(
        self,
        predicate: Callable[[Any, Any], bool] | None = None,
        timestamp: Timestamp | None = None,
    ) -> int:
        """How many keys exist (as of ``timestamp``) and satisfy ``predicate``, if given."""
        view = self._view(timestamp)
        if predicate is None:
            return len(view)
        return sum(1 for key, value in view if predicate(key, value))

    # --------------------------------------------------------------- history

    def prune_history(
        self,
        key: Hashable,
        keep_last: int | None = None,
        older_than: Timestamp | None = None,
    ) -> int:
        """Drop old versions of ``key``; return how many. The newest version always stays."""
        cutoff = self._prune_args(keep_last, older_than)
        _check_key(key)
        with self._write_lock:
            removed = self._prune(key, keep_last, cutoff)
        if self._debug:
            logger.debug("PRUNE %r removed %d versions", key, removed)
        return removed

    def prune_all_history(
        self, keep_last: int | None = None, older_than: Timestamp | None = None
    ) -> int:
        """``prune_history`` for every key, atomically; return the total removed."""
        cutoff = self._prune_args(keep_last, older_than)
        with self._write_lock:
            return sum(self._prune(key, keep_last, cutoff) for key in self._ts)

    # ------------------------------------------------- snapshots, diff, merge

    def snapshot(self) -> ChronoMap:
        """An independent deep copy of the map (history and TTLs included)."""
        copy = self._empty_like()
        copy._install(self._state(deep=True))
        copy._snapshot_time = _time()
        with self._write_lock:
            self._snapshots += 1
        return copy

    @property
    def snapshot_time(self) -> float | None:
        """When this map was made by ``snapshot()``; None for other maps."""
        return self._snapshot_time

    def rollback(self, snapshot: ChronoMap) -> None:
        """Replace this map's contents with a copy of ``snapshot``'s."""
        if not isinstance(snapshot, ChronoMap):
            raise ChronoMapTypeError(
                f"Expected ChronoMap instance for rollback, got {type(snapshot).__name__}"
            )
        self._install(snapshot._state(deep=True))
        if self._debug:
            logger.debug("ROLLBACK to snapshot taken at %s", snapshot._snapshot_time)

    def snapshot_context(self) -> SnapshotContext:
        """``with cm.snapshot_context(): ...`` rolls back if the block raises."""
        return SnapshotContext(self)

    def diff(self, other: ChronoMap) -> set[Any]:
        """The keys whose newest value differs from ``other``'s (including keys only one has)."""
        return {key for key, _, _ in self._differences(other)}

    def diff_detailed(self, other: ChronoMap) -> list[tuple[Any, Any, Any]]:
        """``(key, other's value, this map's value)`` for every differing key; None if absent."""
        return [
            (key, None if theirs is _MISSING else theirs, None if ours is _MISSING else ours)
            for key, theirs, ours in self._differences(other)
        ]

    def merge(self, other: ChronoMap, strategy: MergeStrategy = "timestamp") -> None:
        """Merge ``other`` into this map.

        ``'timestamp'`` interleaves both histories by timestamp (the newest wins);
        ``'overwrite'`` replaces the history of every key ``other`` has.
        """
        if not isinstance(other, ChronoMap):
            raise ChronoMapTypeError(
                f"Expected ChronoMap instance for merge, got {type(other).__name__}"
            )
        if strategy not in ("timestamp", "overwrite"):
            raise ChronoMapValueError(
                f"Invalid merge strategy: {strategy!r} (use 'timestamp' or 'overwrite')"
            )
        their_ts, their_vals, their_expiry = other._state(deep=other is not self)
        changes = []
        with self._write_lock:
            now = _time()
            for key, stamps in their_ts.items():
                old = self._vals[key][-1] if self._alive(key, now) else _MISSING
                if old is _MISSING:
                    self._drop(key)
                if strategy == "overwrite":
                    added = self._replace_history(key, stamps, their_vals[key], their_expiry)
                else:
                    added = self._merge_history(key, stamps, their_vals[key], their_expiry)
                self._writes += added
                new = self._vals[key][-1]
                if old is _MISSING or new is not old:
                    changes.append((key, None if old is _MISSING else old, new, self._ts[key][-1]))
        if self._debug:
            logger.debug("MERGE %d keys with strategy=%s", len(their_ts), strategy)
        if self._events.active:
            for change in changes:
                self._events.emit(*change)

    # ---------------------------------------------------------------- events

    def on_change(self, callback: ChangeCallback) -> None:
        """Call ``callback(key, old, new, timestamp)`` after every write of any key."""
        self._events.add(callback)

    def remove_change_callback(self, callback: ChangeCallback) -> bool:
        """Stop calling ``callback``; True if it was registered."""
        return self._events.remove(callback)

    def subscribe(self, key: Hashable, callback: ChangeCallback) -> Subscription:
        """Call ``callback(key, old, new, timestamp)`` after every write of ``key``.

        Returns a Subscription: call it (or ``unsubscribe(key, callback)``) to stop.
        """
        _check_key(key)
        return self._events.subscribe(key, callback)

    def unsubscribe(self, key: Hashable, callback: ChangeCallback) -> bool:
        """Stop a ``subscribe`` callback; True if it was subscribed."""
        return self._events.unsubscribe(key, callback)

    # ----------------------------------------------------------------- stats

    def get_stats(self) -> dict[str, int]:
        """Counts of ``reads`` (get calls), ``writes`` (versions), ``deletes``, ``snapshots``.

        With ``use_rwlock=True`` readers share the lock, so concurrent reads may
        undercount ``reads`` slightly; every other counter is exact.
        """
        return {
            "reads": self._reads,
            "writes": self._writes,
            "deletes": self._deletes,
            "snapshots": self._snapshots,
        }

    def reset_stats(self) -> None:
        """Set every counter of ``get_stats()`` back to zero."""
        with self._write_lock:
            self._reads = self._writes = self._deletes = self._snapshots = 0

    # ------------------------------------------------- persistence and export

    def to_dict(self, compress: bool = False) -> dict[str, Any] | bytes:
        """The whole map as a plain dict, or as zlib-compressed pickle bytes."""
        return persistence.to_dict(self._state(deep=not compress), compress=compress)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | bytes, **options: Any) -> ChronoMap:
        """Rebuild a map from ``to_dict()`` output (dict or compressed bytes).

        ``options`` are constructor flags (``debug``, ``use_rwlock``, ``max_history``).
        """
        return cls._restored(persistence.from_dict(data), options)

    def save_json(self, file_path: str | Path) -> None:
        """Write the map to a JSON file, atomically (a failed save leaves the old file)."""
        persistence.save_json(self._state(), file_path)

    @classmethod
    def load_json(cls, file_path: str | Path, **options: Any) -> ChronoMap:
        """Read a map written by ``save_json`` (or by chronomap 2.x); ``options`` as from_dict."""
        return cls._restored(persistence.load_json(file_path), options)

    def save_pickle(self, file_path: str | Path, compress: bool = False) -> None:
        """Write the map to a pickle file (zlib-compressed if asked), atomically."""
        persistence.save_pickle(self._state(), file_path, compress=compress)

    @classmethod
    def load_pickle(cls, file_path: str | Path, **options: Any) -> ChronoMap:
        """Read a ``save_pickle`` file, compressed or not (detected). Trusted files only."""
        return cls._restored(persistence.load_pickle(file_path), options)

    def to_dataframe(self) -> pandas.DataFrame:
        """Full history as a DataFrame: key, value, timestamp, datetime (UTC), version."""
        return export.to_dataframe(self._state())

    def to_csv(self, file_path: str | Path) -> None:
        """Write the full history to a CSV file (same columns as ``to_dataframe``)."""
        export.to_csv(self._state(), file_path)

    def to_parquet(self, file_path: str | Path) -> None:
        """Write the full history to a Parquet file (needs the ``parquet`` extra)."""
        export.to_parquet(self._state(), file_path)

    # ------------------------------------------------------- dict behaviour

    def __getitem__(self, key: Hashable) -> Any:
        return self.get(key, strict=True)

    def __setitem__(self, key: Hashable, value: Any) -> None:
        self.put(key, value)

    def __delitem__(self, key: Hashable) -> None:
        if not self.delete(key):
            raise ChronoMapKeyError(key)

    def __contains__(self, key: object) -> bool:
        try:
            with self._read_lock:
                return self._alive(key, _time())
        except TypeError:
            return False

    def __len__(self) -> int:
        with self._read_lock:
            if not self._expiry:
                return len(self._ts)
            return len(self._live_keys())

    def __iter__(self) -> Iterator[Any]:
        return iter(self.keys())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ChronoMap):
            return NotImplemented
        return self.latest() == other.latest()

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, ...]:
        # Locks and callbacks do not pickle; the contents and flags do.
        options = {
            "debug": self._debug,
            "use_rwlock": self._rwlock is not None,
            "max_history": self._max_history,
        }
        return (_restore, (type(self), self.to_dict(), options))

    def __repr__(self) -> str:
        keys = self.keys()
        more = "..." if len(keys) > 10 else ""
        return f"{type(self).__name__}(keys={keys[:10]!r}{more})"

    # ---------------------------------------------------------------- inside

    def _now(self) -> float:
        """Now, never earlier than the previous implicit timestamp (the clock may step back)."""
        now = _time()
        if now < self._last_now:
            return self._last_now
        self._last_now = now
        return now

    def _insert(self, key: Any, ts: float, value: Any, expiry: float | None) -> Any:
        """Add one version (caller holds the write lock); return the previous newest value."""
        if self._expiry and key in self._expiry and self._expiry[key] <= _time():
            self._drop(key)
        stamps = self._ts.get(key)
        if stamps is None:
            self._ts[key] = [ts]
            self._vals[key] = [value]
            old = None
        else:
            vals = self._vals[key]
            old = vals[-1]
            if ts >= stamps[-1]:
                stamps.append(ts)
                vals.append(value)
            else:
                index = bisect_right(stamps, ts)
                stamps.insert(index, ts)
                vals.insert(index, value)
            if self._max_history is not None and len(stamps) > self._max_history:
                self._prune(key, self._max_history, None)
        if expiry is not None:
            self._expiry[key] = expiry
        return old

    def _drop(self, key: Any) -> bool:
        """Forget ``key`` entirely (caller holds the write lock); True if it was live."""
        stamps = self._ts.pop(key, None)
        if stamps is None:
            return False
        del self._vals[key]
        deadline = self._expiry.pop(key, None)
        return deadline is None or deadline > _time()

    def _drop_if_expired(self, key: Any) -> None:
        """Lazy expiry: a read that finds ``key`` expired frees it (under the write lock)."""
        with self._write_lock:
            deadline = self._expiry.get(key)
            if deadline is not None and deadline <= _time():
                self._drop(key)
                if self._debug:
                    logger.debug("EXPIRED %r", key)

    def _alive(self, key: Any, now: float) -> bool:
        """Whether ``key`` exists and has not expired (caller holds a lock)."""
        if key not in self._ts:
            return False
        deadline = self._expiry.get(key)
        return deadline is None or deadline > now

    def _live_keys(self) -> list[Any]:
        """The keys that have not expired (caller holds a lock)."""
        if not self._expiry:
            return list(self._ts)
        now = _time()
        return [key for key in self._ts if self._alive(key, now)]

    def _view(
        self, timestamp: Timestamp | None, keys: list[Any] | None = None
    ) -> list[tuple[Any, Any]]:
        """(key, value) pairs as of ``timestamp`` (default: newest), for predicates to read
        after the lock is released."""
        at = None if timestamp is None else to_epoch(timestamp)
        with self._read_lock:
            now = _time()
            pairs = []
            for key in self._live_keys() if keys is None else keys:
                if not self._alive(key, now):
                    continue
                if at is None:
                    pairs.append((key, self._vals[key][-1]))
                else:
                    index = bisect_right(self._ts[key], at)
                    if index:
                        pairs.append((key, self._vals[key][index - 1]))
            return pairs

    def _differences(self, other: ChronoMap) -> list[tuple[Any, Any, Any]]:
        """(key, other's newest or _MISSING, ours or _MISSING) for the keys that differ."""
        if not isinstance(other, ChronoMap):
            raise ChronoMapTypeError(
                f"Expected ChronoMap instance for diff, got {type(other).__name__}"
            )
        ours, theirs = self.latest(), other.latest()
        keys = list(ours) + [key for key in theirs if key not in ours]
        rows = [(key, theirs.get(key, _MISSING), ours.get(key, _MISSING)) for key in keys]
        return [(key, their, our) for key, their, our in rows if their != our]

    def _prune_args(self, keep_last: int | None, older_than: Timestamp | None) -> float | None:
        """Check prune arguments; return the ``older_than`` cutoff in epoch seconds."""
        if keep_last is not None:
            _check_count(keep_last, "keep_last")
        return None if older_than is None else to_epoch(older_than, "older_than")

    def _prune(self, key: Any, keep_last: int | None, cutoff: float | None) -> int:
        """Drop old versions of one key (caller holds the write lock); return how many."""
        stamps = self._ts.get(key)
        if stamps is None:
            return 0
        drop = 0 if keep_last is None else max(0, len(stamps) - keep_last)
        if cutoff is not None:
            drop = max(drop, min(bisect_left(stamps, cutoff), len(stamps) - 1))
        if drop:
            del stamps[:drop]
            del self._vals[key][:drop]
        return drop

    def _replace_history(
        self, key: Any, stamps: list[float], vals: list[Any], expiry: dict[Any, float]
    ) -> int:
        """'overwrite' merge of one key (write lock held); return versions written."""
        self._ts[key] = stamps
        self._vals[key] = vals
        self._expiry.pop(key, None)
        if key in expiry:
            self._expiry[key] = expiry[key]
        if self._max_history is not None:
            self._prune(key, self._max_history, None)
        return len(stamps)

    def _merge_history(
        self, key: Any, stamps: list[float], vals: list[Any], expiry: dict[Any, float]
    ) -> int:
        """'timestamp' merge of one key (write lock held); return versions added.

        A version already present (same timestamp, equal value) is not added twice.
        """
        if key not in self._ts:
            return self._replace_history(key, stamps, vals, expiry)
        ours_ts, ours_vals = self._ts[key], self._vals[key]
        added = 0
        for ts, value in zip(stamps, vals, strict=True):
            lo, hi = bisect_left(ours_ts, ts), bisect_right(ours_ts, ts)
            if any(ours_vals[i] == value for i in range(lo, hi)):
                continue
            ours_ts.insert(hi, ts)
            ours_vals.insert(hi, value)
            added += 1
        if key in expiry and expiry[key] > self._expiry.get(key, 0.0):
            self._expiry[key] = expiry[key]
        if self._max_history is not None:
            self._prune(key, self._max_history, None)
        return added

    def _state(self, deep: bool = False) -> State:
        """A copy of the live contents; ``deep`` also copies the values themselves."""
        with self._read_lock:
            keys = self._live_keys()
            stamps = {key: self._ts[key].copy() for key in keys}
            vals = {key: self._vals[key].copy() for key in keys}
            expiry = {key: self._expiry[key] for key in keys if key in self._expiry}
        # Deep-copying user values can be slow; our lists are already private copies.
        return stamps, deepcopy(vals) if deep else vals, expiry

    def _install(self, state: State) -> None:
        """Replace the contents with ``state`` (which the map then owns)."""
        stamps, vals, expiry = state
        with self._write_lock:
            self._ts, self._vals, self._expiry = stamps, vals, expiry
            if self._max_history is not None:
                for key in self._ts:
                    self._prune(key, self._max_history, None)

    @classmethod
    def _restored(cls, state: State, options: dict[str, Any]) -> ChronoMap:
        """A new map (built with constructor ``options``) holding ``state``."""
        cm = cls(**options)
        cm._install(state)
        return cm

    def _empty_like(self) -> ChronoMap:
        return type(self)(
            debug=self._debug, use_rwlock=self._rwlock is not None, max_history=self._max_history
        )


class SnapshotContext:
    """Snapshot on entry; roll back if the block raises (the exception still propagates)."""

    def __init__(self, chronomap: ChronoMap) -> None:
        self.chronomap = chronomap
        self.snapshot: ChronoMap | None = None

    def __enter__(self) -> ChronoMap:
        self.snapshot = self.chronomap.snapshot()
        return self.chronomap

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]:
        if exc_type is not None and self.snapshot is not None:
            self.chronomap.rollback(self.snapshot)
        return False


def _restore(cls: type[ChronoMap], data: dict[str, Any], options: dict[str, Any]) -> ChronoMap:
    """Unpickling (and ``copy.copy``/``deepcopy``) of a ChronoMap."""
    return cls.from_dict(data, **options)


def _check_key(key: object) -> None:
    try:
        hash(key)
    except TypeError:
        raise _unhashable(key) from None


def _unhashable(key: object) -> ChronoMapTypeError:
    return ChronoMapTypeError(f"Key must be hashable, got {type(key).__name__}: {key!r}")


def _check_count(value: object, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ChronoMapValueError(f"{name} must be a positive integer, got {value!r}")


def _enable_debug_logging() -> None:
    """Make ``debug=True`` visible without logging setup, as chronomap 2.x did."""
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("[ChronoMap] %(levelname)s: %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
