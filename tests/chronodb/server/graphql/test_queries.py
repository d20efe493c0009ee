"""Queries: the generated fields, filters, relations both ways, time travel, history."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

from chronodb import ChronoDB
from chronodb.database import engine_of
from chronodb.engine import Engine
from chronodb.server.graphql.service import GraphQLService

pytestmark = pytest.mark.usefixtures("backend")  # each test on a file and on PostgreSQL
# What only SQLite's engine offers yet: notes on a read before a table existed.
sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def test_seed_query_runs_as_written(gql: Any) -> None:
    data = gql("query { users(id: 1) { name email orders { total status } } }")
    assert data == {
        "users": [
            {
                "name": "Alicia",
                "email": "alice@email.com",
                "orders": [
                    {"total": 25.5, "status": "shipped"},
                    {"total": 100.0, "status": "pending"},
                    {"total": 5.0, "status": "pending"},
                ],
            }
        ]
    }


def test_where_operators_and_boolean_combinations(gql: Any) -> None:
    def ids(where: str) -> list[int]:
        return [o["id"] for o in gql(f"{{ orders(where: {where}) {{ id }} }}")["orders"]]

    assert ids('{status: {eq: "shipped"}}') == [10, 12]
    assert ids('{status: {neq: "shipped"}}') == [11, 13, 14]
    assert ids("{total: {gt: 25.5}}") == [11, 13]
    assert ids("{total: {gte: 25.5, lt: 100}}") == [10, 13]
    assert ids("{total: {lte: 7.25}}") == [12, 14]
    assert ids("{id: {in: [12, 14, 99]}}") == [12, 14]
    assert ids('{status: {like: "p%"}}') == [11, 14]
    assert ids('{_or: [{total: {gt: 90}}, {status: {eq: "cancelled"}}]}') == [11, 13]
    assert ids('{_and: [{user_id: {eq: 1}}, {_not: {status: {eq: "pending"}}}]}') == [10]
    assert [u["id"] for u in gql("{ users(where: {email: {is_null: true}}) { id } }")["users"]] == [
        3
    ]


def test_where_values_are_bound_not_spliced(gql: Any) -> None:
    data = gql('{ users(where: {name: {eq: "x\' OR 1=1 --"}}) { id } }')
    assert data == {"users": []}


def test_order_by_limit_offset(gql: Any) -> None:
    data = gql("{ orders(orderBy: [{total: DESC}], limit: 2, offset: 1) { id total } }")
    assert data["orders"] == [{"id": 13, "total": 60.0}, {"id": 10, "total": 25.5}]
    data = gql("{ orders(orderBy: [{status: ASC}, {total: DESC}]) { id } }")
    assert [o["id"] for o in data["orders"]] == [13, 11, 14, 10, 12]


def test_variables_and_equality_arguments(gql: Any) -> None:
    query = "query($s: String, $n: Int) { orders(status: $s, limit: $n) { id } }"
    assert gql(query, {"s": "pending", "n": 1}) == {"orders": [{"id": 11}]}


def test_relations_both_ways(gql: Any) -> None:
    data = gql("{ orders(id: 12) { total user { name orders { id } } } }")
    assert data == {"orders": [{"total": 7.25, "user": {"name": "Bob", "orders": [{"id": 12}]}}]}
    data = gql(
        "{ users(orderBy: [{id: ASC}]) { name "
        "  top: orders(orderBy: [{total: DESC}], limit: 1) { id } "
        '  shipped: orders(where: {status: {eq: "shipped"}}) { id } } }'
    )
    assert data["users"] == [
        {"name": "Alicia", "top": [{"id": 11}], "shipped": [{"id": 10}]},
        {"name": "Bob", "top": [{"id": 12}], "shipped": [{"id": 12}]},
        {"name": "Carol", "top": [{"id": 13}], "shipped": []},
    ]


def test_fragments_are_looked_through_for_relations(gql: Any) -> None:
    data = gql(
        "fragment O on orders { id user { ...U } } fragment U on users { name } "
        "{ orders(id: 10) { ...O } }"
    )
    assert data == {"orders": [{"id": 10, "user": {"name": "Alicia"}}]}


def test_as_of_transaction_at_top_level_and_inherited(shop: Any, gql: Any) -> None:
    query = (
        "query($tx: BigInt) { users(id: 1, asOfTransaction: $tx) "
        "{ name orders { id user { name } } } }"
    )
    data = gql(query, {"tx": shop.tx_orders})
    # Before the rename and the fifth order: nested levels see the same past.
    assert data == {
        "users": [
            {
                "name": "Alice",
                "orders": [
                    {"id": 10, "user": {"name": "Alice"}},
                    {"id": 11, "user": {"name": "Alice"}},
                ],
            }
        ]
    }
    data = gql(query, {"tx": shop.tx_users})
    assert data == {"users": [{"name": "Alice", "orders": []}]}


def test_as_of_timestamp_iso_and_epoch(shop: Any, gql: Any) -> None:
    from datetime import UTC, datetime

    at = shop.before_changes
    iso = datetime.fromtimestamp(at, UTC).replace(tzinfo=None).isoformat()
    for point in (f'"{iso}"', repr(at)):
        data = gql(f"{{ users(id: 1, asOf: {point}) {{ name orders {{ id }} }} }}")
        assert data == {"users": [{"name": "Alice", "orders": [{"id": 10}, {"id": 11}]}]}
    assert gql('{ users(asOf: "2000-01-01") { id } }') == {"users": []}


@sqlite_only
def test_a_point_before_the_table_existed_is_noted_in_extensions(
    shop: Any, service: GraphQLService
) -> None:
    result = service.run('{ users(asOf: "2000-01-01") { id } }')
    assert result.errors is None and result.data == {"users": []}
    (note,) = result.extensions["notes"]
    assert note.startswith("users AS OF TIMESTAMP '2000-01-01T00:00:00.000000Z' is before")
    first = min(t["tx_id"] for t in shop.db.transactions())
    assert f"its first transaction is {first}, at " in note
    assert "extensions" not in service.run("{ users { id } }").formatted


def test_nested_field_can_name_its_own_point(shop: Any, gql: Any) -> None:
    query = "query($tx: BigInt) { users(id: 1) { name past: orders(asOfTransaction: $tx) { id } } }"
    data = gql(query, {"tx": shop.tx_orders})
    assert data == {"users": [{"name": "Alicia", "past": [{"id": 10}, {"id": 11}]}]}


def test_bad_points_are_graphql_errors(service: GraphQLService) -> None:
    result = service.run('{ users(asOf: "not a time") { id } }')
    assert result.data is None
    assert "Invalid timestamp 'not a time'" in result.errors[0].message
    result = service.run("{ users(asOf: 1, asOfTransaction: 2) { id } }")
    assert "not both" in result.errors[0].message
    result = service.run("{ users { nope } }")
    assert "Cannot query field 'nope'" in result.errors[0].message


def test_by_pk(shop: Any, gql: Any) -> None:
    assert gql("{ users_by_pk(id: 2) { name } }") == {"users_by_pk": {"name": "Bob"}}
    assert gql("{ users_by_pk(id: 9) { name } }") == {"users_by_pk": None}
    data = gql(
        "query($tx: BigInt) { users_by_pk(id: 1, asOfTransaction: $tx) { name orders { id } } }",
        {"tx": shop.tx_users},
    )
    assert data == {"users_by_pk": {"name": "Alice", "orders": []}}


def test_history_lists_every_version(shop: Any, gql: Any) -> None:
    data = gql(
        "{ users_history(id: 1) { operation tx_id user tx_hash "
        "  values { name orders { id } } before { name } } }"
    )
    versions = data["users_history"]
    assert [(v["operation"], v["tx_id"], v["user"]) for v in versions] == [
        ("INSERT", shop.tx_users, "tester"),
        ("UPDATE", shop.tx_rename, "tester"),
    ]
    assert all(len(v["tx_hash"]) == 64 for v in versions)
    assert versions[0]["before"] is None
    # Relations under a version are read as of that version.
    assert versions[0]["values"] == {"name": "Alice", "orders": []}
    assert versions[1]["values"] == {"name": "Alicia", "orders": [{"id": 10}, {"id": 11}]}
    assert versions[1]["before"] == {"name": "Alice"}


def test_aggregate(shop: Any, gql: Any) -> None:
    data = gql(
        '{ orders_aggregate(where: {status: {neq: "cancelled"}}) '
        "{ count sum { total } avg { total } min { total id } max { total } } }"
    )
    assert data["orders_aggregate"] == {
        "count": 4,
        "sum": {"total": 137.75},
        "avg": {"total": 137.75 / 4},
        "min": {"total": 5.0, "id": 10},
        "max": {"total": 100.0},
    }
    data = gql(
        "query($tx: BigInt) { orders_aggregate(asOfTransaction: $tx) { count sum { total } } }",
        {"tx": shop.tx_users},
    )
    assert data["orders_aggregate"] == {"count": 0, "sum": {"total": None}}


def test_schema_follows_alter_table(shop: Any, service: GraphQLService, gql: Any) -> None:
    assert service.run("{ users { phone } }").errors
    shop.db.execute("ALTER TABLE users ADD COLUMN phone TEXT")
    shop.db.execute("UPDATE users SET phone = '555' WHERE id = 2")
    assert gql('{ users(phone: "555") { name phone } }') == {
        "users": [{"name": "Bob", "phone": "555"}]
    }
    shop.db.execute("CREATE TABLE tags (id INTEGER PRIMARY KEY, label TEXT)")
    assert gql("{ tags { id } }") == {"tags": []}


def test_schema_change_by_another_connection(shop: Any, service: GraphQLService) -> None:
    from chronodb import ChronoDB

    service.run("{ users { id } }")
    with ChronoDB(shop.db.path) as other:
        other.execute("ALTER TABLE orders ADD COLUMN note TEXT")
        other.execute("UPDATE orders SET note = 'gift' WHERE id = 12")
    result = service.run('{ orders(where: {note: {eq: "gift"}}) { id note } }')
    assert result.errors is None
    assert result.data == {"orders": [{"id": 12, "note": "gift"}]}


@contextlib.contextmanager
def traced(db: ChronoDB) -> Iterator[list[str]]:
    """The statements the engine sends its database in the ``with`` body: sqlite3's trace on
    a file, the engine connection's ``execute`` calls on PostgreSQL (where it runs each
    statement)."""
    statements: list[str] = []
    engine = engine_of(db)
    if isinstance(engine, Engine):
        engine.conn.set_trace_callback(statements.append)
        try:
            yield statements
        finally:
            engine.conn.set_trace_callback(None)
        return
    conn = engine.conn
    execute = conn.execute

    def noted(query: Any, *args: Any, **kwargs: Any) -> Any:
        statements.append(str(query))
        return execute(query, *args, **kwargs)

    conn.execute = noted  # type: ignore[method-assign]
    try:
        yield statements
    finally:
        del conn.execute


def test_one_statement_per_nesting_level(shop: Any, gql: Any) -> None:
    db = shop.db
    db.executemany(
        "INSERT INTO users VALUES (?, ?, ?)", [(i, f"u{i}", None) for i in range(100, 160)]
    )
    db.executemany(
        "INSERT INTO orders VALUES (?, ?, ?, 'new')",
        [(1000 + i, 100 + i % 60, float(i)) for i in range(300)],
    )
    gql("{ users { id } }")  # the schema is built from the catalog here, not below
    for point in ("", f", asOfTransaction: {db.transactions(1)[0]['tx_id']}"):
        with traced(db) as statements:
            data = gql(f"{{ users(limit: 100{point}) {{ id orders {{ id user {{ name }} }} }} }}")
        assert len(data["users"]) == 63
        assert sum(len(u["orders"]) for u in data["users"]) == 305
        reads = [s for s in statements if s.lstrip().upper().startswith(("SELECT", "WITH"))]
        # Data reads only: the catalog lookups (planning AS OF, the GraphQL schema's
        # version: PostgreSQL's from pg_attribute; the optimizer's look at the schema before
        # it times a statement: PostgreSQL's from pg_class) aside.
        skip = ("schema_version", "_chrono_schema", "sqlite_schema", "pg_attribute", "pg_class")
        reads = [s for s in reads if not any(n in s for n in skip)]
        assert len(reads) == 3, reads


def test_blob_columns_are_base64(tmp_path: Any) -> None:
    from chronodb import ChronoDB

    with ChronoDB(tmp_path / "b.db") as db:
        db.execute("CREATE TABLE files (id INTEGER PRIMARY KEY, data BLOB)")
        db.execute("INSERT INTO files VALUES (1, ?)", [b"\x00\xffhi"])
        service = GraphQLService(db)
        result = service.run('{ files(where: {data: {eq: "AP9oaQ=="}}) { id data } }')
        assert result.errors is None
        assert result.data == {"files": [{"id": 1, "data": "AP9oaQ=="}]}


def test_too_deep_queries_are_refused(gql: Any, service: GraphQLService) -> None:
    deep = "{ users { " + "orders { user { " * 6 + "id" + " } }" * 6 + " } }"
    result = service.run(deep)
    assert result.errors and "too deep" in result.errors[0].message


def test_the_standard_introspection_query_passes_the_depth_limit(service: GraphQLService) -> None:
    from graphql import get_introspection_query

    for query in (
        get_introspection_query(),
        get_introspection_query(
            descriptions=True,
            specified_by_url=True,
            directive_is_repeatable=True,
            schema_description=True,
            input_value_deprecation=True,
        ),
    ):
        result = service.run(query)
        assert result.errors is None
        names = {t["name"] for t in result.data["__schema"]["types"]}
        assert {"users", "orders"} <= names


def test_introspection_beside_data_does_not_lift_the_data_limit(service: GraphQLService) -> None:
    deep = "{ __typename users { " + "orders { user { " * 6 + "id" + " } }" * 6 + " } }"
    result = service.run(deep)
    assert result.errors and "too deep: 13 levels, at most 12" in result.errors[0].message
    schema_and_data = "{ __schema { queryType { name } } users { id } }"
    assert service.run(schema_and_data).errors is None


def test_introspection_nested_past_its_own_bound_is_refused(service: GraphQLService) -> None:
    nested = '{ __type(name: "users") { ' + "ofType { " * 16 + "name" + " }" * 16 + " } }"
    result = service.run(nested)
    assert result.errors and "introspection too deep" in result.errors[0].message


def test_bigint_columns_carry_64_bit_values_both_ways() -> None:
    """INTEGER is GraphQL's 32-bit Int; a column declared BIGINT gets the 64-bit BigInt."""
    from chronodb import ChronoDB

    db = ChronoDB(":memory:")
    db.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, at_us BIGINT, n INTEGER)")
    db.execute("INSERT INTO events VALUES (1, 1796591385457690, 7)")
    service = GraphQLService(db)

    def data(query: str, variables: dict[str, Any] | None = None) -> Any:
        result = service.run(query, variables)
        assert result.errors is None, result.errors
        return result.data

    assert data("{ events { at_us n } }") == {"events": [{"at_us": 1796591385457690, "n": 7}]}
    assert data("{ events(where: {at_us: {gt: 1796591385000000}}) { id } }")["events"] == [
        {"id": 1}
    ]
    assert data('{ events(at_us: "1796591385457690") { id } }')["events"] == [{"id": 1}]
    assert data("{ events_aggregate { max { at_us } } }") == {
        "events_aggregate": {"max": {"at_us": 1796591385457690}}
    }
    mutation = (
        "mutation($t: BigInt) { insert_events(objects: [{id: 2, at_us: $t}]) "
        "{ returning { at_us } } }"
    )
    inserted = data(mutation, {"t": str(2**62)})
    assert inserted == {"insert_events": {"returning": [{"at_us": 2**62}]}}
    too_big = service.run("{ events(where: {at_us: {gt: 9223372036854775808}}) { id } }")
    assert too_big.errors and "does not fit in 64 bits" in str(too_big.errors[0])
    # An INTEGER column keeps GraphQL's Int: a value beyond 32 bits is an error, named.
    db.execute("UPDATE events SET n = 3000000000 WHERE id = 1")
    overflow = service.run("{ events(id: 1) { n } }")
    assert overflow.errors and "32-bit" in str(overflow.errors[0])
