"""Tokens, the loopback rule and read-only serving."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import websockets
from click.testing import CliRunner
from wsclient import changes, send

from chronodb.cli import main
from chronodb.errors import ConfigError
from chronodb.server import BackgroundServer
from chronodb.server.auth import check_bind

TOKEN = "s3cret-token"


def test_binding_beyond_loopback_needs_a_token():
    check_bind("127.0.0.1", None)
    check_bind("::1", None)
    check_bind("localhost", None)
    check_bind("0.0.0.0", TOKEN)
    with pytest.raises(ConfigError, match="without a token"):
        check_bind("0.0.0.0", None)
    with pytest.raises(ConfigError):
        check_bind("192.168.1.20", "")


def test_serve_command_refuses_a_public_host_without_token(db_path):
    result = CliRunner().invoke(main, ["serve", str(db_path), "--host", "0.0.0.0"])
    assert result.exit_code == 1
    assert "without a token" in result.output


def test_every_http_request_needs_the_token(start_server):
    server: BackgroundServer = start_server(token=TOKEN)
    with httpx.Client(base_url=server.url, timeout=15) as client:
        for path in ("/health", "/tables", "/metrics", "/openapi.json"):
            denied = client.get(path)
            assert denied.status_code == 401, path
            assert denied.headers["www-authenticate"].startswith("Bearer")
        assert client.post("/sql", json={"sql": "SELECT 1"}).status_code == 401
        wrong = client.get("/health", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        good = {"Authorization": f"Bearer {TOKEN}"}
        assert client.get("/health", headers=good).status_code == 200
        assert client.post("/sql", json={"sql": "SELECT 1"}, headers=good).json()["rows"] == [[1]]
        doc = client.get("/openapi.json", headers=good).json()
        assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


async def test_websockets_need_the_token_in_the_query_or_a_header(start_server):
    server: BackgroundServer = start_server(token=TOKEN)
    with pytest.raises(websockets.InvalidStatus) as denied:
        async with websockets.connect(server.ws_url):
            pass
    assert denied.value.response.status_code == 403
    with pytest.raises(websockets.InvalidStatus):
        async with websockets.connect(server.ws_url + "?token=wrong"):
            pass
    async with websockets.connect(server.ws_url + f"?token={TOKEN}") as ws:
        assert (await send(ws, {"type": "subscribe", "table": "orders"}))["type"] == "subscribed"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with websockets.connect(server.ws_url, additional_headers=headers) as ws:
        assert (await send(ws, {"type": "ping"}))["type"] == "pong"


async def test_read_only_refuses_writes_but_still_streams(start_server, writer):
    server: BackgroundServer = start_server(read_only=True)
    async with httpx.AsyncClient(base_url=server.url, timeout=15) as client:
        for statement in (
            "INSERT INTO users VALUES (1, 'x')",
            "CREATE TABLE t (a)",
            "CREATE INDEX i ON users (name)",
            "DELETE FROM users",
        ):
            refused = await client.post("/sql", json={"sql": statement})
            assert refused.status_code == 403, statement
            assert refused.json()["error"]["type"] == "ReadOnlyError"
        assert (await client.post("/sql", json={"sql": "SELECT count(*) FROM users"})).json()[
            "rows"
        ] == [[0]]
    async with websockets.connect(server.ws_url) as ws:
        await send(ws, {"type": "subscribe", "table": "users"})
        await asyncio.to_thread(writer.execute, "INSERT INTO users VALUES (9, 'elsewhere')")
        (event,) = await changes(ws, 1)
    assert event["after"]["id"] == 9


def test_create_app_refuses_memory_databases_and_empty_tokens(tmp_path):
    from chronodb.server import create_app

    with pytest.raises(ValueError, match="database file"):
        create_app(":memory:")
    with pytest.raises(ValueError, match="token"):
        create_app(tmp_path / "x.db", token="")
