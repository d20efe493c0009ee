"""Turn the timestamps users pass (epoch seconds, datetimes, ISO strings) into floats.

Everything inside ChronoMap is a float of seconds since the Unix epoch, so a read
at a moment is one ``bisect`` over plain floats. Naive datetimes mean UTC, so the
same wall-clock text gives the same moment on every machine.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from decimal import Decimal
from numbers import Real

from chronomap.errors import ChronoMapTypeError, ChronoMapValueError

Timestamp = float | int | str | datetime | date
"""What a ``timestamp=`` argument accepts."""

_INF = math.inf
_BIG_INT = 2**53  # larger ints take the slow path, which reports overflow


def to_epoch(value: object, what: str = "Timestamp") -> float:
    """Return ``value`` as seconds since the epoch, or raise a ChronoMap error naming it."""
    # Fast path: the common float/int needs two comparisons and no isinstance chain.
    kind = type(value)
    if kind is float:
        if 0 <= value < _INF:  # type: ignore[operator]
            return value  # type: ignore[return-value]
    elif kind is int and 0 <= value < _BIG_INT:  # type: ignore[operator]
        return float(value)  # type: ignore[arg-type]
    if isinstance(value, str):
        seconds = _parse_iso(value)
    elif isinstance(value, datetime):
        seconds = _datetime_seconds(value)
    elif isinstance(value, date):
        seconds = _datetime_seconds(datetime(value.year, value.month, value.day))
    elif isinstance(value, Real | Decimal) and not isinstance(value, bool):
        try:
            seconds = float(value)
        except OverflowError:
            raise ChronoMapValueError(f"{what} is out of range: {value!r}") from None
    else:
        raise ChronoMapTypeError(
            f"Invalid {what.lower()} type: {type(value).__name__} ({value!r}); "
            "expected epoch seconds, a datetime or an ISO-8601 string"
        )
    if not math.isfinite(seconds):
        raise ChronoMapValueError(f"{what} must be finite, got {value!r}")
    if seconds < 0:
        raise ChronoMapValueError(f"{what} must not be negative, got {value!r}")
    return seconds


def to_duration(value: object, what: str = "TTL") -> float:
    """Return a positive, finite number of seconds (a TTL), or raise naming ``what``."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ChronoMapTypeError(f"{what} must be a number of seconds, got {value!r}")
    seconds = float(value)
    if not math.isfinite(seconds) or seconds <= 0:
        raise ChronoMapValueError(f"{what} must be positive (seconds), got {value!r}")
    return seconds


def to_datetime(seconds: float) -> datetime:
    """Return the naive UTC datetime for epoch ``seconds`` (how exports show time)."""
    return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)


def _parse_iso(text: str) -> float:
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ChronoMapValueError(f"Invalid datetime string: {text!r} (want ISO-8601)") from None
    return _datetime_seconds(parsed)


def _datetime_seconds(value: datetime) -> float:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()
