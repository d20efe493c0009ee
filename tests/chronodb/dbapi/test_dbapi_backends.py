"""The driver on both backends: transactions, parameters and temporal SQL alike."""

from __future__ import annotations

import pytest

from chronodb import dbapi


@pytest.fixture
def conn(backend: str):  # type: ignore[no-untyped-def]
    connection = dbapi.connect(backend, user="tester")
    connection.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)")
    yield connection
    connection.close()


def test_one_transaction_per_commit_and_as_of_reads(conn: dbapi.Connection) -> None:
    cur = conn.cursor()
    cur.execute("INSERT INTO items VALUES (?, ?)", (1, "pen"))
    cur.execute("INSERT INTO items VALUES (:id, :name)", {"id": 2, "name": "ink"})
    conn.commit()
    first = conn.db.transactions(limit=1)[0]["tx_id"]
    cur.executemany("UPDATE items SET name = upper(name) WHERE id = ?", [(1,), (2,)])
    conn.commit()
    second = conn.db.transactions(limit=1)[0]["tx_id"]
    assert second > first
    history = conn.db.get_change_history("items", 2)
    assert [v["tx_id"] for v in history] == [first, second]
    cur.execute("SELECT name FROM items AS OF TRANSACTION ? ORDER BY id", (first,))
    assert cur.fetchall() == [("pen",), ("ink",)]
    assert [d[0] for d in cur.description] == ["name"]
    cur.execute("SELECT name FROM items ORDER BY id")
    assert cur.fetchall() == [("PEN",), ("INK",)]


def test_a_rollback_leaves_no_version(conn: dbapi.Connection) -> None:
    before = conn.db.transactions()
    conn.execute("INSERT INTO items VALUES (1, 'pen')")
    conn.rollback()
    assert conn.execute("SELECT count(*) FROM items FOR SYSTEM_TIME ALL").fetchone() == (0,)
    assert conn.db.transactions() == before


def test_constraint_errors_are_integrity_errors(conn: dbapi.Connection) -> None:
    conn.execute("INSERT INTO items VALUES (1, 'pen')")
    conn.commit()
    with pytest.raises(dbapi.IntegrityError):
        conn.execute("INSERT INTO items VALUES (1, 'again')")
    conn.rollback()


def test_autocommit_true_runs_each_write_alone(conn: dbapi.Connection) -> None:
    conn.autocommit = True
    before = len(conn.db.transactions())
    conn.execute("INSERT INTO items VALUES (1, 'pen')")
    conn.execute("UPDATE items SET name = 'ink'")
    assert not conn.in_transaction
    assert len(conn.db.transactions()) == before + 2


def test_cursors_name_the_transaction_their_commit_made(conn: dbapi.Connection) -> None:
    writer, reader, many = conn.cursor(), conn.cursor(), conn.cursor()
    writer.execute("INSERT INTO items VALUES (?, ?)", (1, "pen"))
    many.executemany("INSERT INTO items VALUES (?, ?)", [(2, "ink"), (3, "nib")])
    reader.execute("SELECT count(*) FROM items")
    conn.commit()
    latest = conn.db.transactions(limit=1)[0]
    assert (writer.tx_id, writer.tx_time) == (latest["tx_id"], latest["tx_time"])
    assert (many.tx_id, many.tx_time) == (latest["tx_id"], latest["tx_time"])
    assert writer.tx_hash == conn.db.tx_hash(latest["tx_id"]) is not None
    assert reader.tx_id is None  # a read names no transaction


def test_a_commit_statement_names_the_transaction_too(conn: dbapi.Connection) -> None:
    cur = conn.cursor()
    cur.execute("INSERT INTO items VALUES (1, 'pen')")
    conn.execute("COMMIT")
    assert cur.tx_id == conn.db.transactions(limit=1)[0]["tx_id"]


def test_a_cursor_whose_last_statement_read_names_nothing(conn: dbapi.Connection) -> None:
    cur = conn.cursor()
    cur.execute("INSERT INTO items VALUES (1, 'pen')")
    cur.execute("SELECT name FROM items")
    conn.commit()
    assert cur.tx_id is None


def test_a_rolled_back_write_names_no_transaction_after_a_later_commit(
    conn: dbapi.Connection,
) -> None:
    undone, kept = conn.cursor(), conn.cursor()
    undone.execute("INSERT INTO items VALUES (1, 'pen')")
    conn.rollback()
    kept.execute("INSERT INTO items VALUES (2, 'ink')")
    conn.commit()
    assert kept.tx_id == conn.db.transactions(limit=1)[0]["tx_id"]
    assert undone.tx_id != kept.tx_id
