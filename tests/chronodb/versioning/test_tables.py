"""History triggers: every change a binary comparison sees is a version, exactly as written."""

from __future__ import annotations

import sqlite3

import pytest

from chronodb import ChronoDB
from chronodb.database import engine_of


def rows(db: ChronoDB, sql: str) -> list[tuple]:
    return [tuple(r) for r in db.execute(sql)]


def typed(db: ChronoDB, sql: str) -> list[tuple]:
    """Each value with its storage class: 5 and 5.0, 'a' and 'A' are different answers."""
    return [tuple((v, type(v).__name__) for v in r) for r in db.execute(sql)]


@pytest.mark.parametrize(
    ("decl", "before", "after"),
    [
        ("TEXT COLLATE NOCASE", "alice", "ALICE"),
        ("TEXT COLLATE RTRIM", "bob", "bob  "),
        ("", 5, 5.0),
        ("", "5", 5),
        ("", b"a", "a"),
        ("INTEGER COLLATE NOCASE", "abc", "ABC"),
    ],
)
def test_a_change_only_a_binary_comparison_sees_is_a_version(
    db: ChronoDB, decl: str, before: object, after: object
) -> None:
    db.execute(f"CREATE TABLE u (id INTEGER PRIMARY KEY, v {decl})")
    first = db.execute("INSERT INTO u VALUES (1, ?)", (before,)).tx_id
    second = db.execute("UPDATE u SET v = ?", (after,)).tx_id
    assert second is not None
    assert typed(db, f"SELECT v FROM u AS OF TRANSACTION {second}") == typed(db, "SELECT v FROM u")
    assert typed(db, f"SELECT v FROM u AS OF TRANSACTION {first}") != typed(db, "SELECT v FROM u")
    assert db.check_history() == []
    assert db.verify_audit_integrity()


def test_a_nocase_key_changed_in_case_moves_the_row(db: ChronoDB) -> None:
    db.execute("CREATE TABLE n (name TEXT COLLATE NOCASE PRIMARY KEY, v)")
    first = db.execute("INSERT INTO n VALUES ('abc', 1)").tx_id
    second = db.execute("UPDATE n SET name = 'ABC'").tx_id
    assert second is not None
    assert rows(db, f"SELECT * FROM n AS OF TRANSACTION {second}") == [("ABC", 1)]
    assert rows(db, f"SELECT * FROM n AS OF TRANSACTION {first}") == [("abc", 1)]
    assert db.check_history() == []
    assert db.verify_audit_integrity()


def test_an_update_to_the_same_value_still_makes_no_version(db: ChronoDB) -> None:
    db.execute("CREATE TABLE u (id INTEGER PRIMARY KEY, v TEXT COLLATE NOCASE, w)")
    db.execute("INSERT INTO u VALUES (1, 'a', 5.0)")
    assert db.execute("UPDATE u SET v = 'a', w = 5.0").tx_id is None


def test_check_history_sees_a_case_or_type_edit_behind_chronodbs_back(db: ChronoDB) -> None:
    db.execute("CREATE TABLE u (id INTEGER PRIMARY KEY, v TEXT COLLATE NOCASE, w)")
    db.execute("INSERT INTO u VALUES (1, 'alice', 5)")
    hist = db.connection.execute(
        "SELECT hist FROM _chrono_schema WHERE name = 'u' AND to_tx IS NULL"
    ).fetchone()[0]
    engine_of(db).conn.execute(f"UPDATE \"{hist}\" SET v = 'ALICE'")
    assert db.check_history() != []
    assert not db.verify_audit_integrity()


def test_replace_fires_no_delete_trigger_as_in_plain_sqlite(db: ChronoDB) -> None:
    plain = sqlite3.connect(":memory:", isolation_level=None)
    for run in (db.execute, plain.execute):
        run("CREATE TABLE o (id INTEGER PRIMARY KEY, v)")
        run("CREATE TABLE li (oid, x)")
        run("INSERT INTO o VALUES (1, 'a')")
        run("INSERT INTO li VALUES (1, 'x'), (1, 'y')")
        run("CREATE TRIGGER c AFTER DELETE ON o BEGIN DELETE FROM li WHERE oid = OLD.id; END")
        run("REPLACE INTO o VALUES (1, 'b')")
    assert rows(db, "SELECT * FROM li") == [tuple(r) for r in plain.execute("SELECT * FROM li")]
    assert rows(db, "SELECT * FROM li") == [(1, "x"), (1, "y")]
    plain.close()


def test_a_trigger_updating_its_own_row_runs_and_history_keeps_the_final_value(
    db: ChronoDB,
) -> None:
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v, n INTEGER DEFAULT 0)")
    db.execute(
        "CREATE TRIGGER touch AFTER UPDATE ON t BEGIN UPDATE t SET n = n + 1 WHERE id = NEW.id; END"
    )
    db.execute(
        "CREATE TRIGGER stamp AFTER INSERT ON t BEGIN UPDATE t SET v = v || '!' WHERE id = NEW.id; "
        "END"
    )
    first = db.execute("INSERT INTO t (id, v) VALUES (1, 'a'), (2, 'b')").tx_id
    assert rows(db, f"SELECT * FROM t AS OF TRANSACTION {first}") == [(1, "a!", 1), (2, "b!", 1)]
    second = db.execute("UPDATE t SET v = 'c' WHERE id = 1").tx_id
    assert rows(db, "SELECT * FROM t") == [(1, "c", 2), (2, "b!", 1)]
    assert rows(db, f"SELECT * FROM t AS OF TRANSACTION {second}") == [(1, "c", 2), (2, "b!", 1)]
    assert db.check_history() == []
    assert db.verify_audit_integrity()


def test_a_user_trigger_writing_another_versioned_table_is_versioned(db: ChronoDB) -> None:
    db.execute("CREATE TABLE acct (id INTEGER PRIMARY KEY, balance INTEGER)")
    db.execute("CREATE TABLE audit_log (acct INTEGER, delta INTEGER)")
    db.execute(
        "CREATE TRIGGER log AFTER UPDATE ON acct BEGIN "
        "INSERT INTO audit_log VALUES (NEW.id, NEW.balance - OLD.balance); END"
    )
    db.execute("INSERT INTO acct VALUES (1, 10)")
    tx = db.execute("UPDATE acct SET balance = 15").tx_id
    assert rows(db, f"SELECT * FROM audit_log AS OF TRANSACTION {tx}") == [(1, 5)]
    assert rows(db, f"SELECT * FROM acct AS OF TRANSACTION {tx}") == [(1, 15)]
    assert db.check_history() == []


def test_a_cascading_foreign_key_delete_is_versioned(db: ChronoDB) -> None:
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
    db.execute(
        "CREATE TABLE child (id INTEGER PRIMARY KEY, "
        "pid INTEGER REFERENCES parent (id) ON DELETE CASCADE)"
    )
    db.execute("INSERT INTO parent VALUES (1), (2)")
    before = db.execute("INSERT INTO child VALUES (10, 1), (11, 1), (12, 2)").tx_id
    after = db.execute("DELETE FROM parent WHERE id = 1").tx_id
    assert rows(db, "SELECT * FROM child") == [(12, 2)]
    assert rows(db, f"SELECT * FROM child AS OF TRANSACTION {after}") == [(12, 2)]
    assert len(rows(db, f"SELECT * FROM child AS OF TRANSACTION {before}")) == 3
    assert db.check_history() == []


@pytest.mark.parametrize("remake_history_triggers", [False, True])
def test_history_keeps_the_final_row_whichever_trigger_sqlite_runs_first(
    db: ChronoDB, remake_history_triggers: bool
) -> None:
    """SQLite runs TEMP triggers before the file's, and among TEMP triggers (the history
    triggers are TEMP) the order follows when each was made: DDL remakes the history ones."""
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v, n INTEGER DEFAULT 0)")
    db.execute(
        "CREATE TEMP TRIGGER touch AFTER UPDATE ON main.t "
        "BEGIN UPDATE t SET n = n + 1 WHERE id = NEW.id; END"
    )
    db.execute(
        "CREATE TEMP TRIGGER keep AFTER DELETE ON main.t WHEN OLD.v = 'keep' "
        "BEGIN INSERT INTO t VALUES (OLD.id, 'kept', 0); END"
    )
    db.execute(
        "CREATE TEMP TRIGGER drop_new AFTER INSERT ON main.t WHEN NEW.v = 'gone' "
        "BEGIN DELETE FROM t WHERE id = NEW.id; END"
    )
    if remake_history_triggers:
        db.execute("CREATE TABLE unrelated (x)")
    db.execute("INSERT INTO t (id, v) VALUES (1, 'a'), (2, 'keep')")
    written = [
        db.execute("UPDATE t SET v = 'b' WHERE id = 1").tx_id,
        db.execute("DELETE FROM t WHERE id = 2").tx_id,
        db.execute("INSERT INTO t (id, v) VALUES (3, 'gone')").tx_id,
    ]
    assert rows(db, "SELECT * FROM t") == [(1, "b", 1), (2, "kept", 0)]
    assert rows(db, f"SELECT * FROM t AS OF TRANSACTION {written[-1]}") == rows(
        db, "SELECT * FROM t"
    )
    assert rows(db, f"SELECT * FROM t AS OF TRANSACTION {written[0]}")[0] == (1, "b", 1)
    assert db.check_history() == []
    assert db.verify_audit_integrity()


def test_a_null_in_a_composite_key_is_a_row_in_every_past(db: ChronoDB) -> None:
    db.execute("CREATE TABLE c (a, b, v, PRIMARY KEY (a, b))")
    first = db.execute("INSERT INTO c VALUES (1, NULL, 'x'), (1, 2, 'y'), (NULL, NULL, 'z')").tx_id
    with db.transaction():
        for write in ("INSERT INTO c VALUES (2, NULL, 'p')", "UPDATE c SET v = 'q' WHERE a = 2"):
            db.execute(write)
        db.execute("UPDATE c SET v = 'w' WHERE a IS NULL")
    second = db.transactions(1)[0]["tx_id"]
    third = db.execute("DELETE FROM c WHERE v = 'x'").tx_id
    by = "ORDER BY a, b, v"
    assert rows(db, f"SELECT * FROM c AS OF TRANSACTION {first} {by}") == [
        (None, None, "z"),
        (1, None, "x"),
        (1, 2, "y"),
    ]
    assert rows(db, f"SELECT * FROM c AS OF TRANSACTION {second} {by}") == [
        (None, None, "w"),
        (1, None, "x"),
        (1, 2, "y"),
        (2, None, "q"),
    ]
    assert rows(db, f"SELECT * FROM c AS OF TRANSACTION {third} {by}") == rows(
        db, f"SELECT * FROM c {by}"
    )
    assert len(rows(db, "SELECT * FROM c FOR SYSTEM_TIME ALL")) == 5
    assert db.check_history() == []
    assert db.verify_audit_integrity()


@pytest.mark.parametrize("resolution", ["OR ABORT", "OR FAIL", "OR ROLLBACK", "OR REPLACE"])
def test_a_key_inserted_again_under_any_conflict_resolution(db: ChronoDB, resolution: str) -> None:
    """A statement's own resolution overrides its triggers' OR clauses: history must not
    fail on a key it holds already, nor on a key holding a NULL."""
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v)")
    db.execute("CREATE TABLE c (a, b, v, PRIMARY KEY (a, b))")
    db.execute("INSERT INTO t VALUES (1, 'a')")
    db.execute("DELETE FROM t")
    again = db.execute(f"INSERT {resolution} INTO t VALUES (1, 'b')").tx_id
    moved = db.execute(f"INSERT {resolution} INTO t VALUES (2, 'c')").tx_id
    db.execute("DELETE FROM t WHERE id = 1")
    db.execute(f"UPDATE {resolution} t SET id = 1 WHERE id = 2")  # onto a key history holds
    held = db.execute(f"INSERT {resolution} INTO c VALUES (1, NULL, 'x')").tx_id
    assert rows(db, f"SELECT * FROM t AS OF TRANSACTION {again}") == [(1, "b")]
    assert rows(db, f"SELECT * FROM t AS OF TRANSACTION {moved}") == [(1, "b"), (2, "c")]
    assert rows(db, "SELECT * FROM t") == [(1, "c")]
    assert rows(db, f"SELECT * FROM c AS OF TRANSACTION {held}") == [(1, None, "x")]
    assert db.check_history() == []
