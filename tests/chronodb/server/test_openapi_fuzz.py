"""Fuzz the HTTP API from its own OpenAPI document: no 500s, and answers match the document;
then fuzz POST /sql and the WebSocket with nested, sized and binary payloads."""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from chronodb.server import BackgroundServer  # noqa: E402


@pytest.fixture(scope="module")
def fuzzed_server(tmp_path_factory):
    from chronodb import ChronoDB

    path = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
    with ChronoDB(path) as db:
        db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
        db.execute("INSERT INTO users VALUES (1, 'Alice')")
    with BackgroundServer(path, port=0) as server:
        yield server


@pytest.mark.slow
def test_fuzz_http_api_from_openapi(fuzzed_server: BackgroundServer):
    from schemathesis.checks import (
        content_type_conformance,
        not_a_server_error,
        response_schema_conformance,
        status_code_conformance,
    )

    schema = schemathesis.openapi.from_url(fuzzed_server.url + "/openapi.json")
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/sql", "/tables/{table}/history/{pk}", "/health"}
    for operation in operations:

        @settings(
            max_examples=25,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        @given(case=operation.as_strategy())
        def run(case):
            case.call_and_validate(checks=checks)

        run()


LIMIT = 64 * 1024  # the fuzzed server's limit for bodies and WebSocket messages


@pytest.fixture(scope="module")
def limited_server(tmp_path_factory):
    from chronodb import ChronoDB

    path = tmp_path_factory.mktemp("limits") / "limits.db"
    with ChronoDB(path) as db:
        db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    with BackgroundServer(path, port=0, max_body_bytes=LIMIT, max_message_bytes=LIMIT) as server:
        yield server


def _nested(depth: int, kind: str) -> bytes:
    if kind == "array":
        return b"[" * depth + b"]" * depth
    return b'{"a":' * depth + b"1" + b"}" * depth


def _sized(size: int) -> bytes:
    head = b'{"sql": "SELECT 1", "type": "ping", "pad": "'
    return head + b"x" * max(size - len(head) - 2, 0) + b'"}'


# Bodies and frames: nested to every depth up to far past Python's recursion limit, sized
# at and around the limit, and arbitrary bytes.
PAYLOADS = st.one_of(
    st.builds(
        _nested,
        st.one_of(
            st.sampled_from([1, 64, 65, 999, 1001, 10_000, 13_000, 30_000]),
            st.integers(1, 30_000),
        ),
        st.sampled_from(["array", "object"]),
    ),
    st.builds(_sized, st.integers(LIMIT - 3, LIMIT + 3)),
    st.binary(max_size=64),
    st.text(max_size=64).map(lambda t: t.encode("utf-8", "surrogatepass")),
)


@pytest.mark.slow
def test_fuzz_sql_bodies_nested_sized_and_binary(limited_server: BackgroundServer):
    import httpx

    with httpx.Client(base_url=limited_server.url, timeout=30) as http:

        @settings(max_examples=60, deadline=None, database=None)
        @given(body=PAYLOADS)
        def run(body: bytes) -> None:
            response = http.post("/sql", content=body)
            assert response.status_code in (200, 400, 413), response.text
            assert response.headers["content-type"].startswith("application/json")
            if response.status_code != 200:
                assert response.json()["error"]["message"]

        run()
        assert http.post("/sql", json={"sql": "SELECT 1"}).status_code == 200


@pytest.mark.slow
def test_fuzz_websocket_frames_nested_sized_and_binary(limited_server: BackgroundServer):
    """Every frame, text or binary, gets one answer, and the connection stays open."""
    import json

    from websockets.sync.client import connect

    with connect(limited_server.ws_url, max_size=None) as ws:

        @settings(max_examples=60, deadline=None, database=None)
        @given(frame=PAYLOADS, binary=st.booleans())
        def run(frame: bytes, binary: bool) -> None:
            if binary:
                ws.send(frame)
            else:
                ws.send(frame.decode("utf-8", "replace"))
            answer = json.loads(ws.recv(timeout=15))
            assert answer["type"] in ("error", "pong"), answer
            ws.send('{"type": "ping", "id": "after"}')
            pong = json.loads(ws.recv(timeout=15))
            assert (pong["type"], pong["id"]) == ("pong", "after")

        run()
