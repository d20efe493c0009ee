"""The public API's error boundary: what SQLite, sqlglot or Python raise underneath a public
call leaves it as a ChronoDBError (see ``chronodb/errors.py``).

``@guarded`` wraps one method; ``guard_class`` wraps every public method of a class. The
wrapper costs one Python call on success; naming the culprit (``_translate.py``: which
argument, which character, which integer) is done only once something failed.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import sqlite3
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from chronodb._translate import FOREIGN, translate
from chronodb.errors import ArgumentError, ChronoDBError, StorageError
from chronodb.storage.sqlite_errors import about_the_file

F = TypeVar("F", bound=Callable[..., Any])
C = TypeVar("C", bound=type)
_SELF_GUARDED = "__chronodb_guards_itself__"


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


def guarded(fn: F, before: Callable[[Any], None] | None = None) -> F:
    """Wrap ``fn`` so that only ChronoDBError subclasses leave it; ``before(self)`` runs
    first (for a method), e.g. to refuse a call on a closed object."""
    if inspect.isgeneratorfunction(getattr(fn, "__wrapped__", None)):
        return _guarded_context(fn, before)  # type: ignore[return-value]

    @functools.wraps(fn)
    def wrapper(*args: Any, **kw: Any) -> Any:
        if before is not None and args:
            before(args[0])
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


def _guarded_context(
    fn: Callable[..., Any], before: Callable[[Any], None] | None = None
) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kw: Any) -> _GuardedContext:
        if before is not None and args:
            before(args[0])
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


def guard_class(
    before: Callable[[Any], None] | None = None, *, skip: tuple[str, ...] = ()
) -> Callable[[C], C]:
    """A class decorator wrapping every public method (and the constructor) with
    :func:`guarded`; ``before(self)`` runs ahead of each public method not in ``skip``."""

    def decorate(cls: C) -> C:
        for name, member in list(vars(cls).items()):
            if name.startswith("_") and name != "__init__":
                continue
            if getattr(member, _SELF_GUARDED, False):
                continue
            check = None if name == "__init__" or name in skip else before
            if isinstance(member, classmethod | staticmethod):
                wrapped = guarded(member.__func__)
                setattr(cls, name, type(member)(wrapped))
            elif inspect.isfunction(member):
                setattr(cls, name, guarded(member, check))
        return cls

    return decorate


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
        return about_the_file(err, path) or err
    if isinstance(err, StorageError) and err.path is None:
        return type(err)(f"{path}: {err}", path=path)
    return err
