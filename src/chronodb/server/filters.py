"""A subscription's ``where`` filter, compiled once into a predicate over a row's values.

{"status": "shipped"}                        equality
{"total": {"gt": 100}, "status": {"in": ["a", "b"]}}
operators: eq, ne (neq), gt, gte, lt, lte, in; all conditions must hold.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping
from typing import Any

Predicate = Callable[[Mapping[str, Any]], bool]

_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "neq": operator.ne,
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
    "in": lambda value, options: value in options,
}


class FilterError(ValueError):
    """A ``where`` filter that cannot be used; the message says why."""


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _condition(column: str, spec: Any) -> Callable[[Any], bool]:
    if not isinstance(spec, dict):
        if not _scalar(spec):
            raise FilterError(f"where.{column}: expected a value or an operator object")
        return lambda value: value == spec
    if not spec:
        raise FilterError(f"where.{column}: an operator object needs at least one operator")
    tests: list[tuple[Callable[[Any, Any], bool], Any]] = []
    for name, operand in spec.items():
        op = _OPERATORS.get(name)
        if op is None:
            raise FilterError(
                f"where.{column}: unknown operator {name!r} (use {', '.join(_OPERATORS)})"
            )
        if name == "in":
            if not isinstance(operand, list) or not all(_scalar(v) for v in operand):
                raise FilterError(f"where.{column}.in: expected a list of values")
        elif not _scalar(operand):
            raise FilterError(f"where.{column}.{name}: expected a value")
        tests.append((op, operand))

    def check(value: Any) -> bool:
        try:
            return all(op(value, operand) for op, operand in tests)
        except TypeError:  # e.g. NULL > 100, or text compared with a number
            return False

    return check


def compile_where(where: Any, columns: Iterable[str]) -> Predicate | None:
    """A predicate for ``where`` on a table with ``columns``; None matches every row."""
    if where is None:
        return None
    if not isinstance(where, dict):
        raise FilterError('where: expected an object such as {"status": "shipped"}')
    known = {c.lower(): c for c in columns}
    checks: list[tuple[str, Callable[[Any], bool]]] = []
    for column, spec in where.items():
        name = known.get(column.lower())
        if name is None:
            raise FilterError(f"where: no column {column!r} (columns: {', '.join(known.values())})")
        checks.append((name, _condition(name, spec)))
    if not checks:
        return None

    def predicate(row: Mapping[str, Any]) -> bool:
        return all(check(row.get(name)) for name, check in checks)

    return predicate
