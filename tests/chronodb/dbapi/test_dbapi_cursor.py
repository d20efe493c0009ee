"""The cursor: execute and fetch, description, rowcount, lastrowid, iteration, temporal
SQL, and the transaction a write went into."""

from __future__ import annotations

import pytest

from chronodb import dbapi


@pytest.fixture
def filled(conn: dbapi.Connection) -> dbapi.Connection:
    conn.executemany(
        "INSERT INTO items VALUES (?, ?, ?)", [(i, f"item {i}", i * 10) for i in range(1, 6)]
    )
    conn.commit()
    return conn


def test_fetchone_fetchmany_fetchall_walk_the_rows(filled: dbapi.Connection) -> None:
    cursor = filled.cursor()
    assert cursor.arraysize == 1
    cursor.execute("SELECT id FROM items ORDER BY id")
    assert cursor.fetchone() == (1,)
    assert cursor.fetchmany() == [(2,)]
    assert cursor.fetchmany(2) == [(3,), (4,)]
    cursor.arraysize = 5
    assert cursor.fetchmany() == [(5,)]
    assert cursor.fetchone() is None
    assert cursor.fetchall() == []
    cursor.execute("SELECT id FROM items WHERE id > ?", (3,))
    assert cursor.fetchall() == [(4,), (5,)]


def test_rows_are_tuples_and_the_cursor_iterates(filled: dbapi.Connection) -> None:
    cursor = filled.execute("SELECT id, name FROM items WHERE id <= 2 ORDER BY id")
    assert iter(cursor) is cursor
    assert list(cursor) == [(1, "item 1"), (2, "item 2")]
    row = filled.execute("SELECT * FROM items AS OF TRANSACTION ?", (10**9,)).fetchone()
    assert type(row) is tuple


def test_named_parameters_work_as_in_sqlite3(filled: dbapi.Connection) -> None:
    cursor = filled.execute("SELECT name FROM items WHERE id = :id", {"id": 2})
    assert cursor.fetchone() == ("item 2",)


def test_description_is_seven_tuples_or_none(filled: dbapi.Connection) -> None:
    cursor = filled.execute("SELECT id, name AS label FROM items")
    assert cursor.description == (
        ("id", None, None, None, None, None, None),
        ("label", None, None, None, None, None, None),
    )
    cursor.execute("UPDATE items SET qty = 0 WHERE id = 1")
    assert cursor.description is None
    assert filled.cursor().description is None


def test_rowcount_counts_writes_and_is_minus_one_for_reads(filled: dbapi.Connection) -> None:
    cursor = filled.cursor()
    cursor.execute("UPDATE items SET qty = qty + 1 WHERE id <= 3")
    assert cursor.rowcount == 3
    cursor.execute("SELECT * FROM items")
    assert cursor.rowcount == -1
    cursor.executemany("INSERT INTO items VALUES (?, 'x', 0)", [(10,), (11,), (12,)])
    assert cursor.rowcount == 3
    cursor.execute("DELETE FROM items WHERE name = 'x'")
    assert cursor.rowcount == 3
    assert filled.cursor().rowcount == -1


def test_lastrowid_follows_inserts_only(conn: dbapi.Connection) -> None:
    cursor = conn.cursor()
    assert cursor.lastrowid is None
    cursor.execute("INSERT INTO items (name, qty) VALUES ('pen', 1)")
    assert cursor.lastrowid == 1
    cursor.execute("INSERT INTO items (id, name, qty) VALUES (42, 'ink', 1)")
    assert cursor.lastrowid == 42
    cursor.execute("UPDATE items SET qty = 2")
    cursor.execute("SELECT * FROM items")
    assert cursor.lastrowid == 42
    conn.commit()
    conn.isolation_level = None  # the same outside a transaction
    cursor.execute("REPLACE INTO items (id, name, qty) VALUES (7, 'cap', 1)")
    assert cursor.lastrowid == 7


def test_temporal_sql_reads_the_past_through_a_cursor(filled: dbapi.Connection) -> None:
    cursor = filled.cursor()
    cursor.execute("UPDATE items SET name = 'renamed' WHERE id = 1")
    filled.commit()
    renamed = cursor.tx_id
    cursor.execute("SELECT name FROM items AS OF TRANSACTION ? WHERE id = 1", (renamed - 1,))
    assert cursor.fetchall() == [("item 1",)]
    assert cursor.description[0][0] == "name"
    cursor.execute("SELECT name FROM items FOR SYSTEM_TIME ALL WHERE id = 1 ORDER BY name")
    assert cursor.fetchall() == [("item 1",), ("renamed",)]
    assert cursor.tx_id is None  # a read names no transaction


def test_tx_time_and_hash_name_the_write(filled: dbapi.Connection) -> None:
    cursor = filled.execute("DELETE FROM items WHERE id = 5")
    assert cursor.tx_time is not None
    filled.commit()
    [latest] = filled.db.transactions(limit=1)
    assert (cursor.tx_id, cursor.tx_time) == (latest["tx_id"], latest["tx_time"])
    assert cursor.tx_hash == filled.db.tx_hash(cursor.tx_id)


def test_executescript_commits_first_then_runs_all_or_nothing(conn: dbapi.Connection) -> None:
    conn.execute("INSERT INTO items VALUES (1, 'pen', 1)")
    conn.executescript("INSERT INTO items VALUES (2, 'ink', 1); UPDATE items SET qty = 5;")
    assert not conn.in_transaction
    assert conn.execute("SELECT sum(qty) FROM items").fetchone() == (10,)
    with pytest.raises(dbapi.IntegrityError):
        conn.executescript(
            "INSERT INTO items VALUES (3, 'a', 1); INSERT INTO items VALUES (1, 'b', 1);"
        )
    assert conn.execute("SELECT count(*) FROM items").fetchone() == (2,)


def test_the_optional_methods_are_accepted(filled: dbapi.Connection) -> None:
    cursor = filled.cursor()
    cursor.setinputsizes([None])
    cursor.setoutputsize(10)
    with cursor:
        cursor.execute("SELECT 1")
    with pytest.raises(dbapi.ProgrammingError):
        cursor.fetchone()


def test_create_function_is_callable_from_sql(filled: dbapi.Connection) -> None:
    import re

    filled.create_function("regexp", 2, lambda a, b: re.search(a, b) is not None)
    cursor = filled.execute("SELECT id FROM items WHERE name REGEXP '[34]$' ORDER BY id")
    assert cursor.fetchall() == [(3,), (4,)]


def test_a_transaction_opened_by_autocommit_false_covers_reads(conn: dbapi.Connection) -> None:
    conn.autocommit = False
    cursor = conn.execute("SELECT count(*) FROM items")
    assert conn.in_transaction and cursor.fetchone() == (0,)
    conn.rollback()
