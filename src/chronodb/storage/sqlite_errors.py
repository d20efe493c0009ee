"""SQLite's errors as ChronoDB's, told apart by SQLite's result code.

Python's sqlite3 exceptions carry the (extended) result code in ``sqlite_errorcode``
(https://sqlite.org/rescode.html): it says a UNIQUE from a NOT NULL constraint, a busy file
from a read-only one, a damaged file from one that is no database at all. Only where SQLite
answers the generic SQLITE_ERROR (no such table or column, a syntax error) is the message
text all there is to go by; :func:`_by_message` holds that, and nothing else reads it. A
PostgreSQL backend maps its SQLSTATEs to the same classes beside this module.
"""

from __future__ import annotations

import re
import sqlite3

from chronodb.errors import (
    BusyError,
    CheckViolation,
    ChronoDBError,
    CorruptDatabaseError,
    ForeignKeyViolation,
    IntegrityError,
    NotADatabaseError,
    NotNullViolation,
    ReadOnlyError,
    SchemaError,
    SQLError,
    SQLSyntaxError,
    StorageError,
    UniqueViolation,
)

# Extended constraint codes; the primary SQLITE_CONSTRAINT means any other.
_CONSTRAINTS: dict[int, type[IntegrityError]] = {
    sqlite3.SQLITE_CONSTRAINT_UNIQUE: UniqueViolation,
    sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY: UniqueViolation,
    sqlite3.SQLITE_CONSTRAINT_ROWID: UniqueViolation,
    sqlite3.SQLITE_CONSTRAINT_NOTNULL: NotNullViolation,
    sqlite3.SQLITE_CONSTRAINT_CHECK: CheckViolation,
    sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY: ForeignKeyViolation,
}
# Primary codes about the file rather than the statement.
_STORAGE = {
    sqlite3.SQLITE_IOERR: "I/O error",
    sqlite3.SQLITE_FULL: "disk full",
    sqlite3.SQLITE_CANTOPEN: "cannot open the file",
    sqlite3.SQLITE_PERM: "no permission",
}
_BUSY = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def _primary(err: sqlite3.Error) -> int | None:
    code = getattr(err, "sqlite_errorcode", None)
    return None if code is None else code & 0xFF


def is_busy(err: sqlite3.Error) -> bool:
    """Whether another connection holds the lock ``err``'s statement needed (SQLITE_BUSY,
    or SQLITE_LOCKED: a lock within this process)."""
    return _primary(err) in _BUSY


def busy(err: sqlite3.Error, timeout: float | None = None) -> BusyError:
    waited = "" if timeout is None else f" for longer than the timeout ({timeout:g} s)"
    return BusyError(
        f"The database is busy: another connection kept it locked{waited} ({err})",
        timeout=timeout,
    )


def about_the_file(err: sqlite3.Error, path: str | None = None) -> ChronoDBError | None:
    """The error for one about the file itself (damaged, not a database, read-only, full,
    unreadable), or None if ``err`` is about the statement."""
    primary = _primary(err)
    where = f"{path}: " if path else ""
    if primary == sqlite3.SQLITE_NOTADB:
        return NotADatabaseError(f"{where}not an SQLite database ({err})", path=path)
    if primary == sqlite3.SQLITE_CORRUPT:
        return CorruptDatabaseError(
            f"{where}the database file is damaged ({err}); restore it from a backup, "
            "or run db.audit_trail.verify() on a copy to see what is affected",
            path=path,
        )
    if primary == sqlite3.SQLITE_READONLY:
        return ReadOnlyError(f"{where}{err}")
    if primary in _STORAGE:
        return StorageError(f"{where}{_STORAGE[primary]}: {err}", path=path)
    return None


def translate(err: sqlite3.Error, sql: str | None = None) -> ChronoDBError:
    """``err`` as a ChronoDBError, keeping SQLite's message and naming the statement."""
    where = f" in: {sql.strip()[:200]}" if sql else ""
    code = getattr(err, "sqlite_errorcode", None)
    primary = _primary(err)
    if primary == sqlite3.SQLITE_CONSTRAINT or (
        primary is None and isinstance(err, sqlite3.IntegrityError)
    ):
        return _CONSTRAINTS.get(code or 0, IntegrityError)(f"{err}{where}")
    if primary in _BUSY:
        return busy(err)
    found = about_the_file(err)
    if found is not None:
        return found
    return _by_message(err, sql) or SQLError(f"{err}{where}")


def missing_table(err: sqlite3.Error) -> bool:
    """Whether ``err`` is SQLite's for a statement naming a table that does not exist (yet);
    SQLITE_ERROR, so only its text says."""
    return _primary(err) in (sqlite3.SQLITE_ERROR, None) and str(err).startswith("no such table")


_NO_COLUMN_NAMED = re.compile(r"table (\S+) has no column named (\S+)$")


def _by_message(err: sqlite3.Error, sql: str | None) -> ChronoDBError | None:
    """Unknown tables and columns, and syntax errors: SQLite gives them all the one code
    SQLITE_ERROR, so they are told apart by its message, the only place that says."""
    if _primary(err) not in (sqlite3.SQLITE_ERROR, None):
        return None
    text = str(err)
    where = f" in: {sql.strip()[:200]}" if sql else ""
    missing = _NO_COLUMN_NAMED.match(text)
    if "no such table" in text or "no such column" in text or missing:
        name = missing.group(2) if missing else text.split(":", 1)[-1].strip()
        kind = "table" if "table" in text and not missing else "column"
        position = _name_position(name, sql)
        table, column = (name, None) if kind == "table" else (None, name)
        if position is None:
            return SchemaError(f"{text}{where}", table=table, column=column)
        return SchemaError(text, sql=sql, position=position, table=table, column=column)
    if "syntax error" in text or "incomplete input" in text or "unrecognized token" in text:
        return SQLSyntaxError(text, sql=sql, position=_syntax_position(text, sql))
    return None


def _name_position(name: str, sql: str | None) -> int | None:
    """Where the unknown ``name`` (``t.c`` for a qualified column) is written in ``sql``:
    as a word, in any case, each part bare or quoted."""
    if not sql or not name:
        return None
    parts = [rf"(?:{re.escape(p)}|[\"`\[]{re.escape(p)}[\"`\]])" for p in name.split(".")]
    found = re.search(r"(?<![\w$])" + r"\s*\.\s*".join(parts) + r"(?![\w$])", sql, re.I)
    return None if found is None else found.start()


def _syntax_position(text: str, sql: str | None) -> int | None:
    """Where SQLite's syntax error is: it names the token, sqlglot's parser says which one."""
    if not sql:
        return None
    if "incomplete input" in text:
        return len(sql.rstrip())
    near = re.search(r'(?:near|token:) "(.*)"', text, re.S)
    if near is None:
        return None
    token = near.group(1)
    edge = r"\b" if token[:1].isalnum() else ""
    found = [m.start() for m in re.finditer(edge + re.escape(token), sql)]
    if len(found) <= 1:
        return found[0] if found else None
    from sqlglot.errors import ParseError, SqlglotError

    from chronodb.sql import temporal
    from chronodb.sql.dialect import parse

    try:
        parse(sql)
    except SqlglotError as err:
        guess = temporal.syntax_error(err, sql).position if isinstance(err, ParseError) else None
        if guess is not None:
            return min(found, key=lambda at: abs(at - guess))
    return found[0]
