"""Points in time: epoch seconds, ISO-8601 strings and datetimes, as integer microseconds.

System time is stored as integer microseconds since the epoch so that comparisons are
exact; users speak in float seconds, ``datetime`` or ISO strings (naive means UTC).
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime

from chronodb.errors import TimestampError

_US = 1_000_000


MAX_EPOCH = 2**62 // 1_000_000  # seconds (year 148,000): microseconds still fit SQLite


def _check_epoch(seconds: float) -> None:
    if seconds > MAX_EPOCH:
        raise TimestampError(
            f"Invalid timestamp {seconds!r}: too far in the future (it looks like "
            "microseconds or nanoseconds: numbers are seconds since the epoch)",
            value=seconds,
        )


def to_micros(value: object) -> int:
    """Convert a user's point in time to integer microseconds since the epoch."""
    if isinstance(value, bool):
        raise TimestampError(
            f"Invalid timestamp {value!r}: expected a number, string or datetime", value=value
        )
    if isinstance(value, int):
        if value < 0:
            raise TimestampError(f"Invalid timestamp {value!r}: negative", value=value)
        _check_epoch(value)
        return value * _US
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value) or value < 0:
            raise TimestampError(f"Invalid timestamp {value!r}", value=value)
        _check_epoch(value)
        return round(value * _US)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        delta = value - datetime(1970, 1, 1, tzinfo=UTC)
        return (delta.days * 86400 + delta.seconds) * _US + delta.microseconds
    if isinstance(value, date):
        return to_micros(datetime(value.year, value.month, value.day))
    if isinstance(value, str):
        text = value.strip()
        try:
            return to_micros(float(text))
        except ValueError:
            pass
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise TimestampError(
                f"Invalid timestamp {value!r}: expected epoch seconds or an ISO-8601 string "
                "such as '2025-10-21T12:00:00'",
                value=value,
            ) from None
        return to_micros(parsed)
    raise TimestampError(
        f"Invalid timestamp {value!r} of type {type(value).__name__}: expected a number, "
        "an ISO-8601 string or a datetime",
        value=value,
    )


def from_micros(us: int) -> float:
    """Microseconds to float epoch seconds, the form results carry."""
    return us / _US


def iso(us: int) -> str:
    """Microseconds to an ISO-8601 UTC string, for display."""
    return datetime.fromtimestamp(us / _US, UTC).isoformat()
