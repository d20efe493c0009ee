"""The table an INSERT into a missing table creates (``auto_create_tables``), on any backend.

The seed's quick start inserts into ``users`` without creating it:

    INSERT INTO users (id, name) VALUES (1, 'Alice')
    -> NewTable(schema=None, name='users',
                columns=(NewColumn('id', 'integer', True), NewColumn('name', 'text', False)))

Each column's kind comes from the values the statement gives it (literals or bound
parameters); a column named ``id`` whose values are integers is the primary key, or else
the first column if it is named ``id``. Each backend spells the kinds as its own types.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlglot import exp
from sqlglot.errors import ParseError

from chronodb.layout import is_internal
from chronodb.sql.dialect import parse

KINDS = ("integer", "real", "text", "blob", "boolean", "")
"""A column's kind: the Python type of all its values (integers and reals together are
"real"; booleans among numbers count as integers); "" for none or a mix."""

_KIND = {bool: "boolean", int: "integer", float: "real", str: "text", bytes: "blob"}


@dataclass(frozen=True)
class NewColumn:
    name: str
    kind: str
    primary: bool


@dataclass(frozen=True)
class NewTable:
    schema: str | None  # as the INSERT qualified its target, if it did
    name: str
    columns: tuple[NewColumn, ...]


def from_insert(
    sql: str, params: Sequence[Any] | Mapping[str, Any] | None, backend: str = "sqlite"
) -> NewTable | None:
    """The table the INSERT ``sql`` (``backend``'s SQL) would create, or None if it is no
    INSERT with a column list, or its target is ChronoDB's own. Names are the backend's:
    on PostgreSQL unquoted ones fold to lower case."""
    try:
        trees = parse(sql, backend)
    except ParseError:
        return None
    if len(trees) != 1:
        return None
    tree = trees[0]
    if not isinstance(tree, exp.Insert) or not isinstance(tree.this, exp.Schema):
        return None
    table = tree.this.this
    if not isinstance(table, exp.Table) or is_internal(table.name):
        return None
    fold = backend == "postgresql"
    names = [_name(c, fold) for c in tree.this.expressions]
    if not names:
        return None
    values: list[list[Any]] = [[] for _ in names]
    source = tree.args.get("expression")
    if isinstance(source, exp.Values):
        positions = {id(p): i for i, p in enumerate(source.find_all(exp.Placeholder)) if not p.this}
        for row in source.expressions:
            for i, cell in enumerate(row.expressions[: len(names)]):
                values[i].append(_cell_value(cell, params, positions))
    kinds = [_kind(v) for v in values]
    primary = [n.lower() == "id" and k == "integer" for n, k in zip(names, kinds, strict=True)]
    if not any(primary) and names[0].lower() == "id":
        primary[0] = True
    schema = _name(table.args["db"], fold) if table.args.get("db") else None
    columns = tuple(NewColumn(*c) for c in zip(names, kinds, primary, strict=True))
    return NewTable(schema, _name(table.this, fold), columns)


def _name(node: exp.Expr, fold: bool) -> str:
    """An identifier's name; with ``fold``, an unquoted one in lower case (PostgreSQL's)."""
    quoted = isinstance(node, exp.Identifier) and node.quoted
    return node.name.lower() if fold and not quoted else node.name


def _kind(values: list[Any]) -> str:
    kinds = {_KIND.get(type(v), "") for v in values if v is not None}
    if kinds and kinds <= {"integer", "boolean"}:
        return "boolean" if kinds == {"boolean"} else "integer"
    if kinds and kinds <= {"integer", "real", "boolean"}:
        return "real"
    return kinds.pop() if len(kinds) == 1 else ""


def _cell_value(
    cell: exp.Expr, params: Sequence[Any] | Mapping[str, Any] | None, positions: dict[int, int]
) -> Any:
    """A VALUES cell's value: a literal's, or its parameter's; None if neither."""
    if isinstance(cell, exp.Literal):
        if cell.is_string:
            return cell.this
        number = float(cell.this)
        return int(number) if number.is_integer() and "." not in cell.this else number
    if isinstance(cell, exp.Neg) and isinstance(cell.this, exp.Literal):
        return -_cell_value(cell.this, params, positions)
    if isinstance(cell, exp.Placeholder):
        if cell.this and isinstance(params, Mapping):
            return params.get(cell.name)
        # SQLite's ``?`` and ``?N`` carry their number; psycopg's ``%s`` count in order.
        index = cell.meta.get("index") if cell._meta else None
        index = index if index is not None else positions.get(id(cell), -1) + 1
        if isinstance(params, list | tuple) and 0 < index <= len(params):
            return params[index - 1]
    if isinstance(cell, exp.Boolean):
        return cell.this
    return None
