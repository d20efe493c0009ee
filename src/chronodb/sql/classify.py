"""Route a statement without parsing it: the fast path must not pay for sqlglot.

Only the first keyword and a search for temporal keywords are looked at, in the statement's
code: string literals, quoted identifiers and comments are blanked first, so a statement
that only mentions ``AS OF TIMESTAMP`` in them goes straight to SQLite. The answer is cached
by statement text by the caller.
"""

from __future__ import annotations

import functools
import re
from enum import Enum


class Route(Enum):
    READ = "read"  # straight to SQLite
    WRITE = "write"  # straight to SQLite, inside a versioned transaction
    TEMPORAL = "temporal"  # parsed and rewritten, then read
    TEMPORAL_WRITE = "temporal_write"  # INSERT ... SELECT ... AS OF
    DDL = "ddl"  # CREATE/ALTER/DROP TABLE, CREATE/DROP VIEW (recorded: versioning/views.py)
    BEGIN = "begin"
    COMMIT = "commit"
    ROLLBACK = "rollback"
    SAVEPOINT = "savepoint"  # SAVEPOINT, RELEASE, ROLLBACK TO: inside one of our transactions
    VACUUM = "vacuum"  # VACUUM (not INTO a copy) may renumber rowids: checked first
    PLAIN = "plain"  # ATTACH, CREATE INDEX, ...: no transaction of ours


_LEADING = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/)*", re.S)
_WORDS = re.compile(r"[A-Za-z_]+")
# What SQLite's tokenizer reads as one string, quoted name or comment (unterminated ones run
# to the end, as there).
_OPAQUE = re.compile(
    r"'(?:[^']|'')*'?|\"(?:[^\"]|\"\")*\"?|`(?:[^`]|``)*`?|\[[^\]]*\]?|--[^\n]*|/\*.*?(?:\*/|$)",
    re.S,
)
_OPENERS = ("'", '"', "`", "[", "--", "/*")
_TEMPORAL = re.compile(
    r"\bAS\s+OF\s+(?:TIMESTAMP|TRANSACTION)\b|\bFOR\s+SYSTEM_?\s*TIME\b|\bSYSTEM_TIME\b"
    r"|\bchrono_changes\s*\(",
    re.I,
)
_WRITE_WORDS = re.compile(r"\b(?:INSERT|UPDATE|DELETE|REPLACE)\b", re.I)
_DDL_TARGET = re.compile(
    r"\s*(?:TEMP|TEMPORARY\s+)?\s*(TABLE|VIEW)\b|\s*TEMP(?:ORARY)?\s+(TABLE|VIEW)\b", re.I
)

_READ = {"SELECT", "VALUES", "EXPLAIN", "PRAGMA"}
_WRITE = {"INSERT", "UPDATE", "DELETE", "REPLACE"}


def code_of(sql: str) -> str:
    """``sql`` with its strings, quoted names and comments blanked (same length, so offsets
    hold): what is left is keywords, names, numbers and punctuation."""
    if not any(mark in sql for mark in _OPENERS):
        return sql
    return _OPAQUE.sub(lambda m: " " * len(m.group(0)), sql)


def classify(sql: str) -> Route:
    start = _LEADING.match(sql)
    pos = start.end() if start else 0
    word_match = _WORDS.match(sql, pos)
    word = word_match.group(0).upper() if word_match else ""
    sql = code_of(sql)
    temporal = _TEMPORAL.search(sql) is not None
    if word in _READ:
        return Route.TEMPORAL if temporal and word != "PRAGMA" else Route.READ
    if word == "WITH":
        writes = _WRITE_WORDS.search(sql) is not None
        if temporal:
            return Route.TEMPORAL_WRITE if writes else Route.TEMPORAL
        return Route.WRITE if writes else Route.READ
    if word in _WRITE:
        return Route.TEMPORAL_WRITE if temporal else Route.WRITE
    if word in ("CREATE", "ALTER", "DROP"):
        rest = sql[word_match.end() :] if word_match else ""
        target = _DDL_TARGET.match(rest)
        kind = (target.group(1) or target.group(2)).upper() if target else ""
        temporary = re.match(r"\s*TEMP", rest, re.I) is not None
        if kind == "TABLE" or (kind == "VIEW" and (temporal or not temporary)):
            return Route.DDL
        # Indexes, triggers and TEMP views change no rows and are not versioned: as a WRITE
        # they would look empty and be rolled back.
        return Route.PLAIN
    if word == "BEGIN":
        return Route.BEGIN
    if word in ("COMMIT", "END"):
        return Route.COMMIT
    if word == "ROLLBACK":
        partial = re.match(r"\s*ROLLBACK\s+(TRANSACTION\s+)?TO\b", sql[pos:], re.I)
        return Route.SAVEPOINT if partial else Route.ROLLBACK
    if word in ("SAVEPOINT", "RELEASE"):
        return Route.SAVEPOINT
    if word == "VACUUM":
        # VACUUM INTO writes a copy (keeping rowids): nothing of this file can move.
        into = re.search(r"\bINTO\b", sql[pos:], re.I) is not None
        return Route.PLAIN if into else Route.VACUUM
    return Route.PLAIN


_NAME = r'("(?:[^"]|"")+"|\[[^\]]+\]|`(?:[^`]|``)+`|\w+)'
_SAVEPOINT = re.compile(
    r"(SAVEPOINT|RELEASE|ROLLBACK)(?:\s+SAVEPOINT|\s+(?:TRANSACTION\s+)?TO(?:\s+SAVEPOINT)?)?"
    rf"\s+{_NAME[:-1]}|'(?:[^']|'')+')",
    re.I,
)
_TARGET = re.compile(
    r"(?:(?:INSERT|REPLACE)(?:\s+OR\s+\w+)?\s+INTO|UPDATE(?:\s+OR\s+\w+)?|DELETE\s+FROM)\s+"
    rf"(?:{_NAME}\s*\.\s*)?{_NAME}",
    re.I,
)


@functools.lru_cache(maxsize=4096)
def write_target(sql: str) -> str | None:
    """The table an INSERT, UPDATE, DELETE or REPLACE statement names, if it starts with one.

    A hint only (the ledger's seal reads this table first, see ``audit/digests.py``): a
    statement starting otherwise (WITH ...) gives None, and a statement whose triggers or
    foreign keys write elsewhere is caught by counting what the transaction changed.
    """
    start = _LEADING.match(sql)
    found = _TARGET.match(sql, start.end() if start else 0)
    return None if found is None else unquote(found.group(2))


def savepoint_of(sql: str) -> tuple[str, str] | None:
    """(``SAVEPOINT``, ``RELEASE`` or ``ROLLBACK``, name) of a savepoint statement.

    SQLite compares savepoint names without regard to case, so the name is casefolded.
    """
    start = _LEADING.match(sql)
    found = _SAVEPOINT.match(sql, start.end() if start else 0)
    if found is None:
        return None
    return found.group(1).upper(), unquote(found.group(2)).casefold()


def plain_view_statement(sql: str) -> bool:
    """Whether ``sql`` is a CREATE or DROP VIEW without a temporal clause: SQLite runs it as
    written (sqlglot need not understand the view's query)."""
    return _VIEW_STATEMENT.match(sql) is not None and _TEMPORAL.search(code_of(sql)) is None


_VIEW_STATEMENT = re.compile(
    r"(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/)*(?:CREATE|DROP)\s+(?:TEMP(?:ORARY)?\s+)?VIEW\b",
    re.I | re.S,
)


def unquote(name: str) -> str:
    """A name or string as SQL quotes it ("x", [x], `x`, 'x'), without its quotes."""
    if name[0] == "[":
        return name[1:-1]
    if name[0] in "\"`'":
        return name[1:-1].replace(name[0] * 2, name[0])
    return name
