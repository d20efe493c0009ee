"""Timestamp parsing: epoch numbers, datetimes (naive = UTC), ISO-8601 strings."""

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from fractions import Fraction

import pytest

from chronomap import ChronoMapTypeError, ChronoMapValueError
from chronomap._timestamps import to_datetime, to_duration, to_epoch


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, 0.0),
        (100, 100.0),
        (1.5, 1.5),
        (Fraction(3, 2), 1.5),
        (Decimal("2.25"), 2.25),
        (datetime(1970, 1, 1, 0, 1, 40), 100.0),
        (datetime(1970, 1, 1, 1, 1, 40, tzinfo=timezone(timedelta(hours=1))), 100.0),
        (datetime(2025, 10, 21, 12, tzinfo=UTC), 1761048000.0),
        (date(1970, 1, 2), 86400.0),
        ("2025-10-21T12:00:00", 1761048000.0),
        ("2025-10-21 12:00:00", 1761048000.0),
        ("2025-10-21T12:00:00Z", 1761048000.0),
        ("2025-10-21T14:00:00+02:00", 1761048000.0),
        ("2025-01-01", 1735689600.0),
        ("  2025-01-01  ", 1735689600.0),
    ],
)
def test_accepted_forms(value: object, expected: float) -> None:
    assert to_epoch(value) == expected


@pytest.mark.parametrize("text", ["not a number", "", "2025-13-01", "yesterday", "12:00"])
def test_unparseable_strings(text: str) -> None:
    with pytest.raises(ChronoMapValueError, match=r"^Invalid datetime string"):
        to_epoch(text)


@pytest.mark.parametrize("value", [1 + 2j, None, [100], b"100", True, object()])
def test_wrong_types(value: object) -> None:
    with pytest.raises(ChronoMapTypeError, match="Invalid timestamp type"):
        to_epoch(value)


@pytest.mark.parametrize(
    "value", [-1, -0.5, float("inf"), float("-inf"), float("nan"), "1969-12-31T00:00:00", 10**400]
)
def test_out_of_range(value: object) -> None:
    with pytest.raises(ChronoMapValueError):
        to_epoch(value)


def test_error_names_the_argument() -> None:
    with pytest.raises(ChronoMapValueError, match="older_than"):
        to_epoch(-5, "older_than")


@pytest.mark.parametrize("value", [0.001, 1, 3600.5])
def test_durations(value: float) -> None:
    assert to_duration(value) == float(value)


@pytest.mark.parametrize("value", [0, -1, float("nan"), float("inf")])
def test_bad_durations(value: float) -> None:
    with pytest.raises(ChronoMapValueError, match="TTL"):
        to_duration(value)


@pytest.mark.parametrize("value", ["10", None, True])
def test_duration_types(value: object) -> None:
    with pytest.raises(ChronoMapTypeError, match="TTL"):
        to_duration(value)


def test_to_datetime_is_naive_utc() -> None:
    assert to_datetime(100.0) == datetime(1970, 1, 1, 0, 1, 40)
