"""GraphQL through a real server on a free loopback port: httpx and a graphql-transport-ws
client over the ``websockets`` library."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chronodb import ChronoDB
from chronodb.server import BackgroundServer

httpx = pytest.importorskip("httpx")
websockets = pytest.importorskip("websockets")

SEED_QUERY = "query { users(id: 1) { name email orders { total status } } }"


pytestmark = pytest.mark.usefixtures("backend")  # each test on a file and on PostgreSQL


@pytest.fixture
def db_file(shop: Any, backend: str) -> Path | str:
    """The shop's file, or its PostgreSQL URL."""
    shop.db.close()
    return backend


@pytest.fixture
def server(db_file: Path | str) -> Iterator[BackgroundServer]:
    with BackgroundServer(db_file, port=0) as server:
        yield server


def post(server: BackgroundServer, body: Any, **kw: Any) -> httpx.Response:
    return httpx.post(server.url + "/graphql", json=body, timeout=15, **kw)


def test_post_runs_the_seed_query(server: BackgroundServer) -> None:
    response = post(server, {"query": SEED_QUERY})
    assert response.status_code == 200
    user = response.json()["data"]["users"][0]
    assert user["name"] == "Alicia"
    assert [o["total"] for o in user["orders"]] == [25.5, 100.0, 5.0]


def test_variables_operation_name_and_get(server: BackgroundServer) -> None:
    body = {
        "query": "query A($id: Int) { users(id: $id) { name } } query B { users { id } }",
        "variables": {"id": 2},
        "operationName": "A",
    }
    assert post(server, body).json() == {"data": {"users": [{"name": "Bob"}]}}
    response = httpx.get(
        server.url + "/graphql", params={"query": "{ users_by_pk(id: 3) { name } }"}, timeout=15
    )
    assert response.json() == {"data": {"users_by_pk": {"name": "Carol"}}}
    response = httpx.get(
        server.url + "/graphql",
        params={"query": "mutation { delete_users(where: {}) { affected_rows } }"},
        timeout=15,
    )
    assert response.json()["errors"][0]["message"] == "mutations need POST"


def test_errors_are_graphql_errors_never_500(server: BackgroundServer) -> None:
    cases = [
        (b"not json", 400),
        (b"[1, 2]", 400),
        (b'{"query": 5}', 400),
        (b'{"query": "{ users { id }", "variables": 3}', 400),
        (b'{"query": "{ users { id "}', 200),
        (b'{"query": "{ nope }"}', 200),
        (b'{"query": "{ users(asOf: \\"yesterday-ish\\") { id } }"}', 200),
    ]
    for body, status in cases:
        response = httpx.post(server.url + "/graphql", content=body, timeout=15)
        assert response.status_code == status, body
        assert response.json()["errors"][0]["message"], body


def test_mutation_over_http_and_read_only_server(server: BackgroundServer, db_file: Path) -> None:
    body = {"query": 'mutation { insert_users(objects: [{id: 7, name: "Gus"}]) { tx_id } }'}
    assert post(server, body).json()["data"]["insert_users"]["tx_id"] > 0
    with BackgroundServer(db_file, port=0, read_only=True) as read_only:
        body = {"query": 'mutation { insert_users(objects: [{id: 8, name: "Hal"}]) { tx_id } }'}
        error = post(read_only, body).json()["errors"][0]
        assert error["message"] == "this server is read-only: mutations are refused"
        assert post(read_only, {"query": "{ users(id: 8) { id } }"}).json() == {
            "data": {"users": []}
        }


def test_token_is_required_when_set(db_file: Path) -> None:
    with BackgroundServer(db_file, port=0, token="s3cret") as server:
        assert post(server, {"query": "{ users { id } }"}).status_code == 401
        response = post(
            server, {"query": "{ users { id } }"}, headers={"authorization": "Bearer s3cret"}
        )
        assert len(response.json()["data"]["users"]) == 3


def test_graphiqls_introspection_query_answers_over_http_post(server: BackgroundServer) -> None:
    from graphql import build_client_schema, get_introspection_query

    response = post(server, {"query": get_introspection_query(descriptions=True)})
    assert response.status_code == 200
    body = response.json()
    assert "errors" not in body
    schema = build_client_schema(body["data"])
    assert {"users", "orders"} <= set(schema.query_type.fields)


def test_graphiql_page_with_local_assets(server: BackgroundServer) -> None:
    page = httpx.get(server.url + "/graphql", headers={"accept": "text/html"}, timeout=15)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "https://" not in page.text  # nothing from a CDN
    for asset in (
        "graphiql.min.js",
        "graphiql.min.css",
        "react.production.min.js",
        "react-dom.production.min.js",
    ):
        assert f"/graphql/static/{asset}" in page.text
        response = httpx.get(f"{server.url}/graphql/static/{asset}", timeout=15)
        assert response.status_code == 200
        assert len(response.content) > 5000
    assert "MIT" in httpx.get(server.url + "/graphql/static/LICENSE-graphiql", timeout=15).text
    assert "/graphql/static/operation.js" in page.text
    assert "ChronoDBGraphQL" in httpx.get(server.url + "/graphql/static/operation.js").text
    assert "asOfTransaction: " in page.text  # the opening query reads this file's history
    assert httpx.get(server.url + "/graphql/static/..%2fservice.py", timeout=15).status_code == 404


# ------------------------------------------------------------------ subscriptions
async def _recv(ws: Any, timeout: float = 15.0) -> dict[str, Any]:
    """The next message; the timeout only bounds a hang (a loaded machine can be slow)."""
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def _joined(server: BackgroundServer, table: str) -> None:
    """Wait until a subscription to ``table`` has joined the server's change feed.

    graphql-transport-ws does not acknowledge a subscribe, and a subscription gets the changes
    committed after the server handled its subscribe message: a test that writes before the
    subscription is in the feed could write before the server has even read that message.
    """
    feed = server.app.state.feed
    deadline = time.monotonic() + 15
    while table not in feed._live:
        assert time.monotonic() < deadline, f"no subscription to {table} joined the feed"
        await asyncio.sleep(0.01)


async def _connect(server: BackgroundServer) -> Any:
    url = server.url.replace("http://", "ws://") + "/graphql"
    ws = await websockets.connect(url, subprotocols=["graphql-transport-ws"])
    assert ws.subprotocol == "graphql-transport-ws"
    await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
    assert await _recv(ws) == {"type": "connection_ack"}
    return ws


def test_subscription_receives_changes_from_another_process(
    server: BackgroundServer, db_file: Path
) -> None:
    query = (
        'subscription { orders_changes(where: {status: {eq: "shipped"}}) '
        "{ operation tx_id tx_hash before { status } after { id status user { name } } } }"
    )

    async def scenario() -> list[dict[str, Any]]:
        ws = await _connect(server)
        try:
            await ws.send(
                json.dumps({"type": "subscribe", "id": "s1", "payload": {"query": query}})
            )
            await _joined(server, "orders")
            with ChronoDB(db_file, user="other") as writer:
                writer.execute("INSERT INTO orders VALUES (30, 2, 9.0, 'pending')")
                writer.execute("UPDATE orders SET status = 'shipped' WHERE id = 30")
                writer.execute("DELETE FROM orders WHERE id = 12")
            events = [await _recv(ws), await _recv(ws)]
            await ws.send(json.dumps({"type": "ping"}))
            assert await _recv(ws) == {"type": "pong"}
            await ws.send(json.dumps({"type": "complete", "id": "s1"}))
            with ChronoDB(db_file) as writer:
                writer.execute("UPDATE orders SET status = 'shipped' WHERE id = 11")
            with pytest.raises(TimeoutError):
                await _recv(ws, timeout=0.4)  # completed: nothing more
            return events
        finally:
            await ws.close()

    events = asyncio.run(scenario())
    assert [e["type"] for e in events] == ["next", "next"]
    assert {e["id"] for e in events} == {"s1"}
    update, delete = (e["payload"]["data"]["orders_changes"] for e in events)
    assert update["operation"] == "UPDATE"
    assert update["before"] == {"status": "pending"}
    assert update["after"] == {"id": 30, "status": "shipped", "user": {"name": "Bob"}}
    assert len(update["tx_hash"]) == 64
    # The delete matched by its before values (the pending insert matched nothing).
    assert delete["operation"] == "DELETE"
    assert delete["before"] == {"status": "shipped"}
    assert delete["after"] is None
    assert delete["tx_id"] > update["tx_id"]  # the next transaction


def test_subscription_protocol_errors(server: BackgroundServer) -> None:
    async def scenario() -> None:
        ws = await _connect(server)
        # A bad operation: an error for that id, the connection stays.
        await ws.send(
            json.dumps(
                {
                    "type": "subscribe",
                    "id": "bad",
                    "payload": {"query": "subscription { nope_changes { tx_id } }"},
                }
            )
        )
        message = await _recv(ws)
        assert message["type"] == "error" and message["id"] == "bad"
        assert "nope_changes" in message["payload"][0]["message"]
        # A query over the socket: one result, then complete.
        await ws.send(
            json.dumps(
                {
                    "type": "subscribe",
                    "id": "q",
                    "payload": {"query": "{ users_by_pk(id: 2) { name } }"},
                }
            )
        )
        assert await _recv(ws) == {
            "type": "next",
            "id": "q",
            "payload": {"data": {"users_by_pk": {"name": "Bob"}}},
        }
        assert await _recv(ws) == {"type": "complete", "id": "q"}
        # Initialising twice closes the connection with 4429.
        await ws.send(json.dumps({"type": "connection_init"}))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await _recv(ws)
        assert closed.value.rcvd.code == 4429

        # Subscribing before connection_init: 4401.
        url = server.url.replace("http://", "ws://") + "/graphql"
        async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as raw:
            await raw.send(
                json.dumps({"type": "subscribe", "id": "x", "payload": {"query": "{ a }"}})
            )
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await _recv(raw)
            assert closed.value.rcvd.code == 4401

    asyncio.run(scenario())
