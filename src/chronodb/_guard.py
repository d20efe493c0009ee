"""The public API's error boundary: what SQLite, sqlglot or Python raise underneath a public
call leaves it as a ChronoDBError (see ``chronodb/errors.py``).

``@guarded`` wraps one method; ``guard_class`` wraps every public method of a class. The
wrapper costs one Python call on success; the work of naming the culprit (which argument,
which character, which integer) is done only once something failed.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import math
import re
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

from sqlglot.errors import ParseError, SqlglotError, TokenError

from chronodb.errors import (
    ArgumentError,
    ChronoDBError,
    CorruptDatabaseError,
    NotADatabaseError,
    ReadOnlyError,
    SQLError,
    SQLSyntaxError,
    StorageError,
)

F = TypeVar("F", bound=Callable[..., Any])
C = TypeVar("C", bound=type)

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
_SELF_GUARDED = "__chronodb_guards_itself__"

# SQLite's primary result codes (https://sqlite.org/rescode.html) that name the file's state.
_READONLY, _CORRUPT, _NOTADB = 8, 11, 26
_STORAGE = {10: "I/O error", 13: "disk full", 14: "cannot open the file", 3: "no permission"}
_SQL_NAMES = ("sql", "script")
_TEXT_NAMES = ("table", "reason", "tx_hash")


def by_code(err: sqlite3.Error, path: str | None = None) -> ChronoDBError | None:
    """SQLite's errors about the file itself (damaged, not a database, full, read-only), told
    apart by their result code, not their text."""
    code = getattr(err, "sqlite_errorcode", None)
    if code is None:
        return None
    primary = code & 0xFF
    where = f"{path}: " if path else ""
    if primary == _NOTADB:
        return NotADatabaseError(f"{where}not an SQLite database ({err})", path=path)
    if primary == _CORRUPT:
        return CorruptDatabaseError(
            f"{where}the database file is damaged ({err}); restore it from a backup, "
            "or run db.audit_trail.verify() on a copy to see what is affected",
            path=path,
        )
    if primary == _READONLY:
        return ReadOnlyError(f"{where}{err}")
    if primary in _STORAGE:
        return StorageError(f"{where}{_STORAGE[primary]}: {err}", path=path)
    return None


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
        from chronodb.database import translate as translate_sqlite

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


def _bound(fn: Callable[..., Any], args: tuple, kw: dict) -> dict[str, Any] | None:
    """``fn``'s arguments by name, or None when they do not fit its signature."""
    try:
        bound = inspect.signature(fn).bind(*args, **kw)
    except TypeError:
        return None
    arguments = dict(bound.arguments)
    arguments.pop("self", None)
    arguments.pop("cls", None)
    for name, value in list(arguments.items()):
        if isinstance(value, dict) and name in ("kw", "kwargs", "overrides", "unknown"):
            arguments.update(arguments.pop(name))
    return arguments


def failure(fn: Callable[..., Any], err: BaseException, args: tuple, kw: dict) -> ChronoDBError:
    """The ChronoDBError for ``err``, raised by a call of ``fn`` with ``args`` and ``kw``."""
    arguments = _bound(fn, args, kw)
    if arguments is None:
        try:
            inspect.signature(fn).bind(*args, **kw)
        except TypeError as shape:
            return ArgumentError(f"{fn.__name__}(): {shape}")
    return translate(err, fn.__name__, arguments or {})


def guarded(fn: F) -> F:
    """Wrap ``fn`` so that only ChronoDBError subclasses leave it."""
    if inspect.isgeneratorfunction(getattr(fn, "__wrapped__", None)):
        return _guarded_context(fn)  # type: ignore[return-value]

    @functools.wraps(fn)
    def wrapper(*args: Any, **kw: Any) -> Any:
        try:
            return fn(*args, **kw)
        except ChronoDBError:
            raise
        except FOREIGN as err:
            raise failure(fn, err, args, kw) from err

    return wrapper  # type: ignore[return-value]


class _GuardedContext:
    """A context manager whose own failures (entering, committing) are ChronoDBErrors, while
    an exception raised by the ``with`` body passes through unchanged."""

    def __init__(self, fn: Callable[..., Any], inner: contextlib.AbstractContextManager) -> None:
        self._fn = fn
        self._inner = inner

    def __enter__(self) -> Any:
        try:
            return self._inner.__enter__()
        except ChronoDBError:
            raise
        except FOREIGN as err:
            raise failure(self._fn, err, (), {}) from err

    def __exit__(self, kind: Any, value: Any, tb: Any) -> Any:
        try:
            return self._inner.__exit__(kind, value, tb)
        except ChronoDBError:
            raise
        except FOREIGN as err:
            if err is value:
                raise
            raise failure(self._fn, err, (), {}) from err


def _guarded_context(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kw: Any) -> _GuardedContext:
        try:
            inner = fn(*args, **kw)
        except ChronoDBError:
            raise
        except FOREIGN as err:
            raise failure(fn, err, args, kw) from err
        return _GuardedContext(fn, inner)

    return wrapper


def guards_itself(fn: F) -> F:
    """Mark a method that translates its own errors (with :func:`failure`), so that
    :func:`guard_class` leaves it unwrapped: for the hot path, where a wrapper's extra call
    would cost every statement."""
    fn.__dict__[_SELF_GUARDED] = True
    return fn


def guard_class(cls: C) -> C:
    """Wrap every public method of ``cls`` (and its constructor) with :func:`guarded`."""
    for name, member in list(vars(cls).items()):
        if name.startswith("_") and name != "__init__":
            continue
        if getattr(member, _SELF_GUARDED, False):
            continue
        if isinstance(member, classmethod | staticmethod):
            wrapped = guarded(member.__func__)
            setattr(cls, name, type(member)(wrapped))
        elif inspect.isfunction(member):
            setattr(cls, name, guarded(member))
    return cls


def finite(name: str, value: Any, *, minimum: float = 0.0) -> float:
    """``value`` as a finite number no less than ``minimum``, else an ArgumentError."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ArgumentError(
            f"{name} must be a number, not {_short(value)}", argument=name, value=value
        )
    if isinstance(value, int) and not INT64[0] <= value <= INT64[1]:
        raise ArgumentError(f"{name}: {_short(value)} is too large", argument=name, value=value)
    if not math.isfinite(value) or value < minimum:
        raise ArgumentError(
            f"{name} must be a finite number, {minimum} or more, not {_short(value)}",
            argument=name,
            value=value,
        )
    return float(value)


@contextlib.contextmanager
def opening(path: str, close: Callable[[], Any] | None = None) -> Iterator[None]:
    """Around the steps that open a database file: a failure closes what was opened and
    says which file is damaged or not a database."""
    try:
        yield
    except BaseException as err:
        if close is not None:
            with contextlib.suppress(Exception):
                close()
        named = _about_file(err, path)
        if named is err:
            raise
        raise named from err


def _about_file(err: BaseException, path: str) -> BaseException:
    if isinstance(err, sqlite3.Error):
        return by_code(err, path) or err
    if isinstance(err, StorageError) and err.path is None:
        return type(err)(f"{path}: {err}", path=path)
    return err
