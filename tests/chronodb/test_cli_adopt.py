"""``chronodb adopt`` and ``chronodb export`` as a user runs them."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner
from tests.chronodb.foreign_files import VERSIONED, make_app, plain_rows, schema_names

from chronodb import ChronoDB
from chronodb.cli import main


def test_adopt_dry_run_says_what_it_would_do_and_writes_nothing(tmp_path: Path) -> None:
    path = make_app(tmp_path / "app.db")
    before = path.read_bytes()
    result = CliRunner().invoke(main, ["adopt", str(path), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "6 table(s) to version, 30 row(s) as their first versions, about" in result.output
    assert "KB of history" in result.output or " B of history" in result.output
    assert "version grid: 5 row(s), by primary key (x, y)" in result.output
    assert "skip docs: virtual table" in result.output
    assert "skip docs_data: shadow table of docs" in result.output
    assert "Dry run: nothing was written." in result.output
    assert not [n for n in schema_names(path) if n.startswith("_chrono_")]
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["app.db"]


def test_adopt_versions_the_file_and_names_the_transaction(tmp_path: Path) -> None:
    path = make_app(tmp_path / "app.db")
    before = plain_rows(path, "users")
    result = CliRunner().invoke(main, ["adopt", str(path), "--user", "ops"])
    assert result.exit_code == 0, result.output
    found = re.search(r"Adopted 6 table\(s\) in transaction (\d+) at ", result.output)
    assert found is not None, result.output
    with ChronoDB(path, adopt=False) as db:
        assert db.tables() == VERSIONED
        assert db.transactions() == [
            {
                "tx_id": int(found[1]),
                "tx_time": db.transactions()[0]["tx_time"],
                "user": "ops",
                "kind": "adopt",
                "tables": 6,
                "kinds": ["ADOPT", "TABLES 6"],
            }
        ]
        rows = db.execute(f"SELECT * FROM users AS OF TRANSACTION {found[1]}")
        assert sorted(tuple(r) for r in rows) == before
    again = CliRunner().invoke(main, ["adopt", str(path)])
    assert "nothing to adopt, every table is versioned already" in again.output


def test_adopt_of_a_missing_file_says_so(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["adopt", str(tmp_path / "none.db")])
    assert result.exit_code == 1
    assert "No such database file" in result.output
    assert not (tmp_path / "none.db").exists()


def test_export_writes_a_plain_file_as_of_a_transaction(tmp_path: Path) -> None:
    path = make_app(tmp_path / "app.db")
    with ChronoDB(path) as db:
        tx = db.transactions()[0]["tx_id"]
        db.execute("UPDATE settings SET v = -1")
    result = CliRunner().invoke(
        main, ["export", str(path), str(tmp_path / "plain.db"), "--as-of", str(tx)]
    )
    assert result.exit_code == 0, result.output
    assert f"Wrote {tmp_path / 'plain.db'}: 7 table(s), " in result.output
    assert f"as of {tx}." in result.output
    assert "docs: not versioned, exported with its current rows" in result.output
    assert plain_rows(tmp_path / "plain.db", "settings") == [(f"k{i}", i) for i in range(5)]
    now = CliRunner().invoke(main, ["export", str(path), str(tmp_path / "now.db")])
    assert now.exit_code == 0, now.output
    assert plain_rows(tmp_path / "now.db", "settings") == [(f"k{i}", -1) for i in range(5)]
    twice = CliRunner().invoke(main, ["export", str(path), str(tmp_path / "now.db")])
    assert twice.exit_code == 1 and "exists already" in twice.output


def test_shell_help_names_the_adoption_when_it_is_the_latest_transaction(tmp_path: Path) -> None:
    path = make_app(tmp_path / "app.db")
    CliRunner().invoke(main, ["adopt", str(path)])
    out = CliRunner().invoke(main, ["shell", str(path)], input=".help\n").output
    assert re.search(
        r"latest transaction is \d+, at \S+, the adoption of 6 table\(s\) other tools made", out
    ), out
    with ChronoDB(path) as db:
        db.execute("UPDATE settings SET v = 0")
    out = CliRunner().invoke(main, ["shell", str(path)], input=".help\n").output
    assert "latest transaction is" in out and "adoption" not in out
