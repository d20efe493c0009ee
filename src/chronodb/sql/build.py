"""Pieces of the history SQL as sqlglot expressions, for either backend's dialect.

The history readers of both backends (``postgres/snapshots.py``, ``postgres/changes.py``,
``postgres/bounds.py``, ``versioning/history.py``) build their statements from these and
render them once with their dialect (:func:`render`): a user's name is always a quoted
identifier, never text spliced into SQL, and one builder serves both dialects where the
statement has the same shape.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import sqlglot
from sqlglot import exp

SQL = str | exp.Expr
"""SQL given to a builder: text of the dialect (parameters such as psycopg's ``%(name)s``
or SQLite's ``?`` kept) or an expression."""

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
    found = tree(text, dialect)
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


def desc(column: exp.Expr) -> exp.Ordered:
    """``column DESC``, nulls first as PostgreSQL's default: a backward index scan."""
    return exp.Ordered(this=column, desc=True, nulls_first=True)


def same(pairs: Sequence[tuple[exp.Expr, exp.Expr]]) -> list[exp.Expr]:
    """An equality per pair (the columns of a key, matched)."""
    return [exp.EQ(this=a, expression=b) for a, b in pairs]


def string(text: str) -> exp.Literal:
    """``text`` as an SQL string literal."""
    return exp.Literal.string(text)


def concat(parts: Sequence[exp.Expr]) -> exp.Expr:
    """``parts[0] || parts[1] || …``: text joined with SQL's concatenation operator."""
    joined = parts[0]
    for part in parts[1:]:
        joined = exp.DPipe(this=joined, expression=part)
    return joined
