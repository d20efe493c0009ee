"""ChronoMap: a thread-safe, dict-like map that keeps every version of every key."""

from chronomap._events import Subscription
from chronomap._locks import RWLock
from chronomap.async_map import AsyncChronoMap, AsyncSnapshotContext
from chronomap.errors import (
    ChronoMapError,
    ChronoMapKeyError,
    ChronoMapTypeError,
    ChronoMapValueError,
    ChronoMapWarning,
)
from chronomap.map import ChronoMap, SnapshotContext

__all__ = [
    "AsyncChronoMap",
    "AsyncSnapshotContext",
    "ChronoMap",
    "ChronoMapError",
    "ChronoMapKeyError",
    "ChronoMapTypeError",
    "ChronoMapValueError",
    "ChronoMapWarning",
    "RWLock",
    "SnapshotContext",
    "Subscription",
]
