"""SQLite's placeholders on PostgreSQL: ``?``, ``?NNN`` and ``:name`` become psycopg's.

ChronoDB takes the same statement text on both backends, so ``?`` (and SQLite's numbered
``?3`` and named ``:name``) work on PostgreSQL too; psycopg's own ``%s`` and ``%(name)s``
work as well. The text is read with PostgreSQL's lexical rules, so nothing inside a string
literal (``'…'``, ``E'…'``, ``$tag$…$tag$``), a quoted name or a comment is taken for a
placeholder, and ``::`` casts are not named placeholders. ``??`` stands for PostgreSQL's
own ``?`` operator (JSONB's key test), as in JDBC. A statement already written with
psycopg's placeholders is left alone, as is any statement run without parameters.

Converted text is cached by statement text: a statement is read once, not per call.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from typing import Any

from chronodb.errors import ArgumentError, SQLError

__all__ = ["complete_statement", "for_psycopg", "several_statements", "statements"]

_NAME_START = re.compile(r"[A-Za-z_]")
_NAME = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")
_DIGITS = re.compile(r"[0-9]+")
_DOLLAR_TAG = re.compile(r"\$([A-Za-z_][A-Za-z_0-9]*)?\$")
_PSYCOPG = re.compile(r"%[sbt]|%\([^)]*\)[sbt]|%%")


def _close_quote(sql: str, at: int, quote: str, escapes: bool) -> int:
    """The index after the quote closing the one at ``at`` (doubled quotes, and with
    ``escapes`` backslashes, escape it); the end of text if it is not closed."""
    i = at + 1
    while i < len(sql):
        if escapes and sql[i] == "\\":
            i += 2
        elif sql[i] == quote:
            if not sql.startswith(quote * 2, i):
                return i + 1
            i += 2
        else:
            i += 1
    return len(sql)


def _skip_quoted(sql: str, at: int) -> int | None:
    """Where the literal, quoted name or comment starting at ``at`` ends (the index after
    it; its end of text if unterminated), or None if none starts there."""
    ch = sql[at]
    two = sql[at : at + 2]
    if two == "--":
        end = sql.find("\n", at)
        return len(sql) if end < 0 else end
    if two == "/*":  # PostgreSQL's block comments nest
        depth, i = 1, at + 2
        while i < len(sql) and depth:
            if sql.startswith("/*", i):
                depth, i = depth + 1, i + 2
            elif sql.startswith("*/", i):
                depth, i = depth - 1, i + 2
            else:
                i += 1
        return i
    if ch in "'\"":
        escapes = ch == "'" and at > 0 and sql[at - 1] in "eE"
        escapes = escapes and (at < 2 or not sql[at - 2].isalnum())
        return _close_quote(sql, at, ch, escapes)
    if ch == "$" and (at == 0 or not (sql[at - 1].isalnum() or sql[at - 1] == "_")):
        tag = _DOLLAR_TAG.match(sql, at)
        if tag:
            end = sql.find(tag.group(0), tag.end())
            return len(sql) if end < 0 else end + len(tag.group(0))
    return None


def _pieces(sql: str) -> list[tuple[bool, str]]:
    """The statement cut into (is_code, text) pieces: code, and literals/names/comments."""
    pieces: list[tuple[bool, str]] = []
    start = i = 0
    while i < len(sql):
        end = _skip_quoted(sql, i) if sql[i] in "-/'\"$" else None
        if end is None:
            i += 1
            continue
        if i > start:
            pieces.append((True, sql[start:i]))
        pieces.append((False, sql[i:end]))
        start = i = end
    if start < len(sql):
        pieces.append((True, sql[start:]))
    return pieces


def statements(script: str) -> list[str]:
    """``script`` cut at the semicolons in its code (not inside literals, dollar-quoted
    bodies, quoted names or comments), each statement with its semicolon."""
    out: list[str] = []
    current = ""
    for code, text in _pieces(script):
        if not code:
            current += text
            continue
        *whole, rest = text.split(";")
        for piece in whole:
            out.append(current + piece + ";")
            current = ""
        current += rest
    if current.strip():
        out.append(current)
    return out


def complete_statement(text: str) -> bool:
    """Whether ``text`` ends a statement by PostgreSQL's lexical rules (the twin of
    ``sqlite3.complete_statement``): a semicolon in its code, followed only by blanks and
    finished comments."""
    done = False
    for code, piece in _pieces(text):
        if code:
            if ";" in piece:
                done = not piece[piece.rindex(";") + 1 :].strip()
            elif piece.strip():
                done = False
        elif piece.startswith("/*"):
            done = done and len(piece) >= 4 and piece.endswith("*/")
        elif not piece.startswith("--"):
            done = False  # a literal or quoted name after the last semicolon
    return done


@functools.lru_cache(maxsize=512)
def several_statements(sql: str) -> bool:
    """Whether ``sql`` holds more than one statement: code after a semicolon in its code
    (a trailing semicolon, blanks or comments do not count)."""
    if ";" not in sql:
        return False
    found = 0
    for piece in statements(sql):
        if any(code and text.strip(" \t\r\n;") for code, text in _pieces(piece)):
            found += 1
    return found > 1


@functools.lru_cache(maxsize=512)
def _convert(sql: str) -> tuple[str, tuple[str | int, ...], bool]:
    """The psycopg text of ``sql``, its placeholders' SQLite names or numbers in text order,
    and whether they are plain ``?`` in order (psycopg's positional ``%s``)."""
    out: list[str] = []
    order: list[str | int] = []
    numbered = False
    positional = 0
    for code, text in _pieces(sql):
        if not code:
            out.append(text.replace("%", "%%"))
            continue
        i = 0
        while i < len(text):
            ch = text[i]
            if ch == "%":
                out.append("%%")
                i += 1
            elif ch == "?":
                if text.startswith("??", i):
                    out.append("?")
                    i += 2
                    continue
                digits = _DIGITS.match(text, i + 1)
                if digits:
                    numbered = True
                    number = int(digits.group(0))
                    i = digits.end()
                else:
                    number = max((n for n in order if isinstance(n, int)), default=0) + 1
                    i += 1
                positional += 1
                order.append(number)
                out.append(f"%(_{number})s")
            elif ch == ":":
                if text.startswith("::", i):
                    out.append("::")
                    i += 2
                    continue
                name = _NAME.match(text, i + 1)
                if name is None:
                    out.append(ch)
                    i += 1
                    continue
                order.append(name.group(0))
                out.append(f"%({name.group(0)})s")
                i = name.end()
            else:
                out.append(ch)
                i += 1
    text = "".join(out)
    if all(isinstance(n, int) for n in order) and not numbered:
        for number in range(1, positional + 1):
            text = text.replace(f"%(_{number})s", "%s", 1)
        return text, tuple(order), True
    return text, tuple(order), False


def _psycopg_style(sql: str) -> bool:
    """Whether ``sql`` is written with psycopg's placeholders (in its code, not literals)."""
    if "%" not in sql:
        return False
    return any(code and _PSYCOPG.search(text) for code, text in _pieces(sql))


def for_psycopg(sql: str, params: Any) -> tuple[str, Any]:
    """``sql`` and ``params`` as psycopg takes them.

    Without parameters, or written with psycopg's placeholders, the statement is unchanged.
    Otherwise ``?`` placeholders take a sequence, ``:name`` ones a mapping, and ``?NNN``
    the sequence's NNNth value, as in SQLite.
    """
    if params is None or _psycopg_style(sql):
        return sql, params
    text, order, plain = _convert(sql)
    if not order and isinstance(params, Mapping):
        if params:
            raise ArgumentError(
                f"named parameters {sorted(params)!r} given, but the statement has no "
                ":name placeholders"
            )
        return text, ()
    if any(isinstance(n, str) for n in order):
        if any(isinstance(n, int) for n in order):
            raise ArgumentError("a statement takes ? or :name placeholders, not both")
        if not isinstance(params, Mapping):
            raise ArgumentError(
                f"the statement's :name placeholders take a mapping of values; got {params!r}"
            )
        missing = [n for n in order if n not in params]
        if missing:  # sqlite3's words and ChronoDB's class for it on SQLite
            raise SQLError(
                f"You did not supply a value for binding parameter :{missing[0]}.", sql=sql
            )
        return text, params
    if isinstance(params, (str, bytes)) or not isinstance(params, Sequence):
        raise ArgumentError(
            f"the statement's ? placeholders take a sequence of values; got {params!r}"
        )
    if plain:
        return text, params
    numbers = {n for n in order if isinstance(n, int)}
    if max(numbers) > len(params):
        raise ArgumentError(
            f"the statement uses ?{max(numbers)}, but {len(params)} value(s) were given"
        )
    return text, {f"_{n}": params[n - 1] for n in numbers}
