"""Temporal statements on PostgreSQL: ChronoSQL parsed on sqlglot's postgres dialect, each
temporal table reference replaced by the layout's snapshot SQL (``chronodb.postgres.
snapshots``).

    SELECT * FROM t AS OF TRANSACTION %s WHERE id = %s
    -> SELECT * FROM (<t's rows at the newest id <= %(_pt0)s and <= %(_hz)s>) AS t
       WHERE id = %(_2)s

A statement is parsed once into a :class:`Plan`; its points become named parameters
(``_pt{i}``), bound per call, and every point is bounded by the reader's horizon (``_hz``),
which the engine takes before the statement's snapshot.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlglot import exp
from sqlglot.errors import ParseError

from chronodb.errors import SchemaError, SQLSyntaxError, TemporalError
from chronodb.postgres import Versioned
from chronodb.postgres.changes import changes
from chronodb.postgres.names import quote
from chronodb.postgres.snapshots import (
    as_of,
    as_of_history,
    as_of_key,
    point_at_time,
    point_at_tx,
    range_condition,
    versions,
)
from chronodb.sql.dialect import QUERY_AS_OF, parse, to_sql
from chronodb.sql.rules.changes_function import ChangesArgumentError, changes_function
from chronodb.sql.rules.query_as_of import push_query_as_of
from chronodb.sql.temporal import Point, _collect_points, syntax_error

HORIZON = "_hz"
_SLOT = "chronodb slot {}"  # a temporal table's stand-in while the statement is generated


def _point_param(index: int) -> str:
    return f"_pt{index}"


@dataclass
class Plan:
    """A temporal statement, parsed: its SQL with a slot per temporal table, and its points."""

    sql: str
    points: list[Point]
    text: str  # the statement, each temporal table as a slot
    slots: list[tuple[str, str, tuple[int, ...], str]]  # table, kind, point indexes, unit
    # Per slot: the SQL of the value each column is fixed to by ``column = value`` (see
    # _fixed_columns); a slot whose key is fixed reads one key's version, a seek.
    fixed: list[dict[str, str]]


def _table_name(table: exp.Table) -> str:
    """The name PostgreSQL resolves: unquoted names fold to lower case."""
    ident = table.this
    if isinstance(ident, exp.Identifier) and ident.quoted:
        return ident.name
    return table.name.lower()


def plan(sql: str) -> Plan:
    """Parse ``sql`` (psycopg placeholders) and set aside its temporal tables."""
    try:
        trees = parse(sql, "postgresql")
    except ParseError as err:
        raise syntax_error(err, sql) from None
    if len(trees) != 1:
        raise SQLSyntaxError("Expected exactly one statement", sql=sql, position=0)
    tree = trees[0]
    try:
        tree = changes_function(tree)
    except ChangesArgumentError as err:
        raise TemporalError(str(err), sql=sql) from None
    points = _collect_points(tree, sql)
    tree = push_query_as_of(tree)
    for select in tree.find_all(exp.Select):
        if select.args.get(QUERY_AS_OF):
            raise TemporalError("AS OF outside a query", sql=sql)
    slots = []
    fixed = []
    for table in list(tree.find_all(exp.Table)):
        version = table.args.get("version")
        if version is None:
            continue
        kind = version.text("kind").upper()
        indexes = tuple(version.meta.get("points", ()))
        unit = version.meta.get("unit", "TIMESTAMP")
        # The table's alias, or its name, spelled (and quoted, or not) as written.
        given = table.args.get("alias")
        alias = given.this.copy() if given is not None else table.this.copy()
        slot = exp.Table(this=exp.to_identifier(_SLOT.format(len(slots)), quoted=True))
        slot.set("alias", exp.TableAlias(this=alias))
        table.replace(slot)
        fixed.append(_fixed_columns(table, slot))
        slots.append((_table_name(table), kind, indexes, unit))
    text = to_sql(tree, backend="postgresql")
    return Plan(sql, points, text, slots, fixed)


def _fixed_columns(table: exp.Table, slot: exp.Table) -> dict[str, str]:
    """The columns of ``table`` (now ``slot``) its query fixes with ``column = value``.

    Only for a table read alone (no joins) whose WHERE has, at its top level, equalities
    with a literal or a parameter: if they cover the key, AS OF needs one seek, not a scan.
    """
    from_ = slot.parent
    select = from_.parent if isinstance(from_, exp.From) else None
    if not isinstance(select, exp.Select) or select.args.get("joins"):
        return {}
    where = select.args.get("where")
    if where is None:
        return {}
    names = {table.alias_or_name.lower(), table.name.lower()}
    found: dict[str, str] = {}
    conditions = where.this.flatten() if isinstance(where.this, exp.And) else [where.this]
    for cond in conditions:
        if not isinstance(cond, exp.EQ):
            continue
        for col, value in ((cond.this, cond.expression), (cond.expression, cond.this)):
            if not isinstance(col, exp.Column) or (col.table and col.table.lower() not in names):
                continue
            if isinstance(value, exp.Placeholder | exp.Literal) or (
                isinstance(value, exp.Neg) and isinstance(value.this, exp.Literal)
            ):
                column = col.this
                name = column.name if column.quoted else column.name.lower()
                found.setdefault(name, to_sql(value, backend="postgresql"))
    return found


@dataclass(frozen=True)
class Source:
    """What one temporal table reference reads: ``v`` as it is now (its current rows
    serve AS OF), or one of its past shapes (``past``: AS OF reads history alone), or,
    with ``v`` None, no table of that name at the point: no rows, with the columns
    ``empty`` (name, type). ``until``: for ranges, the (id, time) of the transaction that
    dropped the table or renamed it away."""

    v: Versioned | None
    past: bool = False
    empty: tuple[tuple[str, str], ...] = ()
    until: tuple[int, int] | None = None
    sql: str | None = None
    """A view's query at the point, its tables read AS OF it (``v`` is then None)."""


def render(
    p: Plan, source: Callable[[int], Source], name: Callable[[int], str] = _point_param
) -> str:
    """The statement's SQL with each slot replaced by the snapshot of what ``source``
    (given the slot's number) says it reads; ``name``: the parameter of each point (by
    its index in ``p.points``)."""
    text = p.text
    for number, (_, kind, indexes, unit) in enumerate(p.slots):
        src = source(number)
        v = src.v
        refs = [f"%({name(i)})s" for i in indexes]
        horizon = f"%({HORIZON})s"
        if src.sql is not None:
            body = f"({src.sql})"
        elif v is None:
            nulls = ", ".join(f"NULL::{kind} AS {quote(name)}" for name, kind in src.empty)
            body = f"(SELECT {nulls} WHERE false)"
        elif kind == "AS OF":
            find = point_at_tx if unit == "TRANSACTION" else point_at_time
            point = find(v, refs[0], horizon)
            key = [p.fixed[number].get(k) for k in v.keys]
            if all(ref is not None for ref in key):
                body = as_of_key(v, point, [ref for ref in key if ref is not None])
            elif src.past:
                body = as_of_history(v, point)
            else:
                body = as_of(v, point)
        elif kind == "CHANGES":
            body = changes(v, refs[0], refs[1], horizon)
        else:
            lo, hi = ([*refs, None, None])[:2]
            body = versions(v, range_condition(kind, lo, hi), horizon, src.until)
        text = text.replace(f'"{_SLOT.format(number)}"', body, 1)
    return text


def view_at(sql: str, unit: str, point: str) -> str:
    """A view's query ``sql`` with each table it reads AS OF the point named ``point`` (a
    parameter) of ``unit`` ("TRANSACTION" or "TIMESTAMP"), to be planned as any statement."""
    try:
        trees = parse(sql, "postgresql")
    except ParseError as err:
        raise syntax_error(err, sql) from None
    tree = trees[0]
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    for table in tree.find_all(exp.Table):
        if table.name.lower() in ctes and not table.db:
            continue
        at = exp.Placeholder(this=exp.to_identifier(point))
        table.set("version", exp.Version(this=unit, kind="AS OF", expression=at))
    return to_sql(tree, backend="postgresql")


def unknown(p: Plan, name: str) -> SchemaError:
    """The error for a temporal clause on a table that never was versioned."""
    return SchemaError(
        f"no such versioned table: {name} (a temporal clause reads a table ChronoDB versions)",
        table=name,
        sql=p.sql,
    )


def bind(p: Plan, params: Sequence[Any] | Mapping[str, Any] | None, horizon: int) -> dict:
    """The parameters of the rendered statement: the user's, the points', the horizon."""
    if params is None:
        values: dict[str, Any] = {}
    elif isinstance(params, Mapping):
        values = dict(params)
    else:
        values = {f"_{i}": value for i, value in enumerate(params, 1)}
    for index, point in enumerate(p.points):
        if point.literal is not None:
            value: Any = point.literal
        elif point.param is not None:
            key = f"_{point.param}" if isinstance(point.param, int) else point.param
            if key not in values:
                raise TemporalError(
                    f"no value for the point in time's parameter {point.param}",
                    sql=p.sql,
                    position=point.position,
                )
            value = point.convert(values[key], p.sql)
        else:
            raise TemporalError(
                "a point in time on PostgreSQL is a literal or a parameter; got "
                f"{point.expression!r}",
                sql=p.sql,
                position=point.position,
            )
        values[_point_param(index)] = value
    values[HORIZON] = horizon
    return values
