"""The GraphQL schema generated from a ChronoDB's live tables.

For each table ``t`` (type ``t``, named after the table)::

    Query        t(<column>: value, where, orderBy, limit, offset, asOf, asOfTransaction): [t!]!
                 t_by_pk(<key columns>, asOf, asOfTransaction): t
                 t_history(<key columns>): [t_version!]!
                 t_aggregate(where, asOf, asOfTransaction): t_aggregate!
    Mutation     insert_t(objects), update_t(where, set), delete_t(where): t_mutation_response!
    Subscription t_changes(where): t_change!

Each row type has its columns (INTEGER -> Int, REAL -> Float, TEXT -> String, BOOL -> Boolean,
BLOB -> base64 String) and its relations from foreign keys both ways (orders.user, users.orders),
which take ``asOf``/``asOfTransaction`` too and otherwise inherit the point of the field above.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLError,
    GraphQLField,
    GraphQLFloat,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLString,
)
from graphql.language import FloatValueNode, IntValueNode, StringValueNode, ValueNode

from chronodb.server.graphql import mutations
from chronodb.server.graphql.catalog import (
    BIGINT,
    BOOLEAN,
    FLOAT,
    INT,
    RESERVED_ARGUMENTS,
    Table,
)
from chronodb.server.graphql.loader import (
    HIDDEN,
    POINT,
    Context,
    Point,
    load_related,
    point_of,
    prefetch,
    select_rows,
    values_to_row,
    where_sql,
)


def _timestamp_value(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise GraphQLError(f"asOf: expected an ISO-8601 string or epoch seconds, got {value!r}")
    return value


def _timestamp_literal(node: ValueNode, _variables: Any = None) -> Any:
    if isinstance(node, StringValueNode):
        return node.value
    if isinstance(node, IntValueNode):
        return int(node.value)
    if isinstance(node, FloatValueNode):
        return float(node.value)
    raise GraphQLError("asOf: expected an ISO-8601 string or epoch seconds")


Timestamp = GraphQLScalarType(
    "Timestamp",
    description="A point in time: an ISO-8601 string (naive means UTC) or epoch seconds.",
    serialize=lambda v: v,
    parse_value=_timestamp_value,
    parse_literal=_timestamp_literal,
)
INT_BOUNDS = {"Int": 2**31, "BigInt": 2**63}
"""Each integer scalar's range, by name: values in ``[-bound, bound)``."""


def _big_int(value: Any) -> int:
    """A 64-bit integer from a number, or from a string of digits (JSON clients whose numbers
    are doubles send large ones as text)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise GraphQLError(f"BigInt: expected an integer, got {value!r}")
    try:
        number = int(value)
    except ValueError:
        raise GraphQLError(f"BigInt: expected an integer, got {value!r}") from None
    bound = INT_BOUNDS["BigInt"]
    if not -bound <= number < bound:
        raise GraphQLError(f"BigInt: {value!r} does not fit in 64 bits")
    return number


def _big_int_literal(node: ValueNode, _variables: Any = None) -> int:
    if isinstance(node, IntValueNode | StringValueNode):
        return _big_int(node.value)
    raise GraphQLError("BigInt: expected an integer")


BigInt = GraphQLScalarType(
    "BigInt",
    description="A 64-bit integer, for transaction ids (a transaction's time in microseconds) "
    "and columns declared BIGINT or INT8. Results carry it as a JSON number (exact in "
    "JavaScript up to 2^53); arguments take a number or a string of digits.",
    serialize=_big_int,
    parse_value=_big_int,
    parse_literal=_big_int_literal,
)
OrderDirection = GraphQLEnumType("OrderDirection", {"ASC": "ASC", "DESC": "DESC"})
_SCALARS = {INT: GraphQLInt, BIGINT: BigInt, FLOAT: GraphQLFloat, BOOLEAN: GraphQLBoolean}


def _scalar(kind: str) -> GraphQLScalarType:
    return _SCALARS.get(kind, GraphQLString)


def _comparison(scalar: GraphQLScalarType) -> GraphQLInputObjectType:
    fields = {op: GraphQLInputField(scalar) for op in ("eq", "neq", "gt", "gte", "lt", "lte")}
    fields["in"] = GraphQLInputField(GraphQLList(GraphQLNonNull(scalar)))
    fields["like"] = GraphQLInputField(GraphQLString)
    fields["is_null"] = GraphQLInputField(GraphQLBoolean)
    return GraphQLInputObjectType(f"{scalar.name}_comparison_exp", fields)


def _time_args() -> dict[str, GraphQLArgument]:
    return {
        "asOf": GraphQLArgument(Timestamp, description="Read the data as it was at this time."),
        "asOfTransaction": GraphQLArgument(
            BigInt, description="Read the data as it was after this transaction."
        ),
    }


def _tx_fields() -> dict[str, GraphQLField]:
    """What a version or a change says about its transaction."""
    return {
        "operation": GraphQLField(
            GraphQLNonNull(GraphQLString), description="INSERT/UPDATE/DELETE"
        ),
        "tx_id": GraphQLField(GraphQLNonNull(BigInt)),
        "tx_time": GraphQLField(GraphQLNonNull(GraphQLFloat), description="Epoch seconds."),
        "user": GraphQLField(GraphQLString),
        "tx_hash": GraphQLField(GraphQLString, description="The audit ledger's hash (hex)."),
    }


class _Builder:
    def __init__(self, tables: list[Table]) -> None:
        self.tables = tables
        self.comparisons = {
            kind: _comparison(_scalar(kind)) for kind in (INT, BIGINT, FLOAT, "String", BOOLEAN)
        }
        self.objects: dict[str, GraphQLObjectType] = {}
        self.bool_exps: dict[str, GraphQLInputObjectType] = {}
        self.order_bys: dict[str, GraphQLInputObjectType] = {}
        for table in tables:
            self.objects[table.name] = self._object(table)
            self.bool_exps[table.name] = self._bool_exp(table)
            self.order_bys[table.name] = GraphQLInputObjectType(
                f"{table.type_name}_order_by",
                {c.field: GraphQLInputField(OrderDirection) for c in table.columns},
            )

    def by_name(self, name: str) -> Table:
        lowered = name.lower()
        return next(t for t in self.tables if t.name.lower() == lowered)

    # -------------------------------------------------------------- row types
    def _object(self, table: Table) -> GraphQLObjectType:
        def fields() -> dict[str, GraphQLField]:
            out = {c.field: GraphQLField(_scalar(c.scalar)) for c in table.columns}
            for relation in table.relations:
                target = self.by_name(relation.target)
                target_type = self.objects[target.name]
                if relation.many:
                    out[relation.field] = GraphQLField(
                        GraphQLNonNull(GraphQLList(GraphQLNonNull(target_type))),
                        args=self.list_args(target),
                        resolve=_relation_resolver(relation),
                        description=f"Rows of {target.name} referencing this row.",
                    )
                else:
                    out[relation.field] = GraphQLField(
                        target_type,
                        args=_time_args(),
                        resolve=_relation_resolver(relation),
                        description=f"The {target.name} row this row references.",
                    )
            return out

        return GraphQLObjectType(table.type_name, fields, description=f"A row of {table.name}.")

    def _bool_exp(self, table: Table) -> GraphQLInputObjectType:
        def fields() -> dict[str, GraphQLInputField]:
            me = self.bool_exps[table.name]
            out = {
                c.field: GraphQLInputField(
                    self.comparisons.get(c.scalar, self.comparisons["String"])
                )
                for c in table.columns
            }
            out["_and"] = GraphQLInputField(GraphQLList(GraphQLNonNull(me)))
            out["_or"] = GraphQLInputField(GraphQLList(GraphQLNonNull(me)))
            out["_not"] = GraphQLInputField(me)
            return out

        return GraphQLInputObjectType(f"{table.type_name}_bool_exp", fields)

    def list_args(self, table: Table) -> dict[str, GraphQLArgument]:
        args = {
            c.field: GraphQLArgument(_scalar(c.scalar))
            for c in table.columns
            if c.field not in RESERVED_ARGUMENTS
        }
        args["where"] = GraphQLArgument(self.bool_exps[table.name])
        args["orderBy"] = GraphQLArgument(GraphQLList(GraphQLNonNull(self.order_bys[table.name])))
        args["limit"] = GraphQLArgument(GraphQLInt)
        args["offset"] = GraphQLArgument(GraphQLInt)
        args.update(_time_args())
        return args

    def key_args(self, table: Table) -> dict[str, GraphQLArgument]:
        return {c.field: GraphQLArgument(GraphQLNonNull(_scalar(c.scalar))) for c in table.key}

    # -------------------------------------------------------------- root fields
    def query_fields(self, table: Table) -> dict[str, GraphQLField]:
        row = self.objects[table.name]
        name = table.field
        out = {
            name: GraphQLField(
                GraphQLNonNull(GraphQLList(GraphQLNonNull(row))),
                args=self.list_args(table),
                resolve=_list_resolver(table),
                description=f"Rows of {table.name}.",
            ),
            f"{name}_aggregate": GraphQLField(
                GraphQLNonNull(self._aggregate(table)),
                args={"where": GraphQLArgument(self.bool_exps[table.name]), **_time_args()},
                resolve=_aggregate_resolver(table),
            ),
        }
        if table.key:
            out[f"{name}_by_pk"] = GraphQLField(
                row,
                args={**self.key_args(table), **_time_args()},
                resolve=_by_pk_resolver(table),
                description=f"One row of {table.name} by its primary key.",
            )
            out[f"{name}_history"] = GraphQLField(
                GraphQLNonNull(GraphQLList(GraphQLNonNull(self._version(table)))),
                args=self.key_args(table),
                resolve=_history_resolver(table),
                description=f"Every version of one row of {table.name}, oldest first.",
            )
        return out

    def _version(self, table: Table) -> GraphQLObjectType:
        row = self.objects[table.name]
        return GraphQLObjectType(
            f"{table.type_name}_version",
            {
                **_tx_fields(),
                "values": GraphQLField(row, description="The row's values in this version."),
                "before": GraphQLField(row, description="The values before this version."),
            },
        )

    def _aggregate(self, table: Table) -> GraphQLObjectType:
        numeric = [c for c in table.columns if c.numeric]
        fields: dict[str, GraphQLField] = {"count": GraphQLField(GraphQLNonNull(GraphQLInt))}
        if numeric:
            floats = GraphQLObjectType(
                f"{table.type_name}_aggregate_float",
                {c.field: GraphQLField(GraphQLFloat) for c in numeric},
            )
            same = GraphQLObjectType(
                f"{table.type_name}_aggregate_value",
                {c.field: GraphQLField(_scalar(c.scalar)) for c in numeric},
            )
            fields.update(
                sum=GraphQLField(floats),
                avg=GraphQLField(floats),
                min=GraphQLField(same),
                max=GraphQLField(same),
            )
        return GraphQLObjectType(f"{table.type_name}_aggregate", fields)

    def mutation_fields(self, table: Table) -> dict[str, GraphQLField]:
        row = self.objects[table.name]
        response = GraphQLObjectType(
            f"{table.type_name}_mutation_response",
            {
                "affected_rows": GraphQLField(GraphQLNonNull(GraphQLInt)),
                "returning": GraphQLField(GraphQLNonNull(GraphQLList(GraphQLNonNull(row)))),
                "tx_id": GraphQLField(BigInt),
                "tx_time": GraphQLField(GraphQLFloat),
                "tx_hash": GraphQLField(GraphQLString),
            },
        )
        values = {
            c.field: GraphQLInputField(_scalar(c.scalar)) for c in table.columns if not c.generated
        }
        insert_input = GraphQLInputObjectType(f"{table.type_name}_insert_input", values)
        set_input = GraphQLInputObjectType(f"{table.type_name}_set_input", dict(values))
        where = GraphQLArgument(GraphQLNonNull(self.bool_exps[table.name]))
        name = table.field
        return {
            f"insert_{name}": GraphQLField(
                GraphQLNonNull(response),
                args={
                    "objects": GraphQLArgument(
                        GraphQLNonNull(GraphQLList(GraphQLNonNull(insert_input)))
                    )
                },
                resolve=mutations.resolver(table, mutations.insert),
            ),
            f"update_{name}": GraphQLField(
                GraphQLNonNull(response),
                args={"where": where, "set": GraphQLArgument(GraphQLNonNull(set_input))},
                resolve=mutations.resolver(table, mutations.update),
            ),
            f"delete_{name}": GraphQLField(
                GraphQLNonNull(response),
                args={"where": where},
                resolve=mutations.resolver(table, mutations.delete),
            ),
        }

    def subscription_field(
        self, table: Table, subscribe: Callable[..., Any]
    ) -> dict[str, GraphQLField]:
        row = self.objects[table.name]
        change = GraphQLObjectType(
            f"{table.type_name}_change",
            {
                **_tx_fields(),
                "before": GraphQLField(row),
                "after": GraphQLField(row),
            },
        )
        return {
            f"{table.field}_changes": GraphQLField(
                GraphQLNonNull(change),
                args={"where": GraphQLArgument(self.bool_exps[table.name])},
                subscribe=subscribe(table),
                resolve=lambda event, _info, **_args: event,
                description=f"Row changes of {table.name} as they are committed, by any process.",
            )
        }


def build_schema(
    tables: list[Table], subscribe: Callable[[Table], Callable[..., Any]] | None = None
) -> GraphQLSchema:
    """The schema for ``tables`` (see :func:`.catalog.read_catalog`).

    ``subscribe(table)`` gives the subscribe function of ``<table>_changes``; without it the
    schema has no subscriptions.
    """
    builder = _Builder(tables)
    query: dict[str, GraphQLField] = {}
    mutation: dict[str, GraphQLField] = {}
    subscription: dict[str, GraphQLField] = {}
    for table in tables:
        query.update(builder.query_fields(table))
        mutation.update(builder.mutation_fields(table))
        if subscribe is not None:
            subscription.update(builder.subscription_field(table, subscribe))
    if not query:
        query["_tables"] = GraphQLField(
            GraphQLNonNull(GraphQLInt),
            resolve=lambda *_a: 0,
            description="The database has no tables yet: create one, and the schema follows.",
        )
    return GraphQLSchema(
        query=GraphQLObjectType("Query", query),
        mutation=GraphQLObjectType("Mutation", mutation) if mutation else None,
        subscription=GraphQLObjectType("Subscription", subscription) if subscription else None,
    )


# ------------------------------------------------------------------ resolvers
def _list_resolver(table: Table) -> Callable[..., Any]:
    def resolve(_root: Any, info: GraphQLResolveInfo, **args: Any) -> list[dict]:
        ctx: Context = info.context
        point = point_of(args)
        rows = select_rows(ctx, table, args, point)
        prefetch(ctx, table, rows, info.field_nodes, point, info)
        return rows

    return resolve


def _by_pk_resolver(table: Table) -> Callable[..., Any]:
    def resolve(_root: Any, info: GraphQLResolveInfo, **args: Any) -> dict | None:
        ctx: Context = info.context
        point = point_of(args)
        key = {c.field: args[c.field] for c in table.key}
        rows = select_rows(ctx, table, {**key, "limit": 1}, point)
        prefetch(ctx, table, rows, info.field_nodes, point, info)
        return rows[0] if rows else None

    return resolve


def _relation_resolver(relation: Any) -> Callable[..., Any]:
    def resolve(parent: dict, info: GraphQLResolveInfo, **args: Any) -> Any:
        hidden = HIDDEN + str(info.path.key)
        if hidden in parent:
            return parent[hidden]
        # A row that was not loaded by a list field (a history version, a change event,
        # a mutation's returning rows): load for this row alone, then batch below it.
        ctx: Context = info.context
        point = point_of(args) or parent.get(POINT)
        value = load_related(ctx, relation, [parent], args, point)[0]
        rows = value if relation.many else [value] if value is not None else []
        prefetch(ctx, ctx.table(relation.target), rows, info.field_nodes, point, info)
        return value

    return resolve


def _aggregate_resolver(table: Table) -> Callable[..., Any]:
    numeric = [c for c in table.columns if c.numeric]

    def resolve(_root: Any, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
        ctx: Context = info.context
        point = point_of(args)
        params: list[Any] = []
        source = table.sql
        if point is not None:
            params.append(point.value)
            source += point.clause
        terms = ["count(*)"]
        for c in numeric:
            terms += [ctx.sql.total(c.sql), f"avg({c.sql})", f"min({c.sql})", f"max({c.sql})"]
        sql = f"SELECT {', '.join(terms)} FROM {source}"
        conditions = where_sql(table, args.get("where"), params, ctx.sql)
        if conditions:
            sql += " WHERE " + " AND ".join(conditions)
        row = ctx.db.execute(sql, params).rows[0]
        out: dict[str, Any] = {"count": row[0], "sum": {}, "avg": {}, "min": {}, "max": {}}
        empty = row[0] == 0
        for i, c in enumerate(numeric):
            base = 1 + 4 * i
            out["sum"][c.field] = None if empty else row[base]
            out["avg"][c.field] = row[base + 1]
            out["min"][c.field] = row[base + 2]
            out["max"][c.field] = row[base + 3]
        return out

    return resolve


def _history_resolver(table: Table) -> Callable[..., Any]:
    def resolve(_root: Any, info: GraphQLResolveInfo, **args: Any) -> list[dict]:
        ctx: Context = info.context
        key = [args[c.field] for c in table.key]
        versions = ctx.db.get_change_history(table.name, key[0] if len(key) == 1 else key)
        out = []
        for v in versions:
            tx = v["tx_id"]
            values = values_to_row(table, v.get("values"))
            before = values_to_row(table, v.get("before"))
            # Relations below a version are read as of that version.
            if values is not None:
                values[POINT] = Point("TRANSACTION", tx - 1 if v["operation"] == "DELETE" else tx)
            if before is not None:
                before[POINT] = Point("TRANSACTION", tx - 1)
            out.append({**v, "values": values, "before": before})
        return out

    return resolve
