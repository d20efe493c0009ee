"""Running GraphQL operations against one ChronoDB: the schema, kept current, and caches.

The schema is generated from the live tables and rebuilt when the database's schema changes
(checked on every request, cheaply: SQLite's ``PRAGMA schema_version``, a digest of
PostgreSQL's catalog; see ``server/sources/``).
Parsed and validated documents are cached per query text and schema.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    execute,
    get_operation_ast,
    is_leaf_type,
    parse,
    validate,
)
from graphql.execution import ExecutionContext
from graphql.pyutils import Path, Undefined

from chronodb.database import ChronoDB
from chronodb.notes import notes_only
from chronodb.server.graphql.catalog import Table, read_catalog
from chronodb.server.graphql.loader import Context
from chronodb.server.graphql.schema import INT_BOUNDS, build_schema
from chronodb.server.sources import change_source

MAX_DEPTH = 12  # nesting levels of data selections an operation may have
# Nesting levels under __schema/__type: graphql-core's and GraphiQL's introspection query
# needs 14; a little room above that, and still a bound on what one request can walk.
MAX_SCHEMA_DEPTH = 16
_CACHE_LIMIT = 512


@dataclass(frozen=True)
class Generated:
    version: Hashable
    schema: GraphQLSchema
    tables: dict[str, Table]


@dataclass(frozen=True)
class Prepared:
    """A parsed, validated operation, ready to execute."""

    generated: Generated
    document: DocumentNode
    operation: OperationDefinitionNode


class GraphQLService:
    """The GraphQL schema of one database and the execution of operations against it.

    ``subscribe(table)`` gives the subscribe function for ``<table>_changes`` (see
    :mod:`.subscriptions`); without it the schema has no subscriptions.
    """

    def __init__(
        self,
        db: ChronoDB,
        *,
        read_only: bool = False,
        subscribe: Callable[[Table], Callable[..., Any]] | None = None,
        max_depth: int = MAX_DEPTH,
    ) -> None:
        self.db = db
        self.read_only = read_only
        self.max_depth = max_depth
        self._subscribe = subscribe
        self._source = change_source(db.path)
        self._generated: Generated | None = None
        self._lock = threading.Lock()
        self._documents: dict[str, DocumentNode | GraphQLError] = {}
        self._validated: dict[tuple[int, str], list[GraphQLError]] = {}

    # -------------------------------------------------------------- schema
    def schema_version(self) -> Hashable:
        return self._source.schema_version(self.db)

    def generated(self) -> Generated:
        """The schema for the tables as they are now, rebuilt if the schema changed."""
        version = self.schema_version()
        current = self._generated
        if current is not None and current.version == version:
            return current
        with self._lock:
            current = self._generated
            if current is None or current.version != version:
                tables = read_catalog(self.db)
                current = Generated(
                    version,
                    build_schema(tables, self._subscribe),
                    {t.name.lower(): t for t in tables},
                )
                self._generated = current
                self._validated.clear()
        return current

    @property
    def schema(self) -> GraphQLSchema:
        return self.generated().schema

    # -------------------------------------------------------------- operations
    def prepare(self, query: str, operation_name: str | None = None) -> Prepared:
        """Parse and validate ``query``; raises GraphQLError (one, or a list in .errors)."""
        generated = self.generated()
        document = self._documents.get(query)
        if document is None:
            try:
                document = parse(query)
            except GraphQLError as err:
                document = err
            if len(self._documents) >= _CACHE_LIMIT:
                self._documents.clear()
            self._documents[query] = document
        if isinstance(document, GraphQLError):
            raise OperationErrors([document])
        key = (id(generated), query)
        errors = self._validated.get(key)
        if errors is None:
            errors = validate(generated.schema, document)
            if not errors:
                errors = _check_depth(document, self.max_depth)
            if len(self._validated) >= _CACHE_LIMIT:
                self._validated.clear()
            self._validated[key] = errors
        if errors:
            raise OperationErrors(errors)
        operation = get_operation_ast(document, operation_name)
        if operation is None:
            message = (
                f"no operation named {operation_name!r}"
                if operation_name
                else "several operations: give operationName"
            )
            raise OperationErrors([GraphQLError(message)])
        return Prepared(generated, document, operation)

    def context(self, prepared: Prepared) -> Context:
        return Context(self.db, prepared.generated.tables, self.read_only)

    def run(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        operation_name: str | None = None,
        *,
        allow_mutations: bool = True,
    ) -> ExecutionResult:
        """Execute a query or mutation (synchronously: call it from a worker thread)."""
        try:
            prepared = self.prepare(query, operation_name)
        except OperationErrors as err:
            return ExecutionResult(None, err.errors)
        kind = prepared.operation.operation
        if kind == OperationType.SUBSCRIPTION:
            return _refused("subscriptions run over WebSocket (graphql-transport-ws) at /graphql")
        if kind == OperationType.MUTATION and not allow_mutations:
            return _refused("mutations need POST")
        context = self.context(prepared)
        with notes_only():  # the notes travel in the result, not the server's log
            result = execute(
                prepared.generated.schema,
                prepared.document,
                context_value=context,
                variable_values=variables,
                operation_name=operation_name,
                execution_context_class=FastExecution,
            )
        assert isinstance(result, ExecutionResult)  # every resolver is synchronous
        if context.notes:
            result.extensions = {"notes": context.notes}
        return result


# A field of a selection: (response key, field name, the Python type a value of it already
# has when it needs no conversion, its serializer (None: not a plain column), field nodes,
# and for an integer scalar the bound of its range).
_Step = tuple[str, str, type | None, Any, list[FieldNode], int]
_NATIVE = {"Int": int, "BigInt": int, "Float": float, "String": str, "Boolean": bool}


class FastExecution(ExecutionContext):
    """graphql-core's execution with a shortcut for the bulk of a result: columns.

    A nullable scalar field without a resolver of its own, on a row (a dict), is the row's
    value for it, serialised: the same as graphql-core computes, without building resolve
    info, arguments and paths for each (a value already of the scalar's Python type is taken
    as it is, within its integer scalar's range and Float's finite range). Anything else (relations,
    non-null fields, values that do not serialise) takes graphql-core's own path.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plans: dict[int, list[_Step]] = {}

    def _plan(
        self, parent_type: GraphQLObjectType, fields: dict[str, list[FieldNode]]
    ) -> list[_Step]:
        steps: list[_Step] = []
        for key, nodes in fields.items():
            name = nodes[0].name.value
            field = parent_type.fields.get(name)
            serialize, native, limit = None, None, 0
            if (
                field is not None
                and field.resolve is None
                and not isinstance(field.type, GraphQLNonNull)
                and is_leaf_type(field.type)
                and not self.middleware_manager
            ):
                leaf: GraphQLLeafType = field.type  # type: ignore[assignment]
                serialize, native = leaf.serialize, _NATIVE.get(leaf.name)
                limit = INT_BOUNDS.get(leaf.name, 0)
            steps.append((key, name, native, serialize, nodes, limit))
        return steps

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        fields: dict[str, list[FieldNode]],
    ) -> Any:
        if type(source_value) is not dict:
            return super().execute_fields(parent_type, source_value, path, fields)
        # The same dict object comes back for every item of a list (collect_subfields caches).
        plan = self._plans.get(id(fields))
        if plan is None:
            plan = self._plans[id(fields)] = self._plan(parent_type, fields)
        results: dict[str, Any] = {}
        get = source_value.get
        for key, name, native, serialize, nodes, limit in plan:
            if serialize is not None:
                value = get(name)
                if value is None:
                    results[key] = None
                    continue
                kind = type(value)
                if kind is native and (
                    (kind is int and -limit <= value < limit)
                    or (kind is float and value - value == 0.0)
                    or kind is str
                    or kind is bool
                ):
                    results[key] = value
                    continue
                try:
                    value = serialize(value)
                except Exception:
                    value = Undefined
                if value is not None and value is not Undefined:
                    results[key] = value
                    continue
            result = self.execute_field(
                parent_type, source_value, nodes, Path(path, key, parent_type.name)
            )
            if result is not Undefined:
                if self.is_awaitable(result):  # no resolver here is asynchronous
                    raise TypeError(f"field {name!r} resolved asynchronously")
                results[key] = result
        return results

    def complete_list_value(
        self,
        return_type: GraphQLList,
        field_nodes: list[FieldNode],
        info: GraphQLResolveInfo,
        path: Path,
        result: Any,
    ) -> Any:
        # A list of rows: each row's fields directly, without completing each item generically.
        item_type = return_type.of_type
        inner = item_type.of_type if isinstance(item_type, GraphQLNonNull) else item_type
        if (
            not isinstance(inner, GraphQLObjectType)
            or inner.is_type_of is not None
            or not isinstance(result, list)
        ):
            return super().complete_list_value(return_type, field_nodes, info, path, result)
        subfields = self.collect_subfields(inner, field_nodes)
        execute_fields = self.execute_fields
        out = []
        for index, item in enumerate(result):
            if type(item) is not dict:
                return super().complete_list_value(return_type, field_nodes, info, path, result)
            out.append(execute_fields(inner, item, Path(path, index, None), subfields))
        return out


class OperationErrors(Exception):
    def __init__(self, errors: list[GraphQLError]) -> None:
        super().__init__("; ".join(e.message for e in errors))
        self.errors = errors


def _refused(message: str) -> ExecutionResult:
    return ExecutionResult(None, [GraphQLError(message)])


def _check_depth(
    document: DocumentNode, limit: int, schema_limit: int = MAX_SCHEMA_DEPTH
) -> list[GraphQLError]:
    """Refuse an operation nested deeper than ``limit`` in data fields.

    The schema's own fields (``__schema``, ``__type``) read the schema, not the rows, and
    the standard introspection query GraphiQL sends nests them 14 levels, so they are
    measured apart, against ``schema_limit``: data fields keep their tighter bound.
    """
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }

    def depth(selection_set: SelectionSetNode | None, keep: Callable[[str], bool]) -> int:
        """Levels below ``selection_set``, counting only the top fields ``keep`` accepts."""
        if selection_set is None:
            return 0
        deepest = 0
        for node in selection_set.selections:
            if isinstance(node, FieldNode):
                if not keep(node.name.value):
                    d = 0
                else:
                    d = 1 + depth(node.selection_set, _every) if node.selection_set else 0
            elif isinstance(node, InlineFragmentNode):
                d = depth(node.selection_set, keep)
            elif isinstance(node, FragmentSpreadNode) and node.name.value in fragments:
                # No cycles: validation ran first.
                d = depth(fragments[node.name.value].selection_set, keep)
            else:
                d = 0
            deepest = max(deepest, d)
        return deepest

    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            found = depth(definition.selection_set, _is_data_field)
            if found > limit:
                return [GraphQLError(f"query too deep: {found} levels, at most {limit}")]
            found = depth(definition.selection_set, _is_schema_field)
            if found > schema_limit:
                return [
                    GraphQLError(f"introspection too deep: {found} levels, at most {schema_limit}")
                ]
    return []


def _every(name: str) -> bool:
    return True


def _is_schema_field(name: str) -> bool:
    return name.startswith("__")


def _is_data_field(name: str) -> bool:
    return not name.startswith("__")
