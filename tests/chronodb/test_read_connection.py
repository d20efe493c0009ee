"""``db.connection`` reads, and refuses the writes that would be filed under another
transaction (issue 26: an UPDATE through it overwrote the INSERT's version)."""

from __future__ import annotations

from pathlib import Path

import pytest

from chronodb import ArgumentError, ChronoDB, ReadOnlyError, TransactionError


@pytest.fixture
def shop(tmp_path: Path) -> ChronoDB:
    db = ChronoDB(tmp_path / "shop.db", user="tester")
    db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)")
    db.execute("INSERT INTO items VALUES (1, 'pen')")
    yield db
    db.close()


def test_reads_work_as_on_sqlite3(shop: ChronoDB) -> None:
    conn = shop.connection
    assert [tuple(r) for r in conn.execute("SELECT id, name FROM items")] == [(1, "pen")]
    cursor = conn.cursor()
    cursor.execute("SELECT name FROM items WHERE id = ?", (1,))
    assert cursor.description[0][0] == "name"
    assert cursor.fetchone()["name"] == "pen"
    assert cursor.fetchone() is None
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 0
    conn.commit()  # SQLAlchemy and pandas call these; they end nothing of ChronoDB's
    conn.rollback()
    assert shop.execute("SELECT count(*) FROM items").scalar() == 1


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE items SET name = 'ink' WHERE id = 1",
        "INSERT INTO items VALUES (2, 'ink')",
        "DELETE FROM items",
        "CREATE TABLE other (x)",
        "DROP TABLE items",
    ],
)
def test_a_write_is_refused_and_leaves_history_whole(shop: ChronoDB, sql: str) -> None:
    insert_tx = shop.transactions(limit=1)[0]["tx_id"]
    with pytest.raises(ReadOnlyError, match=r"db\.connection is for reads"):
        shop.connection.execute(sql)
    assert [tuple(r) for r in shop.execute("SELECT * FROM items")] == [(1, "pen")]
    then = shop.execute(f"SELECT name FROM items AS OF TRANSACTION {insert_tx}")
    assert [tuple(r) for r in then] == [("pen",)]
    assert [e["operation"] for e in shop.get_change_history("items", 1)] == ["INSERT"]
    assert shop.check_history() == []
    assert shop.verify_audit_integrity() is True
    shop.execute("UPDATE items SET name = 'ink' WHERE id = 1")  # ChronoDB still writes
    assert [e["operation"] for e in shop.get_change_history("items", 1)] == ["INSERT", "UPDATE"]


def test_a_write_inside_an_open_transaction_is_refused_and_the_transaction_kept(
    shop: ChronoDB,
) -> None:
    with shop.transaction():
        shop.execute("INSERT INTO items VALUES (2, 'ink')")
        with pytest.raises(ReadOnlyError):
            shop.connection.execute("UPDATE items SET name = 'x'")
        with pytest.raises(ReadOnlyError):
            shop.connection.executemany("INSERT INTO items VALUES (?, 'x')", [(3,), (4,)])
        # The view reads the open transaction's rows, as the connection under it does.
        assert shop.connection.execute("SELECT count(*) FROM items").fetchone()[0] == 2
    assert [tuple(r) for r in shop.execute("SELECT * FROM items ORDER BY id")] == [
        (1, "pen"),
        (2, "ink"),
    ]
    assert shop.verify_audit_integrity() is True


@pytest.mark.parametrize("sql", ["BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT s", "END"])
def test_transaction_statements_are_refused(shop: ChronoDB, sql: str) -> None:
    shop.execute("BEGIN")
    shop.execute("INSERT INTO items VALUES (2, 'ink')")
    with pytest.raises(TransactionError, match="transactions belong to the ChronoDB"):
        shop.connection.execute(sql)
    shop.execute("ROLLBACK")  # the open transaction was not ended behind ChronoDB's back
    assert shop.execute("SELECT count(*) FROM items").scalar() == 1


def test_a_script_never_commits_the_open_transaction(shop: ChronoDB) -> None:
    shop.execute("BEGIN")
    shop.execute("INSERT INTO items VALUES (2, 'ink')")
    cursor = shop.connection.executescript("SELECT 1; SELECT 2;")
    assert cursor.fetchall()[0][0] == 2
    with pytest.raises(ReadOnlyError):
        shop.connection.executescript("SELECT 1; DELETE FROM items;")
    shop.execute("ROLLBACK")
    assert shop.execute("SELECT count(*) FROM items").scalar() == 1


def test_sqlite3s_other_calls_are_forwarded(shop: ChronoDB) -> None:
    conn = shop.connection
    conn.create_function("shout", 1, lambda s: s.upper())
    assert shop.execute("SELECT shout(name) FROM items").scalar() == "PEN"
    assert any("CREATE TABLE" in line for line in conn.iterdump())
    conn.close()  # the connection lives as long as the database
    assert shop.execute("SELECT count(*) FROM items").scalar() == 1


def test_its_settings_stay_chronodbs(shop: ChronoDB) -> None:
    with pytest.raises(ArgumentError, match="row_factory belongs to ChronoDB"):
        shop.connection.row_factory = None
    assert shop.execute("SELECT name FROM items").fetchone()["name"] == "pen"
