"""History triggers: every change a binary comparison sees is a version, exactly as written."""

from __future__ import annotations

import pytest

from chronodb import ChronoDB


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
    db.connection.execute(f"UPDATE \"{hist}\" SET v = 'ALICE'")
    assert db.check_history() != []
    assert not db.verify_audit_integrity()
