"""What SQLite, sqlglot and Python raise underneath a public call, as the ChronoDBError that
names the culprit: the argument, the literal's position in the SQL, the character.

Only run once something failed (``_guard.py`` calls :func:`translate`), so none of this
costs a call that succeeds.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator, Mapping
from typing import Any

from sqlglot.errors import ParseError, SqlglotError, TokenError

from chronodb.errors import ArgumentError, ChronoDBError, SQLError, SQLSyntaxError
from chronodb.storage.sqlite_errors import translate as translate_sqlite

# What the layers underneath raise on input they cannot take; ChronoDBError is checked first
# (ArgumentError is a TypeError too).
FOREIGN: tuple[type[BaseException], ...] = (
    sqlite3.Error,
    SqlglotError,
    RecursionError,
    ArithmeticError,
    ValueError,
    TypeError,
    AttributeError,
    LookupError,
)
INT64 = (-(2**63), 2**63 - 1)

_SQL_NAMES = ("sql", "script")
_TEXT_NAMES = ("table", "reason", "tx_hash")


def unclosed_quote(sql: str) -> int | None:
    """The offset of a string literal or quoted name that is never closed, if any."""
    quote: str | None = None
    start = 0
    i = 0
    while i < len(sql):
        ch = sql[i]
        if quote is None:
            if ch in "'\"`[":
                quote, start = ("]" if ch == "[" else ch), i
            elif sql.startswith("--", i):
                end = sql.find("\n", i)
                i = len(sql) if end < 0 else end
            elif sql.startswith("/*", i):
                end = sql.find("*/", i + 2)
                i = len(sql) if end < 0 else end + 1
        elif ch == quote:
            if sql.startswith(quote * 2, i) and quote != "]":
                i += 1  # a doubled quote stands for itself
            else:
                quote = None
        i += 1
    return start if quote is not None else None


def _scalars(value: Any, depth: int = 0) -> Iterator[Any]:
    """The plain values inside ``value`` (parameters: a sequence or a mapping of them)."""
    if depth > 2:
        return
    if isinstance(value, Mapping):
        for item in value.values():
            yield from _scalars(item, depth + 1)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _scalars(item, depth + 1)
    else:
        yield value


def _too_big(args: Mapping[str, Any]) -> tuple[str, int] | None:
    for name, value in args.items():
        for item in _scalars(value):
            if isinstance(item, int) and not INT64[0] <= item <= INT64[1]:
                return name, item
    return None


def _unencodable(args: Mapping[str, Any]) -> tuple[str, Any] | None:
    for name, value in args.items():
        for item in _scalars(value):
            if isinstance(item, str):
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError:
                    return name, item
    return None


def _big_literal(sql: str) -> re.Match[str] | None:
    """The first integer literal in ``sql`` beyond 64 bits."""
    for found in re.finditer(r"(?<![\w.])\d{19,}(?![\w.])", sql):
        if int(found.group()) > INT64[1]:
            return found
    return None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_arguments(args: Mapping[str, Any]) -> None:
    """Refuse the commonest wrong types by name: SQL and names are strings, parameters a
    sequence or a mapping, transaction ids and limits whole numbers within 64 bits."""
    for name, value in args.items():
        if name in _SQL_NAMES and not isinstance(value, str):
            raise ArgumentError(
                f"{name} must be a string of SQL, not {type(value).__name__}",
                argument=name,
                value=value,
            )
        if name in _TEXT_NAMES and value is not None and not isinstance(value, str):
            raise ArgumentError(
                f"{name} must be a string, not {type(value).__name__} ({_short(value)})",
                argument=name,
                value=value,
            )
        if name == "params" and value is not None and not _is_params(value):
            raise ArgumentError(
                f"params must be a list, a tuple or a mapping of values, not "
                f"{type(value).__name__}",
                argument=name,
                value=value,
            )
        if name in ("tx_id", "limit") and (
            isinstance(value, bool) or not isinstance(value, int | None)
        ):
            raise ArgumentError(
                f"{name} must be a whole number, not {_short(value)}",
                argument=name,
                value=value,
            )
    found = _too_big(args)
    if found is not None:
        name, value = found
        raise ArgumentError(
            f"{name}: {_short(value)} is too large; SQLite's integers are 64-bit "
            f"({INT64[0]} to {INT64[1]})",
            argument=name,
            value=value,
        )
    bad = _unencodable(args)
    if bad is not None and bad[0] not in _SQL_NAMES:
        raise ArgumentError(
            f"{bad[0]}: {_short(bad[1])} holds a character UTF-8 cannot encode (a lone surrogate)",
            argument=bad[0],
            value=bad[1],
        )


def _is_params(value: Any) -> bool:
    if isinstance(value, Mapping):
        return True
    return isinstance(value, list | tuple)


def translate(err: BaseException, call: str, args: Mapping[str, Any]) -> ChronoDBError:
    """The ChronoDBError for ``err``, raised by ``call`` given ``args`` (its arguments by name)."""
    if isinstance(err, ChronoDBError):
        return err
    try:
        check_arguments(args)
    except ArgumentError as named:
        return named
    sql = next((args[n] for n in _SQL_NAMES if isinstance(args.get(n), str)), None)
    if isinstance(err, sqlite3.Error):
        return translate_sqlite(err, sql)
    if isinstance(err, TokenError) and sql is not None:
        at = unclosed_quote(sql)
        what = "a string or quoted name is never closed" if at is not None else "a bad token"
        return SQLSyntaxError(f"Syntax error: {what}", sql=sql, position=at)
    if isinstance(err, ParseError) and sql is not None:
        from chronodb.sql.temporal import syntax_error

        return syntax_error(err, sql)
    if isinstance(err, SqlglotError):
        return SQLError(f"{call}(): the SQL cannot be parsed: {err}", sql=sql)
    if isinstance(err, RecursionError):
        subject = "the statement" if sql is not None else "an argument"
        return SQLError(
            f"{subject} is nested too deeply to parse (parser stack overflow)"
            + (f" in: {sql.strip()[:60]}" if sql else "")
        )
    if isinstance(err, UnicodeEncodeError) and sql is not None and err.object == sql:
        return SQLError(
            "the SQL holds a character UTF-8 cannot encode (a lone surrogate)",
            sql=sql,
            position=err.start,
        )
    if isinstance(err, OverflowError) and sql is not None:
        literal = _big_literal(sql)
        if literal is not None:
            return SQLError(
                f"{literal.group()} is too large; SQLite's integers are 64-bit "
                f"({INT64[0]} to {INT64[1]})",
                sql=sql,
                position=literal.start(),
            )
    if isinstance(err, OverflowError | FloatingPointError | ZeroDivisionError):
        return ArgumentError(f"{call}(): a number is out of range: {err}")
    return ArgumentError(f"{call}() cannot use its arguments: {type(err).__name__}: {err}")
