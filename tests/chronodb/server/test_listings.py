"""The HTTP API, GraphQL and the CLI describe tables alike: they all read db.columns()."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from chronodb import ChronoDB
from chronodb.cli import main
from chronodb.server import BackgroundServer
from chronodb.server.graphql.service import GraphQLService

pytest.importorskip("graphql")

COLUMNS = ["id", "w", "h", "area", "big"]
GENERATED = {"area": "VIRTUAL", "big": "STORED"}


@pytest.fixture
def path(tmp_path: Path) -> Path:
    path = tmp_path / "boxes.db"
    with ChronoDB(path) as db:
        db.execute(
            "CREATE TABLE boxes (id INTEGER PRIMARY KEY, w REAL, h REAL, "
            "area REAL GENERATED ALWAYS AS (w * h) VIRTUAL, big INT AS (w * h > 10) STORED)"
        )
        db.execute("INSERT INTO boxes (id, w, h) VALUES (1, 2, 3)")
    return path


def test_http_lists_generated_columns_marked(path: Path) -> None:
    with BackgroundServer(path, port=0) as server, httpx.Client(base_url=server.url) as http:
        (boxes,) = http.get("/tables").json()["tables"]
    assert [c["name"] for c in boxes["columns"]] == COLUMNS
    assert {c["name"]: c["generated"] for c in boxes["columns"] if c["generated"]} == GENERATED


def test_graphql_reads_generated_columns_and_never_writes_them(path: Path) -> None:
    with ChronoDB(path) as db:
        service = GraphQLService(db)
        found = service.run(
            '{ row: __type(name: "boxes") { fields { name } } '
            'input: __type(name: "boxes_insert_input") { inputFields { name } } '
            "boxes { id area big } }"
        )
    assert found.errors is None, found.errors
    assert [f["name"] for f in found.data["row"]["fields"]] == COLUMNS
    assert [f["name"] for f in found.data["input"]["inputFields"]] == ["id", "w", "h"]
    assert found.data["boxes"] == [{"id": 1, "area": 6.0, "big": 0}]


def test_cli_schema_lists_generated_columns_marked(path: Path) -> None:
    result = CliRunner().invoke(main, ["schema", str(path)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "boxes"
    assert lines[1].split(" | ")[0].strip() == "column"
    rows = [[cell.strip() for cell in line.split("|")] for line in lines[3:]]
    assert [r[0] for r in rows] == COLUMNS
    assert {r[0]: r[5] for r in rows if r[5]} == GENERATED


def test_cli_schema_as_of_a_point_and_for_unknown_tables(path: Path) -> None:
    with ChronoDB(path) as db:
        created = db.transactions()[-1]["tx_id"]
        db.execute("ALTER TABLE boxes ADD COLUMN label TEXT")
    runner = CliRunner()
    then = runner.invoke(main, ["schema", str(path), "boxes", "--as-of", str(created)])
    assert then.exit_code == 0, then.output
    assert "label" not in then.output and "area" in then.output
    assert "label" in runner.invoke(main, ["schema", str(path)]).output
    missing = runner.invoke(main, ["schema", str(path), "crates"])
    assert missing.exit_code == 1 and "no such table: crates" in missing.output


def test_the_three_agree_on_every_column(path: Path) -> None:
    with ChronoDB(path) as db:
        described = db.columns("boxes")
        graphql = GraphQLService(db).run('{ __type(name: "boxes") { fields { name } } }')
    with BackgroundServer(path, port=0) as server, httpx.Client(base_url=server.url) as http:
        (boxes,) = http.get("/tables").json()["tables"]
    cli = CliRunner().invoke(main, ["schema", str(path)]).output.splitlines()[3:]
    assert [c["name"] for c in boxes["columns"]] == [c.name for c in described]
    assert [f["name"] for f in graphql.data["__type"]["fields"]] == [c.name for c in described]
    assert [line.split("|")[0].strip() for line in cli] == [c.name for c in described]


def test_http_tables_as_of_a_point(path: Path) -> None:
    with ChronoDB(path) as db:
        labelled = db.execute("ALTER TABLE boxes ADD COLUMN label TEXT NOT NULL DEFAULT ''").tx_id
        db.execute("ALTER TABLE boxes DROP COLUMN label")
        db.execute("CREATE TABLE crates (id INTEGER PRIMARY KEY)")
    with BackgroundServer(path, port=0) as server, httpx.Client(base_url=server.url) as http:
        now = http.get("/tables").json()["tables"]
        then = http.get("/tables", params={"as_of": labelled}).json()["tables"]
        bad = http.get("/tables", params={"as_of": "last tuesday"})
    assert [t["name"] for t in now] == ["boxes", "crates"]
    assert [t["name"] for t in then] == ["boxes"]
    assert [c["name"] for c in then[0]["columns"]] == [*COLUMNS, "label"]
    label = then[0]["columns"][-1]
    assert (label["notnull"], label["generated"]) == (None, None)  # dropped: history kept no more
    assert then[0]["columns"][3]["generated"] == "VIRTUAL"
    assert bad.status_code == 400 and bad.json()["error"]["type"] == "TimestampError"
