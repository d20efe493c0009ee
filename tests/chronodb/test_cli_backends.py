"""The command line on both backends: a file path or a ``postgresql://`` URL, the same
commands and the same output; commands for SQLite files alone say so for a URL."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from tests.chronodb import pgserver

from chronodb.cli import main


def run(*args: str, stdin: str | None = None) -> str:
    out = CliRunner().invoke(main, list(args), input=stdin)
    assert out.exit_code == 0, out.output
    return out.output


@pytest.fixture
def made(backend: str) -> str:
    """``backend`` with a table written twice from the command line."""
    run("exec", backend, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)", "--create")
    run("exec", backend, "INSERT INTO t VALUES (?, ?)", "-p", "1", "-p", "a")
    run("exec", backend, "UPDATE t SET v = ? WHERE id = ?", "-p", "b", "-p", "1")
    return backend


def test_exec_writes_and_reads_any_past_point(made: str) -> None:
    history = json.loads(run("history", made, "t", "1", "-f", "json"))
    assert [(h["operation"], h["values"]["v"]) for h in history] == [
        ("INSERT", "a"),
        ("UPDATE", "b"),
    ]
    first = history[0]
    for clause, point in (("TRANSACTION", str(first["tx_id"])), ("TIMESTAMP", first["time"])):
        sql = f"SELECT id, v FROM t AS OF {clause} ? ORDER BY id"
        rows = json.loads(run("exec", made, sql, "-p", point, "-f", "json"))
        assert rows == [{"id": 1, "v": "a"}]
    now = json.loads(run("exec", made, "SELECT v FROM t", "-f", "json"))
    assert now == [{"v": "b"}]


def test_a_write_prints_its_transaction(made: str) -> None:
    out = json.loads(run("exec", made, "DELETE FROM t WHERE id = 1", "-f", "json"))
    assert out["rowcount"] == 1 and out["tx_id"] > 0 and out["tx_time"].endswith("Z")


def test_schema_lists_the_tables_columns(made: str) -> None:
    out = run("schema", made)
    assert out.splitlines()[0] == "t"
    assert any(line.startswith("id ") and " 1 " in line for line in out.splitlines())


def test_the_shell_runs_statements_until_each_is_complete(made: str) -> None:
    script = "SELECT v\n  FROM t;\n.tables\nSELECT 'x;y' AS s;\n"
    out = run("shell", made, stdin=script)
    assert "b" in out.split() and "x;y" in out
    assert "t" in out.split()


def test_the_postgresql_shell_keeps_dollar_quoted_semicolons(pg_url: str) -> None:
    out = run("shell", pgserver.as_url(pg_url), stdin="SELECT $$a;\nb$$ AS s;\n")
    assert "a;" in out and "b" in out


@pytest.mark.parametrize("command", [["adopt"], ["export", "plain.db"]])
def test_sqlite_file_commands_say_so_for_a_url(command: list[str]) -> None:
    url = "postgresql://alice:hunter2@db.example.com/shop"
    out = CliRunner().invoke(main, [command[0], url, *command[1:]])
    assert out.exit_code == 1
    assert "works on SQLite files" in out.output or "copies a SQLite database" in out.output
    assert "hunter2" not in out.output


def test_an_unreachable_server_is_one_line_without_the_password() -> None:
    url = "postgresql://alice:hunter2@127.0.0.1:1/shop"
    out = CliRunner().invoke(main, ["exec", url, "SELECT 1"])
    assert out.exit_code == 1
    assert out.output.startswith("Error: ") and "127.0.0.1:1" in out.output
    assert "hunter2" not in out.output and "Traceback" not in out.output


def test_verify_and_digest_check_the_ledger(made: str) -> None:
    assert run("verify", made).startswith("Audit verification OK")
    digest = json.loads(run("digest", made))
    assert digest["tree_size"] >= 2 and len(digest["root"]) == 64
