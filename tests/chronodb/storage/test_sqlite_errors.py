"""SQLite's errors reach users as ChronoDB's, classified by result code: each built for real."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from chronodb import (
    BusyError,
    CheckViolation,
    ChronoDB,
    CorruptDatabaseError,
    ForeignKeyViolation,
    IntegrityError,
    NotADatabaseError,
    NotNullViolation,
    ReadOnlyError,
    SchemaError,
    SQLSyntaxError,
    StorageError,
    TransactionError,
    UniqueViolation,
)
from chronodb.storage.sqlite_errors import is_busy, missing_table, translate


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[ChronoDB]:
    db = ChronoDB(tmp_path / "shop.db")
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT UNIQUE NOT NULL)")
    db.execute(
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INT REFERENCES users (id), "
        "total REAL CHECK (total >= 0))"
    )
    db.execute("INSERT INTO users VALUES (1, 'a@x')")
    yield db
    db.close()


@pytest.mark.parametrize(
    ("sql", "error"),
    [
        ("INSERT INTO users VALUES (1, 'b@x')", UniqueViolation),  # PRIMARY KEY (rowid)
        ("INSERT INTO users VALUES (2, 'a@x')", UniqueViolation),  # UNIQUE
        ("INSERT INTO users VALUES (2, NULL)", NotNullViolation),
        ("INSERT INTO orders VALUES (1, 1, -5)", CheckViolation),
        ("INSERT INTO orders VALUES (1, 99, 5)", ForeignKeyViolation),
    ],
)
def test_each_constraint_has_its_error(shop: ChronoDB, sql: str, error: type) -> None:
    with pytest.raises(error, match="constraint failed") as info:
        shop.execute(sql)
    assert isinstance(info.value, IntegrityError)
    assert shop.execute("SELECT count(*) FROM orders").scalar() == 0


def test_a_composite_primary_key_and_executemany(shop: ChronoDB) -> None:
    shop.execute("CREATE TABLE pairs (a INT, b INT, PRIMARY KEY (a, b)) WITHOUT ROWID")
    with pytest.raises(UniqueViolation, match=r"pairs\.a, pairs\.b"):
        shop.executemany("INSERT INTO pairs VALUES (?, ?)", [(1, 2), (1, 2)])


def test_a_trigger_refusing_a_write_is_an_integrity_error(shop: ChronoDB) -> None:
    shop.execute(
        "CREATE TRIGGER no_big BEFORE INSERT ON orders WHEN NEW.total > 1000 "
        "BEGIN SELECT RAISE(ABORT, 'too big'); END"
    )
    with pytest.raises(IntegrityError, match="too big") as info:
        shop.execute("INSERT INTO orders VALUES (1, 1, 5000)")
    assert type(info.value) is IntegrityError


def test_a_locked_file_is_busy_after_the_timeout(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    with ChronoDB(path) as setup:
        setup.execute("CREATE TABLE t (x)")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # holds the write lock
    try:
        with ChronoDB(path, timeout=0) as db:
            with pytest.raises(BusyError, match="busy") as info:
                db.execute("INSERT INTO t VALUES (1)")
            assert isinstance(info.value, TransactionError)
            assert info.value.timeout == 0
            with pytest.raises(BusyError), db.transaction():
                db.execute("INSERT INTO t VALUES (2)")
            holder.execute("ROLLBACK")
            assert db.execute("INSERT INTO t VALUES (3)").rowcount == 1
    finally:
        holder.close()


def test_busy_and_locked_codes_are_busy() -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE a (x)")
    conn.executemany("INSERT INTO a VALUES (?)", [(i,) for i in range(10)])
    reading = conn.execute("SELECT x FROM a")
    reading.fetchone()
    with pytest.raises(sqlite3.OperationalError) as info:
        conn.execute("DROP TABLE a")  # a table this connection is reading: SQLITE_LOCKED
    assert info.value.sqlite_errorcode & 0xFF == sqlite3.SQLITE_LOCKED
    assert is_busy(info.value) and isinstance(translate(info.value), BusyError)


def test_a_read_only_database_refuses_writes(shop: ChronoDB, tmp_path: Path) -> None:
    shop.execute("PRAGMA query_only = ON")
    with pytest.raises(ReadOnlyError, match="readonly"):
        shop.execute("INSERT INTO users VALUES (2, 'b@x')")
    shop.execute("PRAGMA query_only = OFF")
    ro = sqlite3.connect(f"file:{tmp_path / 'shop.db'}?mode=ro", uri=True)
    try:
        with pytest.raises(sqlite3.OperationalError) as info:
            ro.execute("CREATE TABLE other (x)")
    finally:
        ro.close()
    assert isinstance(translate(info.value), ReadOnlyError)


def test_a_file_that_is_no_database(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"these are my notes, not a database\n" * 200)
    with pytest.raises(NotADatabaseError, match="not an SQLite database") as info:
        ChronoDB(path)
    assert info.value.path == str(path)


def test_a_damaged_file(tmp_path: Path) -> None:
    path = tmp_path / "damaged.db"
    with ChronoDB(path) as db, db.transaction():
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        for i in range(2000):
            db.execute("INSERT INTO t VALUES (?, ?)", [i, "x" * 100])
    page = sqlite3.connect(path).execute("PRAGMA page_size").fetchone()[0]
    with path.open("r+b") as f:
        f.seek(page * 5)
        f.write(b"\xff" * page * 20)  # pages of the catalog and of t
    with pytest.raises(CorruptDatabaseError) as info:
        ChronoDB(path).execute("SELECT sum(length(v)) FROM t")
    assert type(info.value) is CorruptDatabaseError and "damaged" in str(info.value)


def test_a_full_database(shop: ChronoDB) -> None:
    shop.connection.execute("PRAGMA max_page_count = 50")
    with pytest.raises(StorageError, match="disk full"):
        shop.execute("INSERT INTO users VALUES (2, randomblob(1000000))")
    assert shop.execute("SELECT count(*) FROM users").scalar() == 1


def test_a_file_that_cannot_be_opened(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="cannot open the file"):
        ChronoDB(tmp_path / "no" / "such" / "folder.db")


def test_only_sqlite_error_is_read_by_its_message(shop: ChronoDB) -> None:
    """SQLITE_ERROR covers unknown names and syntax alike: there the message says which."""
    with pytest.raises(SchemaError) as missing:
        shop.execute("SELECT * FROM nowhere")
    assert missing.value.table == "nowhere" and missing.value.position == 14
    with pytest.raises(SQLSyntaxError) as syntax:
        shop.execute("SELEKT 1")
    assert syntax.value.position == 0
    conn = sqlite3.connect(":memory:")
    with pytest.raises(sqlite3.OperationalError) as info:
        conn.execute("SELECT * FROM nowhere")
    assert missing_table(info.value)
    with pytest.raises(sqlite3.IntegrityError) as constraint:
        conn.execute("CREATE TABLE nowhere (x NOT NULL)")
        conn.execute("INSERT INTO nowhere VALUES (NULL)")
    assert not missing_table(constraint.value)  # its text names the table; its code is not
