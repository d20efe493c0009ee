"""The HTTP API through a real server and httpx."""

from __future__ import annotations

import httpx
import pytest

from chronodb import ChronoDB
from chronodb.server import BackgroundServer

pytestmark = pytest.mark.usefixtures("backend")  # each test on a file and on PostgreSQL
# What only SQLite's engine offers yet (notes on reads before a table existed).
sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


@pytest.fixture
def client(server: BackgroundServer):
    with httpx.Client(base_url=server.url, timeout=10) as http:
        yield http


def sql(client: httpx.Client, statement: str, params=None) -> httpx.Response:
    return client.post("/sql", json={"sql": statement, "params": params})


def test_sql_write_then_read_and_time_travel(client: httpx.Client):
    written = sql(client, "INSERT INTO users VALUES (?, ?)", [1, "Alice"])
    assert written.status_code == 200
    body = written.json()
    assert body["rowcount"] == 1 and body["tx_id"] > 0 and body["tx_time"] > 0
    assert len(body["tx_hash"]) == 64
    sql(client, "UPDATE users SET name = :name WHERE id = 1", {"name": "Alice Smith"})
    now = sql(client, "SELECT id, name FROM users").json()
    assert now["columns"] == ["id", "name"] and now["rows"] == [[1, "Alice Smith"]]
    assert now["tx_id"] is None
    then = sql(client, "SELECT name FROM users AS OF TRANSACTION ?", [body["tx_id"]]).json()
    assert then["rows"] == [["Alice"]]


def test_sql_errors_are_400_with_type_message_and_position(client: httpx.Client):
    response = sql(client, "SELECT * FROM users WHERE", None)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "SQLSyntaxError"
    # SQLite's and PostgreSQL's words for it
    assert "incomplete input" in error["message"] or "at end of input" in error["message"]
    bad = sql(client, "SELEKT 1").json()["error"]
    assert bad["position"] == 0
    missing = sql(client, "SELECT * FROM nowhere").json()["error"]
    assert missing["type"] == "SchemaError" and "nowhere" in missing["message"]
    constraint = sql(client, "INSERT INTO users VALUES (1, 'a')")
    assert constraint.status_code == 200
    assert sql(client, "INSERT INTO users VALUES (1, 'b')").json()["error"]["type"] == (
        "UniqueViolation"  # an IntegrityError: the error's own class, as the library raises
    )


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1]",
        b'{"params": []}',
        b'{"sql": ""}',
        b'{"sql": "SELECT ?", "params": [[1]]}',
        b'{"sql": "SELECT ?", "params": [99999999999999999999999]}',
        b'{"sql": "SELECT 1; SELECT 2"}',
        b'{"sql": "SELECT \'\\u0000\'"}',
        b'{"sql": "SELECT \'\\ud800\'"}',
    ],
    ids=lambda b: b.decode()[:30],
)
def test_bad_requests_are_400_never_500(client: httpx.Client, body: bytes, backend: str):
    response = client.post("/sql", content=body, headers={"content-type": "application/json"})
    if backend.startswith("postgresql") and b"99999" in body:
        # PostgreSQL takes a NUMERIC this large.
        assert response.status_code == 200, response.text
        return
    assert response.status_code == 400, response.text
    assert response.json()["error"]["message"]


@pytest.mark.parametrize(
    "statement", ["BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT a", "ATTACH 'x.db' AS x", "VACUUM"]
)
def test_statements_that_outlive_the_request_are_refused(client: httpx.Client, statement: str):
    response = sql(client, statement)
    assert response.status_code == 400
    assert "not available over HTTP" in response.json()["error"]["message"]
    assert sql(client, "INSERT INTO users VALUES (5, 'still works')").status_code == 200


def test_request_body_over_the_limit_is_413(client: httpx.Client):
    huge = "SELECT '" + "x" * (1024 * 1024) + "'"
    response = sql(client, huge)
    assert response.status_code == 413
    assert "at most 1048576 bytes" in response.json()["error"]["message"]


def test_tables_lists_columns_and_keys(client: httpx.Client):
    tables = client.get("/tables").json()["tables"]
    assert [t["name"] for t in tables] == ["orders", "users"]
    orders = tables[0]
    key = orders["columns"][0]
    assert key["name"] == "id" and key["type"].upper() == "INTEGER"
    assert key["primary_key"] == 1 and key["default"] is None and key["generated"] == ""
    assert set(key) == {
        "name",
        "type",
        "primary_key",
        "notnull",
        "default",
        "generated",
        "collation",
    }
    assert [c["name"] for c in orders["columns"]] == ["id", "status", "total"]


def test_history_of_one_row(client: httpx.Client, writer: ChronoDB):
    writer.execute("INSERT INTO orders VALUES (1, 'new', 5)")
    writer.execute("UPDATE orders SET status = 'shipped' WHERE id = 1")
    writer.execute("DELETE FROM orders WHERE id = 1")
    response = client.get("/tables/orders/history/1")
    assert response.status_code == 200
    versions = response.json()["versions"]
    assert [v["operation"] for v in versions] == ["INSERT", "UPDATE", "DELETE"]
    assert versions[1]["before"]["status"] == "new" and versions[1]["after"]["status"] == "shipped"
    assert client.get("/tables/orders/history/2").json()["versions"] == []
    missing = client.get("/tables/nowhere/history/1")
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "SchemaError"


def test_history_with_a_text_key_that_looks_like_a_number(client: httpx.Client, writer: ChronoDB):
    writer.execute("CREATE TABLE codes (code TEXT PRIMARY KEY, label TEXT)")
    writer.execute("INSERT INTO codes VALUES ('007', 'bond'), ('12', 'twelve')")
    assert client.get("/tables/codes/history/007").json()["versions"][0]["after"]["label"] == (
        "bond"
    )
    assert len(client.get("/tables/codes/history/12").json()["versions"]) == 1


def test_health(client: httpx.Client, writer: ChronoDB, backend: str):
    tx = writer.execute("INSERT INTO users VALUES (1, 'a')").tx_id
    response = client.get("/health")
    health = response.json()
    assert response.status_code == 200 and health["status"] in ("ok", "warn")
    assert len(health["tables"]) == 2 and health["database"]["size_bytes"] > 0
    assert {"latency", "alerts", "recommendations", "ledger", "server"} <= set(health)
    assert health["backend"] == ("postgresql" if backend.startswith("postgresql") else "sqlite")
    assert health["last_tx"]["tx_id"] == tx
    assert health["stream"]["running"] is True


def test_metrics_count_statements_and_errors(client: httpx.Client):
    sql(client, "SELECT 1")
    sql(client, "SELECT nope FROM nowhere")
    text = client.get("/metrics").text
    assert 'chronodb_statements_total{outcome="ok"} 1.0' in text
    assert 'chronodb_statements_total{outcome="error"} 1.0' in text
    assert "chronodb_statement_seconds_count 2.0" in text
    assert "chronodb_stream_connections 0.0" in text
    assert 'chronodb_errors_total{source="http"} 1.0' in text


def test_openapi_document_lists_every_endpoint(client: httpx.Client):
    doc = client.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    assert set(doc["paths"]) == {
        "/sql",
        "/tables",
        "/tables/{table}/history/{pk}",
        "/health",
        "/metrics",
        "/openapi.json",
        "/graphql",
        # the web UI's pages, each also JSON
        "/",
        "/diff",
        "/tables/{table}",
        "/tables/{table}/diff",
        "/tables/{table}/rows/{pk}",
        "/tables/{table}/restore",
        "/tables/{table}/rows/{pk}/restore",
        "/ledger/verify",
        "/ledger/proofs/{tx_hash}",
    }
    assert doc["paths"]["/graphql"]["post"]["summary"] == "Run a GraphQL query or mutation"


def test_the_index_lists_graphql(client: httpx.Client):
    index = client.get("/").json()
    assert "/graphql" in index["endpoints"]
    answer = client.post("/graphql", json={"query": "{ __typename }"})
    assert answer.json() == {"data": {"__typename": "Query"}}


def test_unknown_paths_and_methods_answer_json(client: httpx.Client):
    assert client.get("/nothing").json()["error"]["type"] == "NotFound"
    wrong = client.get("/sql")
    assert wrong.status_code == 405 and wrong.json()["error"]["type"] == "MethodNotAllowed"


NESTED = [
    b"[" * 30_000 + b"]" * 30_000,
    b'{"sql": "SELECT 1", "params": ' + b"[" * 30_000 + b"]" * 30_000 + b"}",
    b'{"sql": ' + b'{"a": ' * 8_000 + b"1" + b"}" * 8_000 + b"}",
    b"[" * 65 + b"]" * 65,
]


@pytest.mark.parametrize("body", NESTED, ids=lambda b: f"{len(b)} bytes")
def test_deeply_nested_bodies_are_400_and_the_server_stays_up(client: httpx.Client, body: bytes):
    assert len(body) < 64 * 1024
    response = client.post("/sql", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert "nested" in response.json()["error"]["message"]
    assert sql(client, "SELECT 1").status_code == 200


def test_bodies_at_and_past_the_size_limit(start_server):
    limit = 4096
    server = start_server(max_body_bytes=limit)
    with httpx.Client(base_url=server.url) as http:
        head = b'{"sql": "SELECT 1", "pad": "'
        at_limit = head + b"x" * (limit - len(head) - 2) + b'"}'
        assert len(at_limit) == limit
        assert http.post("/sql", content=at_limit).status_code == 200
        past = at_limit[:-2] + b'x"}'
        assert http.post("/sql", content=past).status_code == 413

        def chunks():  # no content-length: the limit holds while reading
            yield past[:2000]
            yield past[2000:]

        assert http.post("/sql", content=chunks()).status_code == 413
        assert http.post("/sql", content=b"\xff\xfe" * 10).status_code == 400
        assert http.post("/sql", json={"sql": "SELECT 2"}).json()["rows"] == [[2]]


@sqlite_only
def test_a_read_before_the_table_existed_carries_a_note(client: httpx.Client):
    sql(client, "CREATE TABLE early (id INTEGER PRIMARY KEY)")
    answer = sql(client, "SELECT * FROM early AS OF TRANSACTION ?", [0]).json()
    assert answer["rows"] == []
    (note,) = answer["notes"]
    assert note.startswith("early AS OF TRANSACTION 0 is before the table existed")
    assert sql(client, "SELECT * FROM early").json()["notes"] == []
