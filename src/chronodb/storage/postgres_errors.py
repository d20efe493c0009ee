"""What psycopg raises, as the ChronoDBError that says what happened and on which server.

Errors the server sends carry a SQLSTATE, and they are told apart by it (its class, the
first two characters, where the class says enough). Failures to connect carry none: libpq
reports them as text, so :func:`_connect_error` reads libpq's wording; and the server names
an unknown table or column only in its message, so that name is read from there. Messages
name the server as ``database on host:port``; the URL's password never appears
(``storage/urls.py``).
"""

from __future__ import annotations

import re

import psycopg

from chronodb.errors import (
    AuthenticationError,
    CheckViolation,
    ChronoDBError,
    ConnectionLostError,
    CorruptDatabaseError,
    ForeignKeyViolation,
    IntegrityError,
    NotNullViolation,
    ReadOnlyError,
    SchemaError,
    SerializationError,
    ServerUnavailableError,
    SQLError,
    SQLSyntaxError,
    StatementTimeoutError,
    StorageError,
    TransactionError,
    UniqueViolation,
)
from chronodb.storage.urls import ServerURL, redact

# libpq's words for a server that refused who connected (no SQLSTATE reaches the client)
_REFUSED_LOGIN = re.compile(
    r"password authentication failed|role \S+ does not exist|database \S+ does not exist"
    r"|no pg_hba\.conf entry|authentication failed|permission denied for database"
    r"|no password supplied|password is required|SCRAM",
    re.I,
)
_QUOTED = re.compile(r'"((?:[^"]|"")*)"')

_READ_ONLY = {"25006"}  # read_only_sql_transaction
_SERIALIZATION = {"40001", "40P01"}  # serialization_failure, deadlock_detected
_TIMEOUT = {"57014", "55P03"}  # query_canceled (statement_timeout), lock_not_available
_LOST = {"57P01", "57P02", "57P03"}  # admin/crash shutdown, cannot connect now
_UNDEFINED_TABLE = {"42P01"}
_UNDEFINED_COLUMN = {"42703"}
_SYNTAX = {"42601"}
_FULL = {"53100"}  # disk_full
_NO_CONNECTIONS = {"53300"}  # too_many_connections
_CORRUPT = {"XX001", "XX002"}  # data_corrupted, index_corrupted
_TRANSACTION_STATE = {"25P02", "25001", "25P01", "2D000", "3B001"}
# The integrity_constraint_violation class (23) by kind, as storage/sqlite_errors.py maps
# SQLite's extended constraint codes; others of the class are IntegrityError itself.
_CONSTRAINTS: dict[str, type[IntegrityError]] = {
    "23505": UniqueViolation,
    "23502": NotNullViolation,
    "23514": CheckViolation,
    "23503": ForeignKeyViolation,
}


def translate(err: psycopg.Error, server: ServerURL, sql: str | None = None) -> ChronoDBError:
    """``err`` as the ChronoDBError that names what went wrong on ``server``."""
    where = server.where
    host = f"{server.host}:{server.port}"
    url = redact(server.url)
    state = getattr(err, "sqlstate", None) or ""
    primary = _primary(err)
    if not state:
        if isinstance(err, psycopg.OperationalError):
            return _connect_error(err, server)
        if isinstance(err, psycopg.InterfaceError):
            return ConnectionLostError(
                f"the connection to {where} is closed ({primary}); the next call reconnects",
                host=host,
                path=url,
            )
        return SQLError(f"{primary} (on {where})", sql=sql)
    if state in _LOST:
        return ConnectionLostError(
            f"the server at {host} ended the connection ({primary}); the open transaction "
            f"was not applied, and the next call connects again",
            host=host,
            path=url,
        )
    if state in _SERIALIZATION:
        return SerializationError(
            f"a concurrent transaction on {where} conflicted with this one ({primary}); "
            f"nothing of it was written: run it again"
        )
    if state in _TIMEOUT:
        return StatementTimeoutError(
            f"the statement was cancelled on {where} ({primary}): it ran past the server's "
            f"statement_timeout or lock_timeout; its transaction was rolled back"
        )
    if state in _READ_ONLY:
        return ReadOnlyError(f"{where} takes no writes here ({primary})")
    if state.startswith("23"):  # integrity_constraint_violation
        return _CONSTRAINTS.get(state, IntegrityError)(primary + _detail(err))
    if state in _UNDEFINED_TABLE or state in _UNDEFINED_COLUMN:
        name = _quoted_name(primary)
        position = _position(err, sql)
        if state in _UNDEFINED_TABLE:
            return SchemaError(primary, table=name, sql=sql, position=position)
        return SchemaError(primary, column=name, sql=sql, position=position)
    if state in _SYNTAX:
        return SQLSyntaxError(primary, sql=sql, position=_position(err, sql))
    if state in _FULL:
        return StorageError(f"the server at {host} is out of disk space ({primary})", path=url)
    if state in _NO_CONNECTIONS:
        return ServerUnavailableError(
            f"the server at {host} takes no more connections ({primary})", host=host, path=url
        )
    if state in _CORRUPT:
        return CorruptDatabaseError(f"{where} reports damaged data ({primary})", path=url)
    if state.startswith("28"):  # invalid_authorization_specification
        return AuthenticationError(f"{where} refused the login ({primary})", host=host, path=url)
    if state in _TRANSACTION_STATE:
        return TransactionError(primary)
    return SQLError(primary + _detail(err), sql=sql, position=_position(err, sql))


def _connect_error(err: psycopg.OperationalError, server: ServerURL) -> ChronoDBError:
    """A failure without SQLSTATE: connecting failed, or the connection broke."""
    text = _primary(err)
    host = f"{server.host}:{server.port}"
    url = redact(server.url)
    if _REFUSED_LOGIN.search(text):
        who = f"user {server.user}" if server.user else "the default user"
        return AuthenticationError(
            f"{server.where} refused {who}: {_last_line(text)}", host=host, path=url
        )
    if "connection failed" in text or "could not connect" in text or "timeout" in text:
        return ServerUnavailableError(
            f"cannot connect to the PostgreSQL server at {host}: {_last_line(text)}",
            host=host,
            path=url,
        )
    return ConnectionLostError(
        f"the connection to {server.where} broke ({_last_line(text)}); the open transaction "
        f"was not applied, and the next call connects again",
        host=host,
        path=url,
    )


def _primary(err: psycopg.Error) -> str:
    diag = getattr(err, "diag", None)
    message = getattr(diag, "message_primary", None) if diag is not None else None
    return message or str(err).strip() or type(err).__name__


def _detail(err: psycopg.Error) -> str:
    diag = getattr(err, "diag", None)
    detail = getattr(diag, "message_detail", None) if diag is not None else None
    return f" ({detail})" if detail else ""


def _last_line(text: str) -> str:
    """libpq's message without its ``connection to server … failed:`` preamble."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    last = lines[0] if lines else text
    return last.rsplit("failed: ", 1)[-1].replace("FATAL:  ", "")


def _position(err: psycopg.Error, sql: str | None) -> int | None:
    """The 0-based offset the server points at (it counts characters from 1)."""
    diag = getattr(err, "diag", None)
    raw = getattr(diag, "statement_position", None) if diag is not None else None
    if sql is None or not raw:
        return None
    try:
        return min(max(int(raw) - 1, 0), len(sql))
    except ValueError:
        return None


def _quoted_name(message: str) -> str | None:
    found = _QUOTED.search(message)
    return found.group(1).replace('""', '"') if found else None
