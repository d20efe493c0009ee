"""Fuzz the HTTP API from its own OpenAPI document: no 500s, and answers match the document."""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402

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
