"""PEP 249's exception classes, each also a :class:`~chronodb.errors.ChronoDBError`.

ChronoDBError
├── Warning
└── Error
    ├── InterfaceError
    └── DatabaseError
        ├── DataError
        ├── OperationalError
        ├── IntegrityError
        ├── InternalError
        ├── ProgrammingError
        └── NotSupportedError

The driver raises ChronoDB's own error under the PEP 249 class sqlite3 would use for it:
:func:`translate` makes a class that is both (a UNIQUE failure is a
``dbapi.IntegrityError`` and a ``chronodb.UniqueViolation``) and copies the error's fields
(``position``, ``table``, ``value``...), so code written for either catches it.
"""

from __future__ import annotations

import sqlite3

from chronodb import errors


class Warning(errors.ChronoDBError):  # the name PEP 249 gives it
    """Something worked but deserves attention (PEP 249)."""


class Error(errors.ChronoDBError):
    """Root of the driver's errors (PEP 249)."""


class InterfaceError(Error):
    """A misuse of the driver itself rather than of the database."""


class DatabaseError(Error):
    """An error the database reported."""


class DataError(DatabaseError):
    """A value that cannot be processed (out of range, wrong kind)."""


class OperationalError(DatabaseError):
    """The database could not run the statement: locked, missing table, bad SQL (as sqlite3)."""


class IntegrityError(DatabaseError):
    """A constraint failed; nothing was written."""


class InternalError(DatabaseError):
    """The database's own state is inconsistent (a damaged ledger)."""


class ProgrammingError(DatabaseError):
    """The program misused the API: a closed connection, a bad temporal clause or argument."""


class NotSupportedError(DatabaseError):
    """A method or option this driver does not offer."""


# ChronoDB error -> PEP 249 class, most specific first; sqlite3's choices where it has one
# (it raises OperationalError for syntax errors and unknown tables).
_MAPPING: tuple[tuple[type[errors.ChronoDBError], type[Error]], ...] = (
    (errors.IntegrityError, IntegrityError),
    (errors.ClosedError, ProgrammingError),
    (errors.TemporalError, ProgrammingError),
    (errors.ArgumentError, ProgrammingError),
    (errors.ConfigError, ProgrammingError),
    (errors.SQLSyntaxError, OperationalError),
    (errors.SQLError, OperationalError),
    (errors.SchemaError, OperationalError),
    (errors.UnversionedTablesError, OperationalError),
    (errors.TransactionError, OperationalError),
    (errors.ReadOnlyError, OperationalError),
    (errors.CorruptDatabaseError, DatabaseError),
    (errors.StorageError, OperationalError),
    (errors.AuditError, InternalError),
)

_combined: dict[tuple[type[BaseException], type[Error]], type[Error]] = {}


def pep249_class(kind: type[errors.ChronoDBError]) -> type[Error]:
    """The PEP 249 class a ChronoDB error of class ``kind`` is raised as."""
    for chrono, pep in _MAPPING:
        if issubclass(kind, chrono):
            return pep
    return DatabaseError


def _sqlite3_class(err: BaseException) -> type[Error] | None:
    """The PEP 249 class sqlite3 itself chose, when ``err`` was raised from one of its
    errors (wrong number of bindings: ProgrammingError, not the SQLError above)."""
    seen = 0
    cause = err.__cause__ or err.__context__
    while cause is not None and seen < 4:
        if isinstance(cause, sqlite3.Error):
            found = globals().get(type(cause).__name__)
            return found if isinstance(found, type) and issubclass(found, Error) else None
        cause, seen = cause.__cause__ or cause.__context__, seen + 1
    return None


def translate(err: errors.ChronoDBError) -> Error:
    """``err`` as an instance of both its own class and its PEP 249 class."""
    if isinstance(err, Error):
        return err
    kind = type(err)
    pep = pep249_class(kind)
    if pep is OperationalError or pep is DatabaseError:  # sqlite3 may know better
        pep = _sqlite3_class(err) or pep
    combined = _combined.get((kind, pep))
    if combined is None:
        combined = type(kind.__name__, (pep, kind), {"__module__": __name__})
        combined.__doc__ = kind.__doc__
        _combined[(kind, pep)] = combined
    out = combined.__new__(combined, *err.args)
    out.args = err.args
    out.__dict__.update(err.__dict__)
    return out


__all__ = [
    "DataError",
    "DatabaseError",
    "Error",
    "IntegrityError",
    "InterfaceError",
    "InternalError",
    "NotSupportedError",
    "OperationalError",
    "ProgrammingError",
    "Warning",
]
