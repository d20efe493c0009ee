"""``chronodb copy`` as a user runs it."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner
from tests.chronodb import pgserver

from chronodb import ChronoDB
from chronodb.cli import main


def _source(path: Path) -> Path:
    with ChronoDB(path, user="alice") as db:
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        db.executemany("INSERT INTO t VALUES (?, ?)", [(i, f"v{i}") for i in range(2500)])
        db.execute("UPDATE t SET v = 'changed' WHERE id < 1500")
        db.execute("DELETE FROM t WHERE id >= 2000")
    return path


def test_copy_to_postgresql_shows_progress_and_the_root(tmp_path: Path, pg_url: str) -> None:
    source = _source(tmp_path / "app.db")
    with ChronoDB(source) as db:
        root = db.audit_trail.digest(save=False).root
    url = pgserver.as_url(pg_url)
    result = CliRunner().invoke(main, ["copy", str(source), url])
    assert result.exit_code == 0, result.output
    assert "Copying" in result.stderr
    assert f"Copied 4 transaction(s) and 4500 version(s) from {source} to {url}." in result.stdout
    assert f"Ledger: 4 leaves, root {root}, the same in both; the copy verifies." in result.stdout
    verified = CliRunner().invoke(main, ["verify", url])
    assert verified.exit_code == 0, verified.output


def test_copy_back_to_a_file_then_refuses_to_overwrite_it(tmp_path: Path, pg_url: str) -> None:
    source = _source(tmp_path / "app.db")
    url = pgserver.as_url(pg_url)
    assert CliRunner().invoke(main, ["copy", str(source), url]).exit_code == 0
    back = tmp_path / "back.db"
    result = CliRunner().invoke(main, ["copy", url, str(back)])
    assert result.exit_code == 0, result.output
    found = re.search(r"root ([0-9a-f]{64})", result.stdout)
    assert found is not None
    with ChronoDB(back) as db:
        assert db.audit_trail.digest(save=False).root == found.group(1)
        assert db.execute("SELECT count(*) FROM t AS OF TRANSACTION 1").fetchone()[0] == 0
    before = back.read_bytes()
    again = CliRunner().invoke(main, ["copy", str(source), str(back)])
    assert again.exit_code == 1
    assert f"destination {back} exists and is not empty; a copy never overwrites" in again.stderr
    assert back.read_bytes() == before


def test_copy_names_a_missing_source(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["copy", str(tmp_path / "no.db"), str(tmp_path / "x.db")])
    assert result.exit_code == 1
    assert "No such database file:" in result.stderr
    assert not (tmp_path / "x.db").exists()
