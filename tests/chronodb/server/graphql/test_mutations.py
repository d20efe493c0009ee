"""Mutations: one transaction each, returning rows; refused when read-only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chronodb import ChronoDB
from chronodb.server.graphql.service import GraphQLService

pytestmark = pytest.mark.usefixtures("backend")  # each test on a file and on PostgreSQL


def test_insert_returns_rows_and_transaction(shop: Any, gql: Any) -> None:
    data = gql(
        'mutation { insert_orders(objects: [{id: 20, user_id: 2, total: 1.5, status: "new"}, '
        "{id: 21, user_id: 3}]) { affected_rows tx_id tx_time tx_hash "
        "returning { id total status user { name } } } }"
    )["insert_orders"]
    assert data["affected_rows"] == 2
    assert data["returning"] == [
        {"id": 20, "total": 1.5, "status": "new", "user": {"name": "Bob"}},
        {"id": 21, "total": None, "status": None, "user": {"name": "Carol"}},
    ]
    # Both rows (two INSERTs: different columns) in one transaction, named after its
    # COMMIT on PostgreSQL too, and sealed in the audit ledger.
    latest = shop.db.transactions(1)[0]
    assert (data["tx_id"], data["tx_time"]) == (latest["tx_id"], latest["tx_time"])
    assert data["tx_hash"] == shop.db.tx_hash(data["tx_id"]) is not None
    for key in (20, 21):
        assert [v["tx_id"] for v in shop.db.get_change_history("orders", key)] == [data["tx_id"]]


def test_update_and_delete_with_where(shop: Any, gql: Any) -> None:
    data = gql(
        'mutation { update_orders(where: {status: {eq: "pending"}}, set: {status: "paid"}) '
        "{ affected_rows returning { id status } } }"
    )
    assert data["update_orders"] == {
        "affected_rows": 2,
        "returning": [{"id": 11, "status": "paid"}, {"id": 14, "status": "paid"}],
    }
    data = gql(
        "mutation { delete_orders(where: {total: {lt: 10}}) { affected_rows tx_id "
        "returning { id } } }"
    )["delete_orders"]
    assert data["returning"] == [{"id": 12}, {"id": 14}]
    assert gql("{ orders { id } }")["orders"] == [{"id": 10}, {"id": 11}, {"id": 13}]
    # The deleted rows are still there in the past.
    past = gql(
        "query($tx: BigInt) { orders(asOfTransaction: $tx) { id } }", {"tx": data["tx_id"] - 1}
    )
    assert [o["id"] for o in past["orders"]] == [10, 11, 12, 13, 14]


def test_mutation_matching_nothing_makes_no_transaction(shop: Any, gql: Any) -> None:
    before = shop.db.transactions(1)[0]["tx_id"]
    data = gql("mutation { delete_orders(where: {id: {eq: 999}}) { affected_rows tx_id } }")
    assert data == {"delete_orders": {"affected_rows": 0, "tx_id": None}}
    assert shop.db.transactions(1)[0]["tx_id"] == before


def test_failed_mutation_changes_nothing(service: GraphQLService, gql: Any) -> None:
    result = service.run(
        'mutation { insert_users(objects: [{id: 50, name: "x"}, {id: 1, name: "dup"}]) '
        "{ affected_rows } }"
    )
    assert result.errors and "UNIQUE" in result.errors[0].message.upper()
    assert gql("{ users(id: 50) { id } }") == {"users": []}


def test_read_only_server_refuses_mutations(shop: Any) -> None:
    service = GraphQLService(shop.db, read_only=True)
    result = service.run('mutation { insert_users(objects: [{id: 9, name: "x"}]) { tx_id } }')
    assert result.errors[0].message == "this server is read-only: mutations are refused"
    assert result.errors[0].extensions == {"code": "READ_ONLY"}
    assert service.run("{ users(id: 9) { id } }").data == {"users": []}


def test_read_only_database_refuses_mutations(shop: Any, tmp_path: Path) -> None:
    shop.db.close()
    with ChronoDB(shop.db.path, read_only=True) as db:
        service = GraphQLService(db)
        result = service.run("mutation { delete_users(where: {}) { affected_rows } }")
        assert "read-only" in result.errors[0].message
        assert len(service.run("{ users { id } }").data["users"]) == 3
