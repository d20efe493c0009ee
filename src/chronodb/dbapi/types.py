"""PEP 249's type constructors and type objects.

Values go to SQLite as sqlite3 binds them (its default adapters), so the constructors are
the standard library's types. SQLite has no declared result types for expressions, so the
type objects compare equal to the affinity names a description could carry.
"""

from __future__ import annotations

import datetime
import time

Date = datetime.date
Time = datetime.time
Timestamp = datetime.datetime
Binary = memoryview


def DateFromTicks(ticks: float) -> datetime.date:
    """The local date ``ticks`` seconds after the epoch."""
    return Date(*time.localtime(ticks)[:3])


def TimeFromTicks(ticks: float) -> datetime.time:
    """The local time of day ``ticks`` seconds after the epoch."""
    return Time(*time.localtime(ticks)[3:6])


def TimestampFromTicks(ticks: float) -> datetime.datetime:
    """The local date and time ``ticks`` seconds after the epoch."""
    return Timestamp(*time.localtime(ticks)[:6])


class DBAPITypeObject:
    """A PEP 249 type object: equal to each of the type names it stands for."""

    def __init__(self, *names: str) -> None:
        self.names = frozenset(names)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            return other.upper() in self.names
        if isinstance(other, DBAPITypeObject):
            return self.names == other.names
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.names)

    def __repr__(self) -> str:
        return f"DBAPITypeObject{tuple(sorted(self.names))!r}"


STRING = DBAPITypeObject("TEXT", "CHAR", "VARCHAR", "CLOB", "STRING")
BINARY = DBAPITypeObject("BLOB", "BINARY", "VARBINARY")
NUMBER = DBAPITypeObject("INTEGER", "INT", "REAL", "FLOAT", "DOUBLE", "NUMERIC", "DECIMAL")
DATETIME = DBAPITypeObject("DATE", "TIME", "TIMESTAMP", "DATETIME")
ROWID = DBAPITypeObject("ROWID", "INTEGER")


__all__ = [
    "BINARY",
    "DATETIME",
    "NUMBER",
    "ROWID",
    "STRING",
    "Binary",
    "DBAPITypeObject",
    "Date",
    "DateFromTicks",
    "Time",
    "TimeFromTicks",
    "Timestamp",
    "TimestampFromTicks",
]
