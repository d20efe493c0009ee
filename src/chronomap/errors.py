"""ChronoMap's errors, one tree under ChronoMapError.

ChronoMapError
├── ChronoMapKeyError     (also a KeyError)
├── ChronoMapTypeError    (also a TypeError)
└── ChronoMapValueError   (also a ValueError)

ChronoMapWarning          (a UserWarning)
"""

from __future__ import annotations


class ChronoMapError(Exception):
    """Root of every error ChronoMap raises."""


class ChronoMapKeyError(ChronoMapError, KeyError):
    """A key is missing where one is required."""


class ChronoMapTypeError(ChronoMapError, TypeError):
    """A value of the wrong type: an unhashable key, a bad timestamp type."""


class ChronoMapValueError(ChronoMapError, ValueError):
    """A value of the right type but out of range or unparseable."""


class ChronoMapWarning(UserWarning):
    """Something worked but deserves attention."""
