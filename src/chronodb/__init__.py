"""ChronoDB: SQLite where every table keeps its history, queryable AS OF any point in time."""

from chronodb.database import ChronoDB
from chronodb.errors import (
    ArgumentError,
    AuditError,
    ChronoDBError,
    ChronoDBWarning,
    ClosedError,
    ConfigError,
    CorruptDatabaseError,
    IntegrityError,
    NotADatabaseError,
    ReadOnlyError,
    SchemaError,
    SQLError,
    SQLSyntaxError,
    StorageError,
    TemporalError,
    TimestampError,
    TransactionError,
    UnversionedTablesError,
)
from chronodb.result import Result

__version__ = "0.1.0"

__all__ = [
    "ArgumentError",
    "AuditError",
    "ChronoDB",
    "ChronoDBError",
    "ChronoDBWarning",
    "ClosedError",
    "ConfigError",
    "CorruptDatabaseError",
    "IntegrityError",
    "NotADatabaseError",
    "ReadOnlyError",
    "Result",
    "SQLError",
    "SQLSyntaxError",
    "SchemaError",
    "StorageError",
    "TemporalError",
    "TimestampError",
    "TransactionError",
    "UnversionedTablesError",
]
