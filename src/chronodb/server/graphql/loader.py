"""SQL for GraphQL fields: filters, ordering, time travel, and batched loading of relations.

Rows are loaded one SQL statement per nesting level: when a list field resolves, the relation
fields selected below it are looked ahead (through fragments and aliases) and loaded for all
of its rows at once with ``WHERE fk IN (...)``, then the same one level further down. Values
are always bound parameters; identifiers come from the catalog (:mod:`.catalog`) only.

A point in time (``asOf``/``asOfTransaction``) becomes ``AS OF TIMESTAMP ?`` or
``AS OF TRANSACTION ?`` after each table name, ChronoDB's own temporal SQL, and is inherited
by the relations loaded below the field that named it.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from graphql import GraphQLError, GraphQLObjectType, GraphQLResolveInfo
from graphql.execution.collect_fields import collect_sub_fields
from graphql.execution.values import get_argument_values
from graphql.language import FieldNode

from chronodb.database import ChronoDB
from chronodb.layout import RANK
from chronodb.server.graphql.catalog import BLOB, Column, Relation, Table
from chronodb.server.graphql.sqlpieces import SQLITE_PIECES, SqlPieces, pieces_for

POINT = "\0point"  # a row's own point in time, for relations resolved one row at a time
HIDDEN = "\0"  # prefix of the keys under which prefetched relations wait in a row
_RANK = RANK


@dataclass(frozen=True, slots=True)
class Point:
    """A point in time: ``TIMESTAMP`` (epoch seconds or ISO text) or ``TRANSACTION`` (tx_id)."""

    kind: str
    value: Any

    @property
    def clause(self) -> str:
        return f" AS OF {self.kind} ?"


def point_of(args: Mapping[str, Any]) -> Point | None:
    """The point an ``asOf``/``asOfTransaction`` argument names, if any."""
    at, tx = args.get("asOf"), args.get("asOfTransaction")
    if at is not None and tx is not None:
        raise GraphQLError("give asOf or asOfTransaction, not both")
    if tx is not None:
        return Point("TRANSACTION", tx)
    if at is not None:
        return Point("TIMESTAMP", at)
    return None


@dataclass
class Context:
    """What the resolvers of one request share."""

    db: ChronoDB
    tables: dict[str, Table]  # by SQL name, lower-cased
    read_only: bool = False
    feed: Any = None  # the server's ChangeFeed, for subscriptions
    # Why a read at a point came back empty (a point before the table existed), for the
    # result's extensions; see chronodb/sql/pointnotes.py.
    notes: list[str] = field(default_factory=list)
    sql: SqlPieces = SQLITE_PIECES  # what differs in the SQL for db's backend

    def __post_init__(self) -> None:
        self.sql = pieces_for(self.db)

    def table(self, name: str) -> Table:
        return self.tables[name.lower()]


# ------------------------------------------------------------------ values
def decode_blob(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise GraphQLError(f"expected base64 text for a BLOB column, got {text[:40]!r}") from None


def to_sql_value(column: Column, value: Any) -> Any:
    return decode_blob(value) if column.scalar == BLOB else value


def to_rows(table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[dict]:
    """SQL rows as dicts keyed by GraphQL field; BLOBs as base64 text."""
    by_name = {c.name.lower(): c for c in table.columns}
    cols = [by_name.get(name.lower()) for name in columns]
    fields = [c.field if c is not None else None for c in cols]
    blobs = [i for i, c in enumerate(cols) if c is not None and c.scalar == BLOB]
    if None in fields:
        keep = [i for i, f in enumerate(fields) if f is not None]
        fields = [fields[i] for i in keep]
        blobs = [keep.index(i) for i in blobs]
        rows = ([row[i] for i in keep] for row in rows)
    out = [dict(zip(fields, row)) for row in rows]  # noqa: B905 (same length)
    if blobs:
        for row in out:
            for i in blobs:
                value = row[fields[i]]
                if isinstance(value, bytes):
                    row[fields[i]] = base64.b64encode(value).decode("ascii")
    return out


def values_to_row(table: Table, values: Mapping[str, Any] | None) -> dict | None:
    """A dict keyed by SQL column (history, change events) as a row keyed by field."""
    if values is None:
        return None
    names = list(values)
    return to_rows(table, names, [[values[n] for n in names]])[0]


# ------------------------------------------------------------------ SQL pieces
_OPS = {"eq": "=", "neq": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
TRUE, FALSE = "1 = 1", "1 = 0"  # conditions both backends take (PostgreSQL wants booleans)


def where_sql(
    table: Table,
    where: Mapping[str, Any] | None,
    params: list[Any],
    pieces: SqlPieces = SQLITE_PIECES,
) -> list[str]:
    """SQL conditions (joined by AND) for a ``where`` argument, in ``pieces``' backend."""
    if not where:
        return []
    by_field = table.by_field
    parts: list[str] = []
    for key, spec in where.items():
        if spec is None:
            continue
        if key == "_and":
            inner = [" AND ".join(where_sql(table, w, params, pieces) or [TRUE]) for w in spec]
            parts.append("(" + " AND ".join(f"({p})" for p in inner) + ")" if inner else TRUE)
        elif key == "_or":
            inner = [" AND ".join(where_sql(table, w, params, pieces) or [TRUE]) for w in spec]
            parts.append("(" + " OR ".join(f"({p})" for p in inner) + ")" if inner else FALSE)
        elif key == "_not":
            inner_sql = " AND ".join(where_sql(table, spec, params, pieces)) or TRUE
            parts.append("NOT (" + inner_sql + ")")
        else:
            column = by_field[key]
            for op, value in spec.items():
                parts.append(_condition(column, op, value, params, pieces))
    return parts


def _condition(column: Column, op: str, value: Any, params: list[Any], pieces: SqlPieces) -> str:
    col = column.sql
    if op == "is_null":
        return f"{col} IS NULL" if value else f"{col} IS NOT NULL"
    if op == "in":
        if value is None:
            return FALSE
        return pieces.in_list(col, [to_sql_value(column, v) for v in value], params)
    if value is None:
        if op == "eq":
            return f"{col} IS NULL"
        if op == "neq":
            return f"{col} IS NOT NULL"
        return FALSE
    params.append(to_sql_value(column, value))
    return f"{col} {pieces.like if op == 'like' else _OPS[op]} ?"


def equality_sql(table: Table, args: Mapping[str, Any], params: list[Any]) -> list[str]:
    """Conditions for the per-column equality arguments (``users(id: 1)``)."""
    parts = []
    for column in table.columns:
        if column.field in args and column.field not in _NOT_COLUMNS:
            value = args[column.field]
            if value is None:
                parts.append(f"{column.sql} IS NULL")
            else:
                params.append(to_sql_value(column, value))
                parts.append(f"{column.sql} = ?")
    return parts


_NOT_COLUMNS = frozenset({"where", "orderBy", "limit", "offset", "asOf", "asOfTransaction"})


def order_sql(table: Table, order_by: Sequence[Mapping[str, str]] | None) -> str:
    by_field = table.by_field
    terms: list[str] = []
    seen: set[str] = set()
    for item in order_by or ():
        for name, direction in item.items():
            if direction is not None and name not in seen:
                seen.add(name)
                terms.append(f"{by_field[name].sql} {direction}")
    for column in table.key:  # a stable order: the key breaks ties
        if column.field not in seen:
            terms.append(column.sql)
    return ", ".join(terms)


def _from(table: Table, point: Point | None, params: list[Any]) -> str:
    if point is None:
        return table.sql
    params.append(point.value)
    return table.sql + point.clause


def _run(ctx: Context, table: Table, sql: str, params: list[Any]) -> list[dict]:
    result = ctx.db.execute(sql, params)
    ctx.notes.extend(note for note in result.notes if note not in ctx.notes)
    return to_rows(table, result.columns, result.rows)


# ------------------------------------------------------------------ loading
def select_rows(
    ctx: Context,
    table: Table,
    args: Mapping[str, Any],
    point: Point | None,
    extra: Sequence[str] = (),
    extra_params: Sequence[Any] = (),
) -> list[dict]:
    """Rows of ``table`` for a list field's arguments, at ``point``."""
    params: list[Any] = []
    source = _from(table, point, params)
    conditions = [*extra]
    params.extend(extra_params)
    conditions += equality_sql(table, args, params)
    conditions += where_sql(table, args.get("where"), params, ctx.sql)
    sql = f"SELECT * FROM {source}"
    if conditions:
        sql += " WHERE " + " AND ".join(conditions)
    order = order_sql(table, args.get("orderBy"))
    if order:
        sql += " ORDER BY " + order
    limit, offset = args.get("limit"), args.get("offset")
    if limit is not None or offset is not None:
        sql += " LIMIT ? OFFSET ?"
        params += [ctx.sql.no_limit if limit is None else max(limit, 0), max(offset or 0, 0)]
    rows = _run(ctx, table, sql, params)
    if point is not None:
        for row in rows:
            row[POINT] = point
    return rows


def _key(row: Mapping[str, Any], columns: Sequence[Column]) -> Any:
    if len(columns) == 1:
        return row.get(columns[0].field)
    return tuple(row.get(c.field) for c in columns)


def load_related(
    ctx: Context,
    relation: Relation,
    parents: Sequence[Mapping[str, Any]],
    args: Mapping[str, Any],
    point: Point | None,
) -> list[Any]:
    """The related rows of each parent (a list, or one row or None), in one statement."""
    target = ctx.table(relation.target)
    keys: list[Any] = []
    seen: set[Any] = set()
    for parent in parents:
        key = _key(parent, relation.local)
        if key is None or (isinstance(key, tuple) and None in key):
            continue
        marker = key if not isinstance(key, list) else tuple(key)
        if marker not in seen:
            seen.add(marker)
            keys.append(key)
    if not keys:
        return [[] if relation.many else None for _ in parents]
    params: list[Any] = []
    source = _from(target, point, params)
    remote = relation.remote
    if len(remote) == 1:
        match = ctx.sql.in_list(remote[0].sql, keys, params)
    else:
        match = ctx.sql.in_tuples([c.sql for c in remote], keys, params)
    conditions = [match]
    if relation.many:
        conditions += equality_sql(target, args, params)
        conditions += where_sql(target, args.get("where"), params, ctx.sql)
    where = " AND ".join(conditions)
    order = order_sql(target, args.get("orderBy") if relation.many else None)
    limit, offset = args.get("limit"), args.get("offset")
    if relation.many and (limit is not None or offset is not None):
        # Per parent: rank each parent's rows and keep the window asked for.
        partition = ", ".join(c.sql for c in remote)
        over = f"PARTITION BY {partition}" + (f" ORDER BY {order}" if order else "")
        sql = (
            f"SELECT * FROM (SELECT *, row_number() OVER ({over}) AS {_RANK} "
            f"FROM {source} WHERE {where}) AS ranked WHERE {_RANK} > ? AND {_RANK} <= ?"
        )
        start = max(offset or 0, 0)
        params += [start, start + limit if limit is not None else 2**62]
        sql += f" ORDER BY {order}" if order else ""
    else:
        sql = f"SELECT * FROM {source} WHERE {where}"
        if order:
            sql += f" ORDER BY {order}"
    rows = _run(ctx, target, sql, params)
    if point is not None:
        for row in rows:
            row[POINT] = point
    if relation.many:
        groups: dict[Any, list[dict]] = {}
        for row in rows:
            groups.setdefault(_key(row, remote), []).append(row)
        return [groups.get(_key(p, relation.local), []) for p in parents]
    single = {_key(row, remote): row for row in rows}
    return [single.get(_key(p, relation.local)) for p in parents]


def prefetch(
    ctx: Context,
    table: Table,
    rows: list[dict],
    field_nodes: list[FieldNode],
    point: Point | None,
    info: GraphQLResolveInfo,
) -> None:
    """Load the relations selected under ``field_nodes`` for all ``rows``: one statement each.

    The results wait in each row under a hidden key named after the response key (the alias),
    where the relation's resolver finds them; then the next level down is loaded the same way.
    """
    if not rows or not table.relations:
        return
    object_type = info.schema.get_type(table.type_name)
    assert isinstance(object_type, GraphQLObjectType)
    selected = collect_sub_fields(
        info.schema, info.fragments, info.variable_values, object_type, field_nodes
    )
    relations = {r.field: r for r in table.relations}
    for response_key, nodes in selected.items():
        relation = relations.get(nodes[0].name.value)
        if relation is None:
            continue
        args = get_argument_values(
            object_type.fields[relation.field], nodes[0], info.variable_values
        )
        child_point = point_of(args) or point
        values = load_related(ctx, relation, rows, args, child_point)
        hidden = HIDDEN + response_key
        children: dict[int, dict] = {}
        for row, value in zip(rows, values, strict=True):
            row[hidden] = value
            for child in value if relation.many else (value,) if value is not None else ():
                children[id(child)] = child
        prefetch(ctx, ctx.table(relation.target), list(children.values()), nodes, child_point, info)


_LIKE_SPECIAL = re.compile(r"[%_]|[^%_]+")


def like_regex(pattern: str) -> re.Pattern[str]:
    """SQLite's LIKE (case-insensitive for ASCII) as a regular expression."""
    parts = []
    for token in _LIKE_SPECIAL.findall(pattern):
        parts.append(".*" if token == "%" else "." if token == "_" else re.escape(token))
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)
