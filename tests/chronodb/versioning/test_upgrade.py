"""Opening a file an earlier ChronoDB wrote: it is upgraded in place and reads as before.

``files/format1.db`` was written by ChronoDB at file format 1 (births kept as a partial
index of history); the statements that made it, one transaction each, are listed below.
``files/format2.db`` was written at format 2 (an index on every transaction's time),
``files/format3.db`` at format 3 (marks kept by triggers), ``files/format4.db`` at
format 4 (history writes that could abort), ``files/format5.db`` at format 5 (births: a
key once per life), ``files/format6.db`` at format 6 (triggers that let any connection
write) and ``files/format7.db`` at format 7 (stored history triggers, counted transaction
ids), all by ``files/make_kv.py``. ``files/format8.db`` was written at format 8 (untyped
history columns, no collations in the catalog, no views recorded) by
``files/make_format8.py``, and ``files/nullable8.db`` by ``files/make_nullable8.py`` with
the ChronoDB of that format, which refused a NULL in a key.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from chronodb import ChronoDB, ChronoDBError, ReadOnlyError
from chronodb.layout import WRITE_GUARD
from chronodb.versioning.upgrade import FORMAT, copy_table

FILES = Path(__file__).parent / "files"
FORMAT1 = FILES / "format1.db"
FORMAT2 = FILES / "format2.db"
# tx 1  CREATE TABLE accounts (id INTEGER PRIMARY KEY, owner TEXT, balance REAL)
# tx 2  INSERT (1, 'ann', 10.0), (2, 'bob', 20.0), (3, 'cy', 30.0)
# tx 3  UPDATE accounts SET balance = balance + 1 WHERE id = 1
# tx 4  DELETE FROM accounts WHERE id = 2
# tx 5  INSERT INTO accounts VALUES (2, 'bob again', 5.0)
# tx 6  DELETE id 3, then INSERT (3, 'cy 2', 33.0), in one transaction
# tx 7  UPDATE accounts SET id = 4 WHERE id = 1
# tx 8  CREATE TABLE notes (body TEXT); tx 9 INSERT 'first', 'second'
# tx 10 CREATE TABLE pairs (a TEXT, b INTEGER, v TEXT, PRIMARY KEY (a, b))
# tx 11 INSERT ('x', 1, 'one'), ('x', 2, 'two'); tx 12 DROP TABLE pairs
ACCOUNTS = {
    2: [(1, "ann", 10.0), (2, "bob", 20.0), (3, "cy", 30.0)],
    3: [(1, "ann", 11.0), (2, "bob", 20.0), (3, "cy", 30.0)],
    4: [(1, "ann", 11.0), (3, "cy", 30.0)],
    5: [(1, "ann", 11.0), (2, "bob again", 5.0), (3, "cy", 30.0)],
    6: [(1, "ann", 11.0), (2, "bob again", 5.0), (3, "cy 2", 33.0)],
    7: [(2, "bob again", 5.0), (3, "cy 2", 33.0), (4, "ann", 11.0)],
}


@pytest.fixture
def old_file(tmp_path: Path) -> Path:
    path = tmp_path / "old.db"
    shutil.copy(FORMAT1, path)
    return path


def file_format(path: Path) -> str:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT value FROM _chrono_meta WHERE key = 'format'").fetchone()[0]


def test_an_old_file_reads_as_before_at_every_point(old_file: Path) -> None:
    with ChronoDB(old_file) as db:
        for tx, rows in ACCOUNTS.items():
            got = db.execute(f"SELECT * FROM accounts AS OF TRANSACTION {tx} ORDER BY id")
            assert [tuple(r) for r in got] == rows, tx
        notes = db.execute("SELECT body FROM notes AS OF TRANSACTION 9 ORDER BY body")
        assert [r[0] for r in notes] == ["first", "second"]
        pairs = db.execute("SELECT a, b, v FROM pairs AS OF TRANSACTION 11 ORDER BY b")
        assert [tuple(r) for r in pairs] == [("x", 1, "one"), ("x", 2, "two")]
        ops = [c["operation"] for c in db.get_change_history("accounts", 2)]
        assert ops == ["INSERT", "DELETE", "INSERT"]
        assert db.check_history() == []
        assert db.verify_audit_integrity()
    assert file_format(old_file) == str(FORMAT)


def test_an_upgraded_file_keeps_working(old_file: Path) -> None:
    with ChronoDB(old_file) as db:
        db.execute("INSERT INTO accounts VALUES (5, 'dee', 1.0)")
        db.execute("UPDATE accounts SET balance = 2.0 WHERE id = 5")
        deleted = db.execute("DELETE FROM accounts WHERE id = 2").tx_id
        noted = db.execute("INSERT INTO notes VALUES ('third')").tx_id
        # New transactions are numbered by their time, after the counted ones (1 to 12).
        assert 12 < deleted < noted
        sql = "SELECT id, balance FROM accounts AS OF TRANSACTION ? ORDER BY id"
        now = db.execute(sql, [deleted])
        assert [tuple(r) for r in now] == [(3, 33.0), (4, 11.0), (5, 2.0)]
        then = db.execute(sql, [7])
        assert [tuple(r) for r in then] == [(r[0], r[2]) for r in ACCOUNTS[7]]
        assert db.execute("SELECT count(*) FROM notes AS OF TRANSACTION ?", [noted]).scalar() == 3
        assert db.check_history() == []
        assert db.verify_audit_integrity()
    with sqlite3.connect(old_file) as conn:
        kinds = conn.execute("SELECT name, type FROM sqlite_schema").fetchall()
    assert not [name for name, kind in kinds if kind == "index" and name.endswith("_ins")]
    assert ("_chrono_k1_accounts", "table") in kinds
    assert not [name for name, _ in kinds if name.startswith("_chrono_b")]


def test_an_upgraded_files_periods_span_counted_and_timed_ids(old_file: Path) -> None:
    """A counted transaction's time is its record's, a later one's is its id's: a version
    begun in the counted era and ended after it reads both."""
    with ChronoDB(old_file) as db:
        deleted = db.execute("DELETE FROM accounts WHERE id = 2").tx_id
        times = {t["tx_id"]: t["tx_time"] for t in db.transactions()}
        times[deleted] = db.transactions(limit=1)[0]["tx_time"]
        sql = "SELECT owner, sys_from, sys_to FROM accounts FOR SYSTEM_TIME {} WHERE id = 2"
        expected = [("bob", times[2], times[4]), ("bob again", times[5], times[deleted])]
        for clause in ("ALL", "BETWEEN 0 AND 9e9", "CONTAINED IN (0, 9e9)"):
            got = sorted(tuple(r) for r in db.execute(sql.format(clause)))
            assert got == expected, clause


def test_read_only_refuses_an_old_file_and_leaves_it_alone(old_file: Path) -> None:
    with pytest.raises(ReadOnlyError, match="open it once without read_only"):
        ChronoDB(old_file, read_only=True)
    assert file_format(old_file) == "1"
    with ChronoDB(old_file):
        pass
    with ChronoDB(old_file, read_only=True) as db:
        assert db.execute("SELECT count(*) FROM accounts").scalar() == 3


def test_a_file_from_a_newer_chronodb_is_refused(old_file: Path) -> None:
    with sqlite3.connect(old_file) as conn:
        conn.execute("UPDATE _chrono_meta SET value = '99' WHERE key = 'format'")
    with pytest.raises(ChronoDBError, match="newer ChronoDB"):
        ChronoDB(old_file)


def kv_after(tx: int) -> list[tuple[int, int]]:
    """``kv`` in a make_kv.py file after transaction ``tx``: key n % 7 set to n by transaction n."""
    latest = {n % 7: n for n in range(2, tx + 1)}
    return sorted(latest.items())


@pytest.mark.parametrize(
    "fixture", ["format2.db", "format3.db", "format4.db", "format5.db", "format6.db", "format7.db"]
)
@pytest.mark.filterwarnings("ignore::chronodb.ChronoDBWarning")  # before transaction 1: no kv
def test_a_kv_file_resolves_points_in_time_as_before(tmp_path: Path, fixture: str) -> None:
    path = tmp_path / fixture
    shutil.copy(FILES / fixture, path)
    with sqlite3.connect(path) as conn:
        times = [r[0] for r in conn.execute("SELECT tx_time FROM _chrono_tx ORDER BY tx_id")]
    with ChronoDB(path) as db:
        for tx, us in enumerate(times, start=1):
            at = db.execute("SELECT * FROM kv AS OF TIMESTAMP ? ORDER BY k", [us / 1e6])
            assert [tuple(r) for r in at] == kv_after(tx), tx
            before = db.execute("SELECT * FROM kv AS OF TIMESTAMP ? ORDER BY k", [(us - 1) / 1e6])
            assert [tuple(r) for r in before] == kv_after(tx - 1), tx
        # Transactions after the upgrade are numbered by their time, after the counted
        # ones, and need no marks.
        later = [
            db.execute("INSERT OR REPLACE INTO kv VALUES (?, ?)", [n % 7, n]) for n in range(71, 97)
        ]
        assert later[0].tx_id > 70
        assert db.execute("SELECT v FROM kv AS OF TRANSACTION 70 WHERE k = 0").scalar() == 70
        at = "SELECT v FROM kv AS OF TIMESTAMP ? WHERE k = 0"
        assert db.execute(at, [later[6].tx_time]).scalar() == 77
        assert db.execute(at, [later[6].tx_time - 1e-6]).scalar() == 70
        assert db.check_history() == []
        assert db.verify_audit_integrity()
    with sqlite3.connect(path) as conn:
        kinds = conn.execute("SELECT name, type FROM sqlite_schema").fetchall()
        indexes = [name for name, kind in kinds if kind == "index"]
        marks = conn.execute("SELECT tx_id FROM _chrono_tx_mark ORDER BY tx_id").fetchall()
        checked = conn.execute("PRAGMA integrity_check").fetchall()
        schema = dict(conn.execute("SELECT name, sql FROM sqlite_schema WHERE name LIKE '%kv%'"))
        key_set = conn.execute("SELECT k FROM _chrono_k1_kv ORDER BY k").fetchall()
        triggers = dict(conn.execute("SELECT name, sql FROM sqlite_schema WHERE type = 'trigger'"))
    assert checked == [("ok",)]
    # history writes cannot abort (format 5): no NOT NULL, the key not SET by the upsert
    assert "NOT NULL" not in schema["_chrono_h1_kv"]
    # the history triggers are each connection's own (format 8): in the file, only the
    # guards that refuse other connections' writes
    assert sorted(triggers) == ["_chrono_guard1_d", "_chrono_guard1_i", "_chrono_guard1_u"]
    assert all(WRITE_GUARD in sql for sql in triggers.values())
    assert "_chrono_tx_time" not in indexes
    # each key once in the key set (format 6), though INSERT OR REPLACE began 69 lives
    assert key_set == [(k,) for k in range(7)]
    assert "_chrono_b1_kv" not in schema
    assert not [name for name, kind in kinds if name.startswith("_chrono_tx_mark_")]
    assert marks == [(32,), (64,)]
    assert file_format(path) == str(FORMAT)


@pytest.fixture
def format8(tmp_path: Path) -> Path:
    path = tmp_path / "format8.db"
    shutil.copy(FILES / "format8.db", path)
    return path


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT id FROM people {} WHERE id = '1'",
        "SELECT id FROM people {} WHERE score > '2.5' ORDER BY id",
        "SELECT id, n, extra FROM people {} WHERE n = '1e2'",
        "SELECT count(*) FROM people {} WHERE name = 'Bob'",
        "SELECT count(DISTINCT name) FROM people {}",
        "SELECT code, label FROM codes {} WHERE code = 'AB'",
        "SELECT code FROM codes {} WHERE label = 'x'",
        "SELECT tag FROM tags {} WHERE weight > '2' OR tag = 'X' ORDER BY weight",
    ],
)
def test_a_format8_file_compares_as_its_tables_do(format8: Path, sql: str) -> None:
    with ChronoDB(format8) as db:
        plain = [tuple(r) for r in db.execute(sql.format(""))]
        assert plain
        assert [tuple(r) for r in db.execute(sql.format("AS OF TIMESTAMP 9e9"))] == plain


def test_a_format8_file_keeps_its_values_and_history(format8: Path) -> None:
    with sqlite3.connect(format8) as conn:
        before = conn.execute(
            "SELECT *, typeof(score), typeof(n), typeof(tag) FROM _chrono_h1_people ORDER BY 1"
        ).fetchall()
        txs = [r[0] for r in conn.execute("SELECT DISTINCT _chrono_tx FROM _chrono_h1_people")]
    with ChronoDB(format8) as db:
        first = db.execute(
            "SELECT id, name, score, n, tag, data FROM people AS OF TRANSACTION ? ORDER BY id",
            [min(txs)],
        )
        assert [tuple(r) for r in first] == [
            (1, "bob", 2.5, 10, "x", b"\x00"),
            (2, "BOB", 3.0, 7, 5, None),
            (3, "alice", 1.0, 100, "y", b"\x01"),
        ]
        assert db.check_history() == []
        assert db.verify_audit_integrity()
        db.execute("UPDATE people SET name = 'Alice' WHERE id = 3")
        assert db.execute("SELECT name FROM people AS OF TIMESTAMP 9e9 WHERE id = 3").scalar() == (
            "Alice"
        )
    with sqlite3.connect(format8) as conn:
        after = conn.execute(
            "SELECT *, typeof(score), typeof(n), typeof(tag) FROM _chrono_h1_people ORDER BY 1"
        ).fetchall()
        checked = conn.execute("PRAGMA integrity_check").fetchall()
        schema = dict(conn.execute("SELECT name, sql FROM sqlite_schema WHERE type = 'table'"))
    assert after[: len(before)] == before
    assert checked == [("ok",)]
    assert (
        '"id" INTEGER, "name" TEXT, "score" REAL, "n" NUMERIC, "tag", "data"'
        in (schema["_chrono_h1_people"])
    )
    assert '"extra" INTEGER DEFAULT 7' in schema["_chrono_h1_people"]
    assert '("code" TEXT, PRIMARY KEY ("code"))' in schema["_chrono_k2_codes"]
    assert '("tag" TEXT, PRIMARY KEY ("tag"))' in schema["_chrono_n4_tags"]
    assert file_format(format8) == str(FORMAT)


def test_a_table_copied_to_new_declarations_keeps_rows_rowids_and_indexes(
    format8: Path,
) -> None:
    """What the upgrade does where SQLite refuses to rewrite sqlite_schema (defensive mode)."""
    with sqlite3.connect(format8) as conn:
        before = conn.execute("SELECT rowid, * FROM _chrono_h2_codes ORDER BY 1").fetchall()
        sql = conn.execute("SELECT sql FROM sqlite_schema WHERE name = '_chrono_h2_codes'")
        typed = sql.fetchone()[0].replace('"code", "label"', '"code" TEXT, "label" TEXT')
        copy_table(conn, "_chrono_h2_codes", typed)
        after = conn.execute("SELECT rowid, * FROM _chrono_h2_codes ORDER BY 1").fetchall()
        schema = dict(conn.execute("SELECT name, sql FROM sqlite_schema"))
        checked = conn.execute("PRAGMA integrity_check").fetchall()
    assert after == before
    assert schema["_chrono_h2_codes"] == typed
    assert "_chrono_h2_codes_key" in schema
    assert checked == [("ok",)]


def test_a_format8_files_views_count_from_its_first_transaction(format8: Path) -> None:
    with ChronoDB(format8) as db:
        first = db.execute("SELECT min(tx_id) FROM _chrono_tx").scalar()
        sql = "SELECT name FROM names AS OF TRANSACTION ? ORDER BY id"
        assert rows_of(db, sql, [first]) == []  # the table held no row yet
        assert rows_of(db, "SELECT name FROM names AS OF TIMESTAMP 9e9 ORDER BY id") == [
            ("bob",),
            ("BOB",),
            ("alice",),
        ]
        renamed = db.execute("INSERT INTO people (id, name) VALUES (4, 'dee')").tx_id
        db.execute("ALTER TABLE people RENAME COLUMN name TO nick")
        assert rows_of(db, sql, [renamed])[-1] == ("dee",)


def rows_of(db: ChronoDB, sql: str, params: object = None) -> list[tuple]:
    return [tuple(r) for r in db.execute(sql, params)]


def test_a_format8_key_that_may_hold_a_null_takes_one_after_the_upgrade(tmp_path: Path) -> None:
    # Format 8 refused NULLs in keys; written after the upgrade, such a row has a past.
    path = tmp_path / "nullable8.db"
    shutil.copy(FILES / "nullable8.db", path)
    with ChronoDB(path) as db:
        tx = db.execute("INSERT INTO items VALUES (3, NULL, 4)").tx_id
        db.execute("UPDATE items SET qty = 5 WHERE oid = 3")
        query = "SELECT oid, sku, qty FROM items {} ORDER BY oid"
        assert rows_of(db, query.format("AS OF TRANSACTION ?"), [tx]) == [
            (1, "a", 2),
            (2, "b", 3),
            (3, None, 4),
        ]
        now = rows_of(db, query.format(""))
        assert rows_of(db, query.format("AS OF TIMESTAMP 9e9")) == now
        assert db.check_history() == []
        assert db.verify_audit_integrity()
