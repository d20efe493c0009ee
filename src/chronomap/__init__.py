"""ChronoMap: a thread-safe, dict-like map that keeps every version of every key."""

from chronomap.errors import (
    ChronoMapError,
    ChronoMapKeyError,
    ChronoMapTypeError,
    ChronoMapValueError,
    ChronoMapWarning,
)

__all__ = [
    "ChronoMapError",
    "ChronoMapKeyError",
    "ChronoMapTypeError",
    "ChronoMapValueError",
    "ChronoMapWarning",
]
