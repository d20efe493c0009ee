"""REPLACE that removes rows of other keys through a UNIQUE constraint tombstones them."""

from __future__ import annotations

import sqlite3

import pytest

from chronodb import ChronoDB


def state(run: object, table: str, clause: str = "") -> list[tuple]:
    return sorted((tuple(r) for r in run(f"SELECT * FROM {table} {clause}")), key=repr)  # type: ignore[operator]


CASES = [
    (
        "CREATE TABLE u (id INTEGER PRIMARY KEY, email TEXT UNIQUE, v)",
        [
            "INSERT INTO u VALUES (1, 'a', 1), (2, 'b', 2)",
            "REPLACE INTO u VALUES (3, 'a', 3)",
            "UPDATE OR REPLACE u SET email = 'b' WHERE id = 3",
        ],
    ),
    (
        "CREATE TABLE u (email TEXT UNIQUE COLLATE NOCASE, v)",  # keyed by rowid
        [
            "INSERT INTO u VALUES ('a', 1), ('b', 2), (NULL, 3), (NULL, 4)",
            "INSERT OR REPLACE INTO u VALUES ('A', 5)",
            "REPLACE INTO u VALUES (NULL, 6)",
        ],
    ),
    (
        "CREATE TABLE u (id INTEGER PRIMARY KEY, e TEXT, v, UNIQUE (e) ON CONFLICT REPLACE)",
        [
            "INSERT INTO u VALUES (1, 'a', 1), (2, 'b', 2)",
            "INSERT INTO u VALUES (3, 'a', 3)",
            "UPDATE u SET e = 'b' WHERE id = 3",
        ],
    ),
    (
        "CREATE TABLE u (name TEXT COLLATE NOCASE PRIMARY KEY, v)",
        ["INSERT INTO u VALUES ('abc', 1)", "REPLACE INTO u VALUES ('ABC', 2)"],
    ),
    (
        "CREATE TABLE u (a PRIMARY KEY, b, v) WITHOUT ROWID",
        [
            "CREATE UNIQUE INDEX u_b ON u (lower(b)) WHERE v > 0",
            "INSERT INTO u VALUES (1, 'X', 1), (2, 'y', 1), (3, 'Z', 0)",
            "REPLACE INTO u VALUES (4, 'x', 1)",
            "REPLACE INTO u VALUES (5, 'z', 1)",
            "UPDATE OR REPLACE u SET b = 'Y' WHERE a = 5",
        ],
    ),
    (
        "CREATE TABLE u (id INTEGER PRIMARY KEY, e UNIQUE, v)",
        [
            "INSERT INTO u VALUES (1, 5, 1), (2, '5', 2), (3, 7, 3)",
            "REPLACE INTO u VALUES (4, 5.0, 4)",
            "INSERT INTO u VALUES (9, 7, 1) ON CONFLICT (e) DO UPDATE SET v = 9",
            "INSERT OR IGNORE INTO u VALUES (10, '5', 0)",
            "INSERT INTO u VALUES (11, 11, 11)",
        ],
    ),
]


@pytest.mark.parametrize(("create", "writes"), CASES)
def test_every_past_state_matches_plain_sqlite(
    db: ChronoDB, create: str, writes: list[str]
) -> None:
    plain = sqlite3.connect(":memory:", isolation_level=None)
    db.execute(create)
    plain.execute(create)
    for sql in writes:
        tx = db.execute(sql).tx_id or db.transactions(1)[0]["tx_id"]
        plain.execute(sql)
        expected = state(plain.execute, "u")
        assert state(db.execute, "u") == expected
        assert state(db.execute, "u", f"AS OF TRANSACTION {tx}") == expected, sql
    assert db.check_history() == []
    assert db.verify_audit_integrity()
    plain.close()


def test_a_replaced_row_is_a_delete_in_the_change_history(db: ChronoDB) -> None:
    db.execute("CREATE TABLE u (id INTEGER PRIMARY KEY, email TEXT UNIQUE)")
    db.execute("INSERT INTO u VALUES (1, 'a')")
    db.execute("REPLACE INTO u VALUES (2, 'a')")
    assert [c["operation"] for c in db.get_change_history("u", 1)] == ["INSERT", "DELETE"]


def test_a_table_without_other_unique_constraints_gets_no_more_triggers(db: ChronoDB) -> None:
    db.execute("CREATE TABLE plain (id INTEGER PRIMARY KEY, v)")
    db.execute("CREATE TABLE keyed (k TEXT NOT NULL PRIMARY KEY, v)")
    db.execute("CREATE TABLE uniq (id INTEGER PRIMARY KEY, v UNIQUE)")
    names = [
        r[0]
        for r in db.connection.execute(
            "SELECT tbl_name FROM sqlite_temp_schema WHERE type = 'trigger' ORDER BY 1"
        )
    ]
    assert names.count("plain") == names.count("keyed") == 4
    assert names.count("uniq") == 8


def test_a_replaced_parents_cascade_is_versioned(db: ChronoDB) -> None:
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY, code UNIQUE)")
    db.execute(
        "CREATE TABLE child (id INTEGER PRIMARY KEY, "
        "pid INTEGER REFERENCES parent (id) ON DELETE CASCADE)"
    )
    db.execute("INSERT INTO parent VALUES (1, 'a'), (2, 'b')")
    db.execute("INSERT INTO child VALUES (10, 1), (11, 2)")
    tx = db.execute("REPLACE INTO parent VALUES (3, 'a')").tx_id
    assert state(db.execute, "parent", f"AS OF TRANSACTION {tx}") == [(2, "b"), (3, "a")]
    assert state(db.execute, "child", f"AS OF TRANSACTION {tx}") == [(11, 2)]
    assert db.check_history() == []
