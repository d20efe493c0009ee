"""db.check_history(): silent on a healthy database, specific about each kind of damage."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from chronodb import ChronoDB
from chronodb.database import engine_of


@pytest.fixture
def filled(db: ChronoDB) -> ChronoDB:
    db.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)")
    db.execute("CREATE TABLE notes (body TEXT)")  # keyed by rowid
    db.executemany("INSERT INTO t VALUES (?, ?)", [(k, f"v{k}") for k in range(5)])
    db.execute("UPDATE t SET v = 'changed' WHERE k = 2")
    db.execute("DELETE FROM t WHERE k = 3")
    db.execute("INSERT INTO notes VALUES ('same'), ('same')")
    db.execute("ALTER TABLE t ADD COLUMN w INTEGER DEFAULT 7")
    return db


def history_table(db: ChronoDB, name: str) -> str:
    return (
        engine_of(db)
        .conn.execute("SELECT hist FROM _chrono_schema WHERE name = ? AND to_tx IS NULL", (name,))
        .fetchone()[0]
    )


def test_healthy_database_has_no_problems(filled: ChronoDB) -> None:
    assert filled.check_history() == []


def test_row_changed_behind_the_triggers_back(filled: ChronoDB) -> None:
    conn = engine_of(filled).conn
    hist = history_table(filled, "t")
    conn.execute(f'DELETE FROM "{hist}" WHERE k = 1')
    [problem] = filled.check_history()
    assert problem.startswith("t: current rows differ from history")
    assert "1 row(s) only in the table" in problem


def test_duplicate_rows_counted_not_just_compared(filled: ChronoDB) -> None:
    conn = engine_of(filled).conn
    hist = history_table(filled, "notes")
    conn.execute(f'DELETE FROM "{hist}" WHERE _chrono_rowid = 2')
    [problem] = filled.check_history()
    assert problem.startswith("notes:") and "2 vs 1 rows" in problem


def test_version_of_no_transaction(filled: ChronoDB) -> None:
    hist = history_table(filled, "t")
    engine_of(filled).conn.execute(f'UPDATE "{hist}" SET _chrono_tx = NULL WHERE k = 4')
    problems = filled.check_history()
    assert any(f"{hist}: 1 version(s) name missing transactions" in p for p in problems)


def test_a_record_timed_other_than_its_id(filled: ChronoDB) -> None:
    conn = engine_of(filled).conn
    last = conn.execute("SELECT max(tx_id) FROM _chrono_tx").fetchone()[0]
    conn.execute("UPDATE _chrono_tx SET tx_time = 1 WHERE tx_id = ?", (last,))
    assert filled.check_history() == [
        f"transaction {last} is not later than the one before it",
        f"transaction {last}'s record gives a time other than its id says",
    ]


def test_history_out_of_transaction_order(filled: ChronoDB) -> None:
    conn = engine_of(filled).conn
    hist = history_table(filled, "t")
    # A version of the first transaction appended after every later one.
    first = conn.execute(f'SELECT min(_chrono_tx) FROM "{hist}"').fetchone()[0]
    conn.execute(
        f"INSERT INTO \"{hist}\" (_chrono_tx, _chrono_op, k, v) VALUES (?, 'U', 99, 'late')",
        (first,),
    )
    problems = filled.check_history()
    assert any("history is out of order" in p and f"transaction {first})" in p for p in problems)


def test_a_lost_or_wrong_mark(tmp_path) -> None:
    """Marks place the transactions of a file from before ids were times (format 4 here)."""
    path = tmp_path / "kv.db"
    shutil.copy(Path(__file__).parent / "files" / "format4.db", path)
    with ChronoDB(path) as db:
        assert db.check_history() == []
        engine_of(db).conn.execute(
            "UPDATE _chrono_tx_mark SET tx_time = tx_time - 1 WHERE tx_id = 32"
        )
        [problem] = db.check_history()
    assert problem.startswith("_chrono_tx_mark: 1 transaction(s) without their mark, 1 mark(s)")
