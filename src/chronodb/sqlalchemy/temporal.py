"""``for_system_time``: a table or mapped class read at a point, over a range, or whole.

The construct is an alias of the table that compiles to ChronoDB's temporal SQL::

    users AS users_1 AS OF TIMESTAMP ?          as_of=<time>
    users AS users_1 AS OF TRANSACTION ?        as_of=transaction(n)
    users AS users_1 FOR SYSTEM_TIME BETWEEN ? AND ?    between=(a, b)
    users AS users_1 FOR SYSTEM_TIME FROM ? TO ?        from_to=(a, b)
    users AS users_1 FOR SYSTEM_TIME ALL                all=True

so it works wherever an alias does (``select()``, joins, subqueries; ``aliased()`` for a
mapped class). Points are bound parameters, so compiled statements are cached once per
shape. The range forms add the period columns ``sys_from`` and ``sys_to`` (epoch seconds;
``sys_to`` NULL while current) as attributes of the construct.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Float, bindparam
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.elements import BindParameter, ColumnClause
from sqlalchemy.sql.selectable import Alias, FromClause
from sqlalchemy.sql.sqltypes import NullType
from sqlalchemy.sql.visitors import InternalTraversal

from chronodb.errors import ArgumentError
from chronodb.timepoint import iso, to_micros


@dataclass(frozen=True)
class TransactionPoint:
    """The state after transaction ``tx_id`` (``AS OF TRANSACTION``)."""

    tx_id: int


def transaction(tx_id: int) -> TransactionPoint:
    """The point just after transaction ``tx_id``, for ``as_of=`` or ``chronodb_as_of``."""
    if isinstance(tx_id, bool) or not isinstance(tx_id, int) or tx_id < 0:
        raise ArgumentError(
            f"transaction id must be a non-negative int, got {tx_id!r}",
            argument="tx_id",
            value=tx_id,
        )
    return TransactionPoint(tx_id)


def point_literal(point: object) -> tuple[str, int | str]:
    """``point`` as ChronoDB reads it: ("TRANSACTION", id) or ("TIMESTAMP", ISO-8601 UTC).

    A time (datetime, epoch seconds, ISO string; naive means UTC) becomes its exact ISO
    text, so no driver's date conversion or float rounding can move it.
    """
    if isinstance(point, TransactionPoint):
        return "TRANSACTION", point.tx_id
    return "TIMESTAMP", iso(to_micros(point))


def _bound(point: object) -> BindParameter[Any]:
    # Untyped: a typed bind is cast on PostgreSQL (``%(p)s::VARCHAR``), which the temporal
    # clause does not take; the value is already the int or ISO text ChronoDB reads.
    _, value = point_literal(point)
    return bindparam(None, value, type_=NullType())


class TemporalAlias(Alias):
    """A table read at a point or over a range; see :func:`for_system_time`."""

    __visit_name__ = "chronodb_temporal"
    inherit_cache = True

    _traverse_internals = [
        *Alias._traverse_internals,
        ("kind", InternalTraversal.dp_string),
        ("points", InternalTraversal.dp_clauseelement_tuple),
    ]

    kind: str
    points: tuple[BindParameter[Any], ...]
    sys_from: ColumnElement[float]
    sys_to: ColumnElement[float]

    def _init(  # type: ignore[override]
        self,
        selectable: Any,
        *,
        name: str | None = None,
        kind: str = "ALL",
        points: tuple[BindParameter[Any], ...] = (),
    ) -> None:
        super()._init(selectable, name=name)
        self.kind = kind
        self.points = points
        self.sys_from = ColumnClause("sys_from", type_=Float(), _selectable=self)
        self.sys_to = ColumnClause("sys_to", type_=Float(), _selectable=self)

    def clause(self, compiler: Any, **kw: Any) -> str:
        """The temporal clause, its points rendered as bound parameters."""
        rendered = [compiler.process(p, **kw) for p in self.points]
        if self.kind == "AS OF TRANSACTION":
            return f"AS OF TRANSACTION {rendered[0]}"
        if self.kind == "AS OF TIMESTAMP":
            return f"AS OF TIMESTAMP {rendered[0]}"
        if self.kind == "BETWEEN":
            return f"FOR SYSTEM_TIME BETWEEN {rendered[0]} AND {rendered[1]}"
        if self.kind == "FROM":
            return f"FOR SYSTEM_TIME FROM {rendered[0]} TO {rendered[1]}"
        return "FOR SYSTEM_TIME ALL"


@compiles(TemporalAlias)
def _compile_temporal(element: TemporalAlias, compiler: Any, **kw: Any) -> str:
    text = compiler.visit_alias(element, **kw)
    if kw.get("asfrom"):
        return f"{text} {element.clause(compiler, **kw)}"
    return text


def _table_of(target: Any) -> tuple[FromClause, Any]:
    """The table to read, and the mapped class when ``target`` is one."""
    if isinstance(target, FromClause):
        return target, None
    from sqlalchemy import inspect

    mapper = inspect(target, raiseerr=False)
    local = getattr(mapper, "local_table", None)
    if local is None:
        raise ArgumentError(
            f"for_system_time() takes a Table or a mapped class, got {target!r}",
            argument="table_or_entity",
            value=target,
        )
    return local, mapper.class_


def for_system_time(
    table_or_entity: Any,
    *,
    as_of: object = None,
    between: tuple[object, object] | None = None,
    from_to: tuple[object, object] | None = None,
    all: bool = False,
    name: str | None = None,
) -> Any:
    """``table_or_entity`` read as of a point, over a period, or with every version.

    Give exactly one of ``as_of`` (a datetime, epoch seconds, an ISO-8601 string, or
    :func:`transaction` (n)), ``between=(a, b)`` (versions alive at some time in [a, b]),
    ``from_to=(a, b)`` (in [a, b)) or ``all=True``. A Table gives a
    :class:`TemporalAlias` (use its ``.c`` columns, and ``.sys_from``/``.sys_to`` for the
    periods); a mapped class gives ``aliased(Model, that alias)``, whose attributes work in
    ``select()``, joins and ``where()``. ``name`` names the alias (anonymous by default).
    """
    chosen = [
        key
        for key, value in (
            ("as_of", as_of),
            ("between", between),
            ("from_to", from_to),
            ("all", all or None),
        )
        if value is not None
    ]
    if len(chosen) != 1:
        raise ArgumentError(
            "for_system_time() takes exactly one of as_of=, between=, from_to= or all=True; "
            f"got {', '.join(chosen) or 'none'}",
            argument="as_of",
            value=chosen,
        )
    table, entity = _table_of(table_or_entity)
    if as_of is not None:
        unit, _ = point_literal(as_of)
        points: tuple[BindParameter[Any], ...] = (_bound(as_of),)
        kind = f"AS OF {unit}"
    elif between is not None or from_to is not None:
        pair = between if between is not None else from_to
        if not isinstance(pair, tuple | list) or len(pair) != 2:
            raise ArgumentError(
                f"a period is a pair (start, end), got {pair!r}", argument=chosen[0], value=pair
            )
        kind = "BETWEEN" if between is not None else "FROM"
        points = tuple(_bound(p) for p in pair)
        if any(isinstance(p, TransactionPoint) for p in pair):
            raise ArgumentError(
                "a period is bounded by times, not transactions", argument=chosen[0], value=pair
            )
    else:
        kind, points = "ALL", ()
    alias = TemporalAlias._construct(table, name=name, kind=kind, points=points)
    if entity is None:
        return alias
    return aliased(entity, alias)
