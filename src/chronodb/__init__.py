"""ChronoDB: SQLite where every table keeps its history, queryable AS OF any point in time."""

from chronodb.database import ChronoDB
from chronodb.errors import (
    ChronoDBError,
    ChronoDBWarning,
    ConfigError,
    IntegrityError,
    ReadOnlyError,
    SchemaError,
    SQLError,
    SQLSyntaxError,
    TemporalError,
    TimestampError,
    TransactionError,
)
from chronodb.result import Result

__version__ = "0.1.0"

__all__ = [
    "ChronoDB",
    "ChronoDBError",
    "ChronoDBWarning",
    "ConfigError",
    "IntegrityError",
    "ReadOnlyError",
    "Result",
    "SQLError",
    "SQLSyntaxError",
    "SchemaError",
    "TemporalError",
    "TimestampError",
    "TransactionError",
]
