"""insert_<t>, update_<t>, delete_<t>: each one transaction, returning the rows it touched."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from graphql import GraphQLError, GraphQLObjectType, GraphQLResolveInfo
from graphql.execution.collect_fields import collect_sub_fields

from chronodb.database import engine_of
from chronodb.errors import ReadOnlyError
from chronodb.server.graphql.catalog import Table
from chronodb.server.graphql.loader import (
    TRUE,
    Context,
    prefetch,
    to_rows,
    to_sql_value,
    where_sql,
)
from chronodb.server.graphql.sqlpieces import SqlPieces

READ_ONLY_MESSAGE = "this server is read-only: mutations are refused"

Statement = tuple[str, list[Any]]


def insert(table: Table, args: Mapping[str, Any], pieces: SqlPieces) -> list[Statement]:
    """One INSERT per distinct set of columns given, in the order the objects came."""
    by_field = table.by_field
    groups: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
    for obj in args["objects"]:
        groups.setdefault(tuple(obj), []).append(obj)
    statements: list[tuple[str, list[Any]]] = []
    for fields, objects in groups.items():
        if not fields:
            statements += [(f"INSERT INTO {table.sql} DEFAULT VALUES RETURNING *", [])] * len(
                objects
            )
            continue
        columns = [by_field[f] for f in fields]
        row = "(" + ", ".join("?" * len(columns)) + ")"
        params = [to_sql_value(c, obj[c.field]) for obj in objects for c in columns]
        names = ", ".join(c.sql for c in columns)
        values = ", ".join([row] * len(objects))
        statements.append(
            (f"INSERT INTO {table.sql} ({names}) VALUES {values} RETURNING *", params)
        )
    return statements


def update(table: Table, args: Mapping[str, Any], pieces: SqlPieces) -> list[Statement]:
    changes = args["set"]
    if not changes:
        raise GraphQLError("set: give at least one column to change")
    by_field = table.by_field
    params: list[Any] = []
    assignments = []
    for field, value in changes.items():
        column = by_field[field]
        assignments.append(f"{column.sql} = ?")
        params.append(to_sql_value(column, value))
    conditions = where_sql(table, args["where"], params, pieces) or [TRUE]
    sql = f"UPDATE {table.sql} SET {', '.join(assignments)} WHERE {' AND '.join(conditions)}"
    return [(sql + " RETURNING *", params)]


def delete(table: Table, args: Mapping[str, Any], pieces: SqlPieces) -> list[Statement]:
    params: list[Any] = []
    conditions = where_sql(table, args["where"], params, pieces) or [TRUE]
    return [(f"DELETE FROM {table.sql} WHERE {' AND '.join(conditions)} RETURNING *", params)]


def _run(ctx: Context, table: Table, statements: Sequence[Statement]) -> dict[str, Any]:
    db = ctx.db
    rows: list[dict] = []
    if len(statements) == 1:  # a transaction of its own: its Result names it
        sql, params = statements[0]
        result = db.execute(sql, params)
        rows = to_rows(table, result.columns, result.rows)
        tx = (result.tx_id, result.tx_time, result.tx_hash)
    else:
        # Several statements, one transaction, named by its COMMIT (PostgreSQL gives the id
        # only then). The lock, taken before BEGIN, keeps other threads' COMMITs out until
        # the engine's last one is read.
        engine = engine_of(db)
        with engine.lock:
            with db.transaction():
                for sql, params in statements:
                    result = db.execute(sql, params)
                    rows += to_rows(table, result.columns, result.rows)
            made = engine.last_commit
        tx = (None, None, None) if made is None else (made.tx_id, made.tx_time, made.tx_hash)
    if not rows:  # nothing changed: the transaction was dropped
        tx = (None, None, None)
    return {
        "affected_rows": len(rows),
        "returning": rows,
        "tx_id": tx[0],
        "tx_time": tx[1],
        "tx_hash": tx[2],
    }


def resolver(
    table: Table, build: Callable[[Table, Mapping[str, Any], SqlPieces], list[Statement]]
) -> Callable[..., Any]:
    def resolve(_root: Any, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
        ctx: Context = info.context
        if ctx.read_only or ctx.db.read_only:
            raise GraphQLError(READ_ONLY_MESSAGE, extensions={"code": "READ_ONLY"})
        try:
            response = _run(ctx, table, build(table, args, ctx.sql))
        except ReadOnlyError as err:
            raise GraphQLError(str(err), extensions={"code": "READ_ONLY"}) from err
        # Relations under "returning" are loaded for all returned rows at once.
        response_type = getattr(info.return_type, "of_type", None)
        assert isinstance(response_type, GraphQLObjectType)
        selected = collect_sub_fields(
            info.schema, info.fragments, info.variable_values, response_type, info.field_nodes
        )
        for nodes in selected.values():
            if nodes[0].name.value == "returning":
                prefetch(ctx, table, response["returning"], nodes, None, info)
        return response

    return resolve
