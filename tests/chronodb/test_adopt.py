"""Adopting files other tools made: every kind of table, one transaction, plans, SIGKILL."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from tests.chronodb.foreign_files import (
    FTS_SHADOWS,
    VERSIONED,
    make_app,
    make_big,
    plain_rows,
    schema_names,
    sorted_rows,
)

from chronodb import (
    ChronoDB,
    ConfigError,
    NotADatabaseError,
    ReadOnlyError,
    UnversionedTablesError,
)
from chronodb.adopt import adopt, plan_adoption
from chronodb.audit.leaf import Leaf
from chronodb.versioning import tables


@pytest.fixture
def app(tmp_path: Path) -> Path:
    return make_app(tmp_path / "app.db")


def _rows(db: ChronoDB, sql: str, *params: object) -> list[tuple[object, ...]]:
    return sorted_rows(db.execute(sql, list(params)))


def test_opening_versions_every_kind_of_table_with_its_rows(app: Path) -> None:
    before = {t: plain_rows(app, t) for t in VERSIONED}
    with ChronoDB(app, user="ops") as db:
        assert db.tables() == VERSIONED
        [adoption] = db.transactions()
        assert adoption["user"] == "ops"
        tx = adoption["tx_id"]
        for table in VERSIONED:
            assert _rows(db, f"SELECT * FROM {table} AS OF TRANSACTION ?", tx) == before[table]
        assert db.check_history() == []
        assert db.verify_audit_integrity()


def test_writes_after_adoption_keep_the_adopted_state(app: Path) -> None:
    before = {t: plain_rows(app, t) for t in VERSIONED}
    with ChronoDB(app) as db:
        tx = db.transactions()[0]["tx_id"]
        db.execute("INSERT INTO users (name) VALUES ('new')")
        db.execute("UPDATE settings SET v = v + 100")
        db.execute("DELETE FROM grid WHERE x = 0")
        db.execute("UPDATE notes SET score = -1")
        db.execute("UPDATE orders SET qty = 10 WHERE id = 1")
        db.execute("INSERT INTO docs VALUES ('later', 'words')")
        # The user's trigger, CHECK, NOT NULL, generated columns and FTS5 still work.
        assert db.execute("SELECT msg FROM log ORDER BY rowid DESC").scalar() == "new new"
        assert tuple(db.execute("SELECT doubled, tripled FROM orders WHERE id = 1")[0]) == (20, 30)
        assert db.execute("SELECT title FROM docs WHERE docs MATCH 'words'").scalar() == "later"
        with pytest.raises(Exception, match="CHECK"):
            db.execute("INSERT INTO users (name, age) VALUES ('bad', -1)")
        with pytest.raises(Exception, match="NOT NULL"):
            db.execute("INSERT INTO users (age) VALUES (3)")
        assert db.execute("SELECT max(id) FROM users").scalar() == 6  # AUTOINCREMENT goes on
        for table in VERSIONED:
            assert _rows(db, f"SELECT * FROM {table} AS OF TRANSACTION ?", tx) == before[table]
        assert db.check_history() == []
        assert db.verify_audit_integrity()


def test_fts5_tables_and_their_shadow_tables_stay_unversioned(app: Path) -> None:
    with ChronoDB(app) as db:
        assert "docs" not in db.tables()
        assert not set(FTS_SHADOWS) & set(db.tables())
    skipped = dict(plan_adoption(app).skipped)
    assert "virtual table" in skipped["docs"]
    for shadow in FTS_SHADOWS:
        assert skipped[shadow].startswith("shadow table of docs")


def test_adoption_is_one_ledger_leaf_recorded_as_the_adoption(app: Path) -> None:
    with ChronoDB(app) as db:
        tx = db.transactions()[0]["tx_id"]
        tx_hash = db.tx_hash(tx)
        assert tx_hash is not None
        leaf = Leaf.decode(bytes.fromhex(db.audit_trail.prove(tx_hash)["leaf"]))
    assert leaf.kinds == ("ADOPT", f"TABLES {len(VERSIONED)}")
    assert len(leaf.tables) == len(VERSIONED)


def test_adopt_false_refuses_a_file_with_unversioned_tables(app: Path) -> None:
    with pytest.raises(UnversionedTablesError, match="users") as caught:
        ChronoDB(app, adopt=False)
    assert caught.value.tables == ["users", "notes", "grid", "settings", "orders", "log"]
    assert not [n for n in schema_names(app) if n.startswith("_chrono_")]
    with ChronoDB(app) as db:
        assert db.tables() == VERSIONED
    ChronoDB(app, adopt=False).close()  # nothing left to adopt


def _file_state(path: Path) -> tuple[bytes, list[str]]:
    """The file's bytes and the files SQLite keeps beside it (-wal, -shm, -journal)."""
    beside = sorted(p.name for p in path.parent.glob(f"{path.name}-*"))
    return path.read_bytes(), beside


def test_refused_adoption_leaves_the_file_exactly_as_it_was(app: Path) -> None:
    conn = sqlite3.connect(app)
    conn.execute("PRAGMA user_version = 7")
    conn.execute("PRAGMA application_id = 1234")
    conn.close()
    before = _file_state(app)
    with pytest.raises(UnversionedTablesError):
        ChronoDB(app, adopt=False)
    assert _file_state(app) == before
    conn = sqlite3.connect(app)
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    assert conn.execute("PRAGMA user_version").fetchone() == (7,)
    assert conn.execute("PRAGMA application_id").fetchone() == (1234,)
    conn.close()


@pytest.mark.parametrize("ledger", [True, False])
def test_transactions_name_the_adoption_and_its_table_count(app: Path, ledger: bool) -> None:
    with ChronoDB(app, user="ops", ledger=ledger) as db:
        db.execute("INSERT INTO users (name) VALUES ('after')")
        db.execute("CREATE TABLE added (a TEXT)")
    conn = sqlite3.connect(app)
    conn.execute("CREATE TABLE other_tool (x INT)")
    conn.execute("INSERT INTO other_tool VALUES (1)")
    conn.commit()
    conn.close()
    with ChronoDB(app, user="ops", ledger=ledger) as db:
        second, create, write, first = db.transactions()
        assert db.transactions(limit=1) == [second]
    assert (first["kind"], first["tables"], first["user"]) == ("adopt", len(VERSIONED), "ops")
    assert (second["kind"], second["tables"]) == ("adopt", 1)
    assert "kind" not in write and "kind" not in create
    assert first["tx_id"] < write["tx_id"] < create["tx_id"] < second["tx_id"]


def test_plan_says_what_adoption_will_do_and_writes_nothing(app: Path) -> None:
    plan = plan_adoption(app)
    assert sorted(t.name for t in plan.tables) == VERSIONED
    assert {t.name: t.rows for t in plan.tables}["users"] == 5
    assert {t.name: t.key for t in plan.tables}["grid"] == "primary key (x, y)"
    assert {t.name: t.key for t in plan.tables}["notes"] == "rowid"
    assert plan.rows == 30 and plan.history_bytes > 0
    text = "\n".join(plan.describe())
    assert "6 table(s) to version, 30 row(s)" in text and "skip docs: virtual table" in text
    assert not [n for n in schema_names(app) if n.startswith("_chrono_")]
    adopt(app)
    assert plan_adoption(app).tables == ()


def test_adopt_reports_progress_batch_by_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = make_big(tmp_path / "big.db", 1000)
    monkeypatch.setattr(tables, "BATCH_ROWS", 300)
    batches: list[int] = []
    plan = adopt(path, progress=batches.append)
    assert sum(batches) == plan.rows == 2000
    assert max(batches) == 300 and len(batches) == 8
    with ChronoDB(path) as db:
        assert db.check_history() == []


KILLED_ADOPTION = """
import sys, time
from chronodb.adopt import adopt
from chronodb.versioning import tables
tables.BATCH_ROWS = 2000
seen = []
def progress(rows):
    seen.append(rows)
    if len(seen) == 3:  # midway through the first table: wait here to be killed
        print("copying", flush=True)
        time.sleep(60)
adopt(sys.argv[1], progress=progress)
"""


def test_adoption_killed_midway_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    path = make_big(tmp_path / "big.db", 20_000)
    before = plain_rows(path, "items")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(KILLED_ADOPTION), str(path)],
        stdout=subprocess.PIPE,
        env=env,
    )
    assert child.stdout is not None
    assert child.stdout.readline() == b"copying\n"
    child.send_signal(signal.SIGKILL)
    child.wait()
    conn = sqlite3.connect(path)
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_schema")]
    conn.close()
    assert names == ["events", "items"]
    assert plain_rows(path, "items") == before
    with ChronoDB(path) as db:
        assert db.tables() == ["events", "items"]
        assert db.check_history() == []
        tx = db.transactions()[0]["tx_id"]
        assert _rows(db, "SELECT * FROM items AS OF TRANSACTION ?", tx) == before


def test_strict_tables_odd_names_null_keys_and_cascades_adopt(tmp_path: Path) -> None:
    path = tmp_path / "odd.db"
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        CREATE TABLE "order items" ("it""em" TEXT, n INTEGER NOT NULL) STRICT;
        CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT);
        CREATE TABLE child (id INTEGER PRIMARY KEY,
                            pid INT REFERENCES parent (id) ON DELETE CASCADE);
        CREATE TABLE pairs (a TEXT, b TEXT, PRIMARY KEY (a, b));
        INSERT INTO "order items" VALUES ('x', 1), ('y', 2);
        INSERT INTO parent VALUES (1, 'a'), (2, 'b');
        INSERT INTO child VALUES (1, 1), (2, 1), (3, 2);
        INSERT INTO pairs VALUES (NULL, 'b'), ('a', NULL), (NULL, NULL);
        ANALYZE;
        """
    )
    conn.close()
    before = {t: plain_rows(path, t) for t in ("order items", "child", "pairs")}
    with ChronoDB(path) as db:
        assert db.tables() == ["child", "order items", "pairs", "parent"]
        tx = db.transactions()[0]["tx_id"]
        db.execute("PRAGMA foreign_keys = ON")
        db.execute("DELETE FROM parent WHERE id = 1")
        db.execute('UPDATE "order items" SET n = 5')
        assert _rows(db, "SELECT * FROM child") == [(3, 2)]
        for table, rows in before.items():
            assert _rows(db, f'SELECT * FROM "{table}" AS OF TRANSACTION ?', tx) == rows
        assert db.check_history() == []
        assert db.verify_audit_integrity()


def test_read_only_on_a_file_not_yet_adopted_says_what_to_do(app: Path) -> None:
    with pytest.raises(ReadOnlyError, match="not a ChronoDB file yet; open it once without"):
        ChronoDB(app, read_only=True)
    assert not [n for n in schema_names(app) if n.startswith("_chrono_")]


def test_adopt_option_is_checked_and_read_from_config(app: Path) -> None:
    with pytest.raises(ConfigError, match="adopt must be True or False, not 'no'"):
        ChronoDB(app, adopt="no")
    config = app.parent / "config.yaml"
    config.write_text(f"database:\n  data_file: {app.name}\n  adopt: false\n", encoding="utf-8")
    with pytest.raises(UnversionedTablesError):
        ChronoDB.from_config(config)


def test_planning_a_file_that_is_no_database_says_so(tmp_path: Path) -> None:
    notes = tmp_path / "notes.db"
    notes.write_bytes(b"shopping list\n" * 500)
    with pytest.raises(NotADatabaseError, match=r"notes\.db: not an SQLite database"):
        plan_adoption(notes)
