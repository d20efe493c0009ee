"""Temporal statements on PostgreSQL: ChronoSQL parsed on sqlglot's postgres dialect, each
temporal table reference replaced by the layout's snapshot SQL (``chronodb.postgres.
snapshots``).

    SELECT * FROM t AS OF TRANSACTION %s WHERE id = %s
    -> SELECT * FROM (<t's rows at the newest id <= %(_pt0)s and <= the horizon>) AS t
       WHERE id = %(_2)s

A statement is parsed once into a :class:`Plan`; its points become named parameters
(``_pt{i}``), bound per call, and every point is bounded by the reader's horizon: the
parameter ``_hz`` when the engine took it before the statement's snapshot, else taken inside
the statement (``chronodb.postgres.bounds``, checked against the schema generation ``_hg``).

A snapshot is a subquery, and PostgreSQL infers that a table's key determines its other
columns only for a table, not a subquery; so where a query groups by the key of a table read
AS OF and uses its other columns (``GROUP BY users.id`` selecting ``users.name``, legal on
the current table), those columns join its GROUP BY. The key being unique in the snapshot,
the groups stay the same.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlglot import exp
from sqlglot.errors import ParseError

from chronodb.errors import SchemaError, SQLSyntaxError, TemporalError
from chronodb.postgres import Versioned, bounds
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
from chronodb.sql.rules.flat_joins import flat_joins
from chronodb.sql.rules.query_as_of import push_query_as_of
from chronodb.sql.temporal import Point, _collect_points, syntax_error

HORIZON = "_hz"
KNOWN = "_hg"  # the schema generation the engine knows, checked by an in-statement horizon
_SLOT = "chronodb slot {}"  # a temporal table's stand-in while the statement is generated
_GROUP = "chronodb group {}"  # where a slot's key-dependent columns join its GROUP BY


def point_param(index: int) -> str:
    """The name of the parameter holding point ``index`` of a statement."""
    return f"_pt{index}"


class HorizonNeeded(Exception):
    """Raised while rendering with no horizon taken before the statement (it is to be taken
    inside, ``chronodb.postgres.bounds``) when what a slot reads depends on its value: the
    engine then takes it before the statement and renders again. Never leaves the engine."""


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
    # Per slot read AS OF in a grouped query: its alias (SQL), the columns its query groups
    # by and the others it uses (see _grouped); None elsewhere.
    grouped: list[tuple[str, frozenset[str], frozenset[str]] | None]


def _table_name(table: exp.Table) -> str:
    """The name PostgreSQL resolves: unquoted names fold to lower case."""
    ident = table.this
    if isinstance(ident, exp.Identifier) and ident.quoted:
        return ident.name
    return table.name.lower()


_PLACEHOLDER = r"%\([^)]*\)[sbt]|%[sbt]"
_ESCAPED = re.compile(rf"%%|{_PLACEHOLDER}")
_PERCENT = re.compile(rf"{_PLACEHOLDER}|%")


def unescaped(text: str) -> str:
    """psycopg's text as SQL: a doubled ``%`` (modulo, or in a literal) single again."""
    return _ESCAPED.sub(lambda m: "%" if m.group(0) == "%%" else m.group(0), text)


def _escaped(text: str) -> str:
    """SQL as psycopg's text, which always has parameters here (the horizon): every
    ``%`` that is not a placeholder doubled."""
    return _PERCENT.sub(lambda m: "%%" if m.group(0) == "%" else m.group(0), text)


def plan(sql: str, escaped: bool = True) -> Plan:
    """Parse ``sql`` (psycopg placeholders; ``escaped``: with its other ``%`` doubled, as
    psycopg takes a statement with parameters) and set aside its temporal tables."""
    try:
        trees = parse(unescaped(sql) if escaped else sql, "postgresql")
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
    slots: list[tuple[str, str, tuple[int, ...], str]] = []
    fixed: list[dict[str, str]] = []
    grouped: list[tuple[str, frozenset[str], frozenset[str]] | None] = []
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
        # A parenthesized join, ``(a JOIN b ON ...)``, hangs its joins on its first table.
        if table.args.get("joins"):
            slot.set("joins", table.args["joins"])
        grouped.append(_grouped(table, len(slots)) if kind == "AS OF" else None)
        table.replace(slot)
        fixed.append(_fixed_columns(table, slot))
        slots.append((_table_name(table), kind, indexes, unit))
    text = _escaped(to_sql(tree, backend="postgresql"))
    return Plan(sql, points, text, slots, fixed, grouped)


def _column_name(column: exp.Column) -> str:
    ident = column.this
    return ident.name if isinstance(ident, exp.Identifier) and ident.quoted else column.name.lower()


def _grouped(table: exp.Table, number: int) -> tuple[str, frozenset[str], frozenset[str]] | None:
    """For ``table`` read in a query with a plain GROUP BY on some of its columns: its alias
    (SQL), those columns, and its other columns the query uses; a marker joins the GROUP BY,
    for :func:`render` to replace by the used columns if the grouped ones cover the key.

    A column is the table's if qualified by its alias (or name), or unqualified when the
    table is the query's only one.
    """
    holder = table.parent
    select = holder.parent if isinstance(holder, exp.From | exp.Join) else None
    if not isinstance(select, exp.Select):
        return None
    group = select.args.get("group")
    if group is None or any(group.args.get(k) for k in ("grouping_sets", "cube", "rollup")):
        return None
    names = {table.alias_or_name.lower(), table.name.lower()}
    alone = not select.args.get("joins")

    def mine(node: exp.Expression) -> bool:
        if not isinstance(node, exp.Column) or (node.args.get("table") is None and not alone):
            return False
        return not node.table or node.table.lower() in names

    by = {_column_name(c) for c in group.expressions if mine(c)}
    if not by:
        return None
    used = {
        _column_name(c)
        for c in select.find_all(exp.Column)
        if mine(c) and c.find_ancestor(exp.Select) is select
    }
    group.append("expressions", exp.column(_GROUP.format(number), quoted=True))
    alias = table.args.get("alias")
    ident = alias.this if alias is not None else table.this
    return to_sql(ident, backend="postgresql"), frozenset(by), frozenset(used - by)


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
    p: Plan,
    source: Callable[[int], Source],
    name: Callable[[int], str] = point_param,
    *,
    writer: bool = True,
    inside: bool = False,
) -> str:
    """The statement's SQL with each slot replaced by the snapshot of what ``source``
    (given the slot's number) says it reads; ``name``: the parameter of each point (by
    its index in ``p.points``); ``writer``: whether the reader may have written in its open
    transaction (``snapshots.as_of``); ``inside``: whether a NULL horizon parameter asks
    for the horizon to be taken inside the statement (``postgres/bounds.py``)."""
    text = p.text
    for number, (_, kind, indexes, unit) in enumerate(p.slots):
        src = source(number)
        v = src.v
        refs = [f"%({name(i)})s" for i in indexes]
        horizon = f"%({HORIZON})s"
        if inside and v is not None:
            horizon = bounds.expression(v.schema, horizon, f"%({KNOWN})s")
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
                body = as_of(v, point, writer=writer)
        elif kind == "CHANGES":
            body = changes(v, refs[0], refs[1], horizon)
        else:
            lo, hi = ([*refs, None, None])[:2]
            body = versions(v, range_condition(kind, lo, hi), horizon, src.until)
        text = _regroup(text, number, v if src.sql is None else None, p.grouped[number])
        text = text.replace(f'"{_SLOT.format(number)}"', body, 1)
    return text


def view_at(sql: str, unit: str, kind: str, points: Sequence[str]) -> str:
    """A view's query ``sql`` with each table it reads under the temporal clause ``kind``
    ("AS OF", or a range: "BETWEEN", "FROM", "CONTAINED IN", "ALL") of ``unit``
    ("TRANSACTION" or "TIMESTAMP"), its points the parameters named ``points``, to be
    planned as any statement."""
    try:
        trees = parse(sql, "postgresql")
    except ParseError as err:
        raise syntax_error(err, sql) from None
    tree = trees[0].transform(flat_joins)
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    for table in tree.find_all(exp.Table):
        if table.name.lower() in ctes and not table.db:
            continue
        at = [exp.Placeholder(this=exp.to_identifier(point)) for point in points]
        version = exp.Version(this=unit, kind=kind)
        if at:
            version.set("expression", at[0] if kind == "AS OF" else exp.Tuple(expressions=at))
        table.set("version", version)
    return to_sql(tree, backend="postgresql")


def unknown(p: Plan, name: str) -> SchemaError:
    """The error for a temporal clause on a table that never was versioned."""
    return SchemaError(
        f"no such versioned table: {name} (a temporal clause reads a table ChronoDB versions)",
        table=name,
        sql=p.sql,
    )


def _regroup(
    text: str,
    number: int,
    v: Versioned | None,
    grouped: tuple[str, frozenset[str], frozenset[str]] | None,
) -> str:
    """The GROUP BY marker of slot ``number`` replaced by the columns of ``v`` the query uses
    beside its grouped ones, if those cover ``v``'s key; else (or with no ``v``: a view, a
    table absent then) removed."""
    if grouped is None:
        return text
    alias, by, used = grouped
    extra = ""
    if v is not None and set(v.keys) <= by:
        extra = "".join(f", {alias}.{quote(c)}" for c in v.columns if c in used)
    return text.replace(f', "{_GROUP.format(number)}"', extra, 1)


def bind(
    p: Plan,
    params: Sequence[Any] | Mapping[str, Any] | None,
    horizon: int | None,
    evaluate: Callable[[str], Any],
    known: str | None = None,
) -> dict:
    """The parameters of the rendered statement: the user's, the points', the horizon
    (None: taken inside the statement, checked against the generation ``known``). A point
    given by an expression is computed by the server (``evaluate``)."""
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
            value = point.evaluated(evaluate, p.sql)
        values[point_param(index)] = value
    values[HORIZON] = horizon
    values[KNOWN] = known
    return values
