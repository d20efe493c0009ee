"""Pieces of the history SQL as sqlglot expressions, for either backend's dialect.

The history readers of both backends (``postgres/snapshots.py``, ``postgres/changes.py``,
``postgres/bounds.py``, ``versioning/history.py``) build their statements from these and
render them once with their dialect (:func:`render`): a user's name is always a quoted
identifier, never text spliced into SQL, and one builder serves both dialects where the
statement has the same shape. SQLite's AS OF and range SQL (``sql/snapshots.py``) is built
from these too.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import sqlglot
from sqlglot import exp

from chronodb.layout import DELETED, OP

SQL = str | exp.Expr
"""SQL given to a builder: text of the dialect (parameters such as psycopg's ``%(name)s``
or SQLite's ``?`` kept) or an expression."""

PERIOD = ("sys_from", "sys_to")  # the columns a range of versions adds, in seconds

POSTGRES = "postgres"
SQLITE = "sqlite"


def render(tree: exp.Expr, dialect: str) -> str:
    """``tree`` as text of ``dialect``: the one place the history SQL becomes text.

    Function names keep their case: sqlglot would otherwise upper-case the quoted name of
    a function read as a table (``_chrono_c{N}_t``). A parameter parsed from text is an
    ``exp.Placeholder`` and renders back as written.
    """
    return tree.sql(dialect=dialect, normalize_functions=False)


@functools.lru_cache(maxsize=512)
def _parsed(text: str, dialect: str) -> exp.Expr:
    """SQL text parsed once: the same points and horizons recur in every statement."""
    return sqlglot.parse_one(text, dialect=dialect)


def tree(text: SQL, dialect: str) -> exp.Expr:
    """SQL text (or an expression) as an expression of the caller's own to change."""
    return (_parsed(text, dialect) if isinstance(text, str) else text).copy()


def operand(text: SQL, dialect: str) -> exp.Expr:
    """SQL text (or an expression) as an expression, parenthesised where an operator
    inside it would otherwise bind to its neighbours."""
    return paren(tree(text, dialect))


def paren(found: exp.Expr) -> exp.Expr:
    """An expression parenthesised where an operator inside it would otherwise bind to its
    neighbours: a query becomes a subquery, an operation is wrapped."""
    if isinstance(found, exp.Subquery | exp.Paren):
        return found
    if isinstance(found, exp.Query):
        return found.subquery(copy=False)
    if isinstance(found, exp.Binary | exp.Not | exp.Predicate):
        return exp.paren(found, copy=False)
    return found


def name(text: str) -> exp.Identifier:
    """A name of the layout or the user, always quoted (case and keywords kept)."""
    return exp.to_identifier(text, quoted=True)


def col(alias: str | None, column: str, *, quoted: bool = True) -> exp.Column:
    """Column ``column`` of ``alias`` (an unquoted alias of the builder's own SQL);
    ``quoted``: a user's or history's name, quoted; otherwise a name of the layout's own
    tables."""
    return exp.Column(
        this=exp.to_identifier(column, quoted=quoted),
        table=None if alias is None else exp.to_identifier(alias),
    )


def star(alias: str) -> exp.Column:
    """``alias.*``."""
    return exp.Column(this=exp.Star(), table=exp.to_identifier(alias))


def _alias(alias: str | None) -> exp.TableAlias | None:
    return None if alias is None else exp.TableAlias(this=exp.to_identifier(alias))


def table(
    schema: str, table_name: str, alias: str | None = None, *, quoted_schema: bool = True
) -> exp.Table:
    """``schema.table_name`` as ``alias``: the table's name quoted, the schema too unless
    it is a fixed name of the layout (SQLite's ``main``)."""
    return exp.Table(
        this=name(table_name),
        db=exp.to_identifier(schema, quoted=quoted_schema),
        alias=_alias(alias),
    )


def local(local_name: str, alias: str | None = None) -> exp.Table:
    """A common table expression of the builder's own SQL, by ``local_name``."""
    return exp.Table(this=exp.to_identifier(local_name), alias=_alias(alias))


def desc(column: exp.Expr, *, nulls_first: bool = True) -> exp.Ordered:
    """``column DESC``; ``nulls_first``: where the dialect puts NULLs in that order, so no
    NULLS clause is written (first on PostgreSQL, its default: a backward index scan; last
    on SQLite)."""
    return exp.Ordered(this=column, desc=True, nulls_first=nulls_first)


def asc(column: exp.Expr, *, nulls_first: bool) -> exp.Ordered:
    """``column`` ascending; ``nulls_first``: the dialect's default for it (SQLite puts
    NULLs first, PostgreSQL last), so that no NULLS clause is written."""
    return exp.Ordered(this=column, nulls_first=nulls_first)


def same(
    pairs: Sequence[tuple[exp.Expr, exp.Expr]], op: type[exp.Binary] = exp.EQ
) -> list[exp.Expr]:
    """A comparison per pair (``op``, equality unless given): the columns of a key, matched."""
    return [op(this=a, expression=b) for a, b in pairs]


def string(text: str) -> exp.Literal:
    """``text`` as an SQL string literal."""
    return exp.Literal.string(text)


def concat(parts: Sequence[exp.Expr]) -> exp.Expr:
    """``parts[0] || parts[1] || …``: text joined with SQL's concatenation operator."""
    joined = parts[0]
    for part in parts[1:]:
        joined = exp.DPipe(this=joined, expression=part)
    return joined


def not_tombstone(alias: str) -> exp.Expr:
    """``alias`` is a version, not a tombstone (which only ends its key's period)."""
    return exp.NEQ(this=col(alias, OP, quoted=False), expression=exp.Literal.string(DELETED))


def newest(
    select: Sequence[exp.Expr],
    source: exp.Table,
    where: Sequence[exp.Expr],
    order: Sequence[exp.Expr],
    joins: Sequence[exp.Expr] = (),
) -> exp.Select:
    """The first row of ``source`` (``joins`` joined) matching ``where`` in ``order``: a
    key's newest version at or before a point, one seek of the key index."""
    query = exp.select(*select, copy=False).from_(source, copy=False)
    for join in joins:
        query = query.join(join, copy=False)
    return query.where(*where, copy=False).order_by(*order, copy=False).limit(1, copy=False)


def lead(
    column: exp.Expr,
    partition: Sequence[exp.Expr],
    order: Sequence[exp.Expr],
    *,
    nulls_first: bool,
) -> exp.Window:
    """``lead(column) OVER (PARTITION BY partition ORDER BY order)``: ``column`` of the
    key's next version; ``nulls_first`` as for :func:`asc`."""
    return exp.Window(
        this=exp.func("lead", column),
        partition_by=list(partition),
        order=exp.Order(expressions=[asc(o, nulls_first=nulls_first) for o in order]),
        over="OVER",
    )


def in_seconds(micros: exp.Expr, as_name: str, million: exp.Expr) -> exp.Expr:
    """``micros`` (a time in µs) in seconds, as ``as_name``; ``million`` is 1e6 as the
    dialect divides by it to get a double."""
    return exp.alias_(
        exp.Div(this=paren(micros), expression=million, typed=True, safe=False),
        as_name,
        copy=False,
    )


def range_condition(
    kind: str,
    lo: exp.Expr | None,
    hi: exp.Expr | None,
    start: exp.Column,
    end: exp.Column,
    true: exp.Expr,
) -> exp.Expr:
    """SQL:2011 period predicates (``FOR SYSTEM_TIME ALL``, ``BETWEEN``, ``FROM … TO``,
    ``CONTAINED IN``) over a version's ``start`` and ``end`` (µs; the end NULL while the
    version is current), on microsecond bounds. ``true``: the dialect's truth, which on
    SQLite is ``1``: its ``TRUE`` would name a column of that name if the table has one.

    The end is named once in each: on SQLite every use of it is a seek of the key index.
    A current version is not contained in any period (its NULL end compares as unknown).
    """
    if kind == "ALL":
        return true
    if kind not in ("BETWEEN", "FROM", "CONTAINED IN"):
        raise ValueError(f"unknown period predicate: {kind}")
    if lo is None or hi is None:
        raise ValueError(f"{kind} needs both bounds")
    low, high = paren(lo), paren(hi)
    if kind == "CONTAINED IN":
        return exp.and_(
            exp.GTE(this=start, expression=low), exp.LTE(this=end, expression=high), copy=False
        )
    begins = exp.LTE if kind == "BETWEEN" else exp.LT
    end_after = exp.func("coalesce", exp.GT(this=end, expression=low), true)
    return exp.and_(begins(this=start, expression=high), end_after, copy=False)
