"""The sample shop of ``chronodb serve --sample``, and what the command prints first."""

from __future__ import annotations

import json
import shlex
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from chronodb import ChronoDB
from chronodb.cli import main
from chronodb.server import runner as runner_module
from chronodb.server.graphql.service import GraphQLService
from chronodb.server.sample import describe, seed_sample


def test_sample_shop_has_history_to_travel_through(tmp_path: Path) -> None:
    with ChronoDB(tmp_path / "shop.db") as db:
        assert seed_sample(db) is True
        assert db.tables() == ["orders", "users"]
        statuses = [v["values"]["status"] for v in db.get_change_history("orders", 1)]
        assert statuses == ["new", "shipped"]
        first = db.get_change_history("orders", 3)[0]["tx_id"]
        then = db.execute("SELECT count(*) FROM orders AS OF TRANSACTION ?", [first])
        assert then.scalar() == 3
        assert db.execute("SELECT count(*) FROM orders").scalar() == 2
        assert db.verify_audit_integrity()
        # A database that already has tables is left alone.
        assert seed_sample(db) is False


def test_describe_names_every_endpoint() -> None:
    text = describe("http://127.0.0.1:8765", "ws://127.0.0.1:8765/ws")
    for part in (
        "/graphql",
        "/sql",
        "/tables/users/history/1",
        "ws://127.0.0.1:8765/ws",
        "/health",
        "/metrics",
        "/openapi.json",
    ):
        assert part in text


def banner(runner: CliRunner, db: Path, *args: str) -> Result:
    """``chronodb serve DB ...`` up to the point where it would start serving."""
    return runner.invoke(main, ["serve", str(db), "--port", "0", *args])


@pytest.fixture
def no_serving(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    served: list[str] = []
    monkeypatch.setattr(runner_module, "serve", lambda db, **kw: served.append(db))
    return served


def test_the_sample_banners_examples_reach_the_point_they_name(
    tmp_path: Path, no_serving: list[str]
) -> None:
    db = tmp_path / "shop.db"
    out = banner(CliRunner(), db, "--sample")
    assert out.exit_code == 0, out.output
    assert no_serving == [str(db)]
    with ChronoDB(db) as database:
        latest, before = database.transactions(limit=2)
        now = database.execute("SELECT * FROM orders ORDER BY id").to_dicts()
        then = database.execute(
            "SELECT * FROM orders AS OF TRANSACTION ? ORDER BY id", [before["tx_id"]]
        ).to_dicts()
        service = GraphQLService(database)
        lines = out.output.splitlines()
        assert f"transaction ({latest['tx_id']}, " in out.output
        queries = [line.split("GraphQL:")[-1].strip() for line in lines if "(asOf" in line]
        assert len(queries) == 2 and f"asOfTransaction: {before['tx_id']}" in queries[0]
        for query in queries:
            rows = service.run(query).data["orders"]
            assert [r["id"] for r in rows] == [r["id"] for r in then]
    assert [r["id"] for r in then] == [1, 2, 3] and [r["id"] for r in now] == [1, 2]
    commands = [shlex.split(line)[1:] for line in lines if line.strip().startswith("chronodb ")]
    assert len(commands) == 2
    for command in commands:
        result = CliRunner().invoke(main, [*command, "--format", "json"])
        assert result.exit_code == 0, result.output
        assert [r["id"] for r in json.loads(result.output)] == [1, 2, 3]
    curl = next(shlex.split(line) for line in lines if line.strip().startswith("curl "))
    body = json.loads(curl[curl.index("-d") + 1])
    with ChronoDB(db) as database:
        assert [r[0] for r in database.execute(body["sql"]).rows] == [1, 2, 3]


def test_sample_on_a_file_with_tables_says_it_skipped(
    tmp_path: Path, no_serving: list[str]
) -> None:
    db = tmp_path / "mine.db"
    with ChronoDB(db) as database:
        database.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    out = banner(CliRunner(), db, "--sample")
    assert out.exit_code == 0, out.output
    assert f"--sample skipped: {db} already has tables" in out.output
    with ChronoDB(db) as database:
        assert database.tables() == ["notes"]


def test_serve_checks_the_port_before_printing_anything(
    tmp_path: Path, no_serving: list[str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = CliRunner().invoke(main, ["serve", str(tmp_path / "x.db"), "--port", str(port)])
    assert out.exit_code == 1
    assert out.stdout == ""
    assert f"cannot listen on 127.0.0.1:{port}" in out.stderr
    assert "Traceback" not in out.output
    assert no_serving == []


def test_serve_help_mentions_graphql() -> None:
    out = CliRunner().invoke(main, ["serve", "--help"], terminal_width=80).output
    assert "GraphQL" in out and "/graphql" in out
