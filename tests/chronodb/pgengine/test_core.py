"""Temporal reads through the PostgreSQL engine take their horizon inside the statement
(``chronodb.postgres.bounds``) and still see exactly the transactions up to their point:
after other connections commit, while one commits below the point, after another process
changes the schema, inside a transaction and in a write."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import psycopg
import pytest
from tests.chronodb import pgserver

from chronodb import ChronoDB

AT = "SELECT * FROM t AS OF TRANSACTION ? ORDER BY id"


@pytest.fixture
def url(pg_url: str) -> str:
    with ChronoDB(pgserver.as_url(pg_url), user="setup") as db:
        db.execute("CREATE TABLE t (id integer PRIMARY KEY, v text)")
        db.execute("INSERT INTO t VALUES (1, 'one')")
    return pgserver.as_url(pg_url)


@pytest.fixture
def reader(url: str) -> Iterator[ChronoDB]:
    """A reader that has read the past once, so its session keeps a horizon."""
    with ChronoDB(url, user="reader") as db:
        db.execute(AT, [1])
        yield db


def rows(db: ChronoDB, sql: str, params: object = None) -> list[tuple]:
    return [tuple(r) for r in db.execute(sql, params)]


def test_a_read_sees_what_other_connections_committed_since(url: str, reader: ChronoDB) -> None:
    with ChronoDB(url, user="writer") as writer:
        n = writer.execute("UPDATE t SET v = 'uno' WHERE id = 1").tx_id
        assert rows(reader, AT, [n]) == [(1, "uno")]
        m = writer.execute("INSERT INTO t VALUES (2, 'two')").tx_id
    assert rows(reader, AT, [n]) == [(1, "uno")]
    assert rows(reader, AT, [m]) == [(1, "uno"), (2, "two")]
    assert rows(reader, AT, [m + 1000]) == [(1, "uno"), (2, "two")]
    assert rows(reader, "SELECT v FROM t AS OF TRANSACTION ? WHERE id = 2", [n]) == []


def test_a_read_racing_a_commit_below_its_point_waits_and_sees_it(
    url: str, pg_url: str, reader: ChronoDB
) -> None:
    """A transaction has its id (under SET CONSTRAINTS ALL IMMEDIATE, before COMMIT) and a
    later one commits: a read AS OF the later id waits for the earlier one and, though that
    commits after the read's statement began, shows it."""
    with psycopg.connect(pg_url) as stalled, ChronoDB(url, user="writer") as writer:
        stalled.execute("SET CONSTRAINTS ALL IMMEDIATE")
        stalled.execute("INSERT INTO t VALUES (2, 'two')")  # its id now; committed below
        later = writer.execute("INSERT INTO t VALUES (3, 'three')").tx_id
        got: list[list[tuple]] = []
        reading = threading.Thread(target=lambda: got.append(rows(reader, AT, [later])))
        reading.start()
        reading.join(0.5)
        assert got == [], "a read passed a transaction still committing below its point"
        stalled.commit()
        reading.join(30)
    assert got == [[(1, "one"), (2, "two"), (3, "three")]]
    assert rows(reader, AT, [later - 1]) == [(1, "one"), (2, "two")]


def test_a_read_in_a_transaction_follows_another_process_s_schema_change(
    url: str, reader: ChronoDB
) -> None:
    reader.execute("BEGIN")
    with ChronoDB(url, user="writer") as writer:
        altered = writer.execute("ALTER TABLE t ADD COLUMN w integer").tx_id
        n = writer.execute("UPDATE t SET w = 7").tx_id
    found = reader.execute(AT, [n])
    assert found.columns == ["id", "v", "w"]
    assert [tuple(r) for r in found] == [(1, "one", 7)]
    assert rows(reader, AT, [altered - 1]) == [(1, "one")]
    reader.execute("COMMIT")


def test_a_write_reading_the_past_runs_once_after_a_schema_change(
    url: str, reader: ChronoDB
) -> None:
    reader.execute("CREATE TABLE copy (id integer PRIMARY KEY, v text)")
    with ChronoDB(url, user="writer") as writer:
        n = writer.execute("UPDATE t SET v = 'uno'").tx_id
        writer.execute("ALTER TABLE t ADD COLUMN w integer")
    written = reader.execute("INSERT INTO copy SELECT id, v FROM t AS OF TRANSACTION ?", [n])
    assert written.rowcount == 1 and written.tx_id is not None
    assert rows(reader, "SELECT * FROM copy") == [(1, "uno")]
    assert [t["tx_id"] for t in reader.transactions(limit=1)] == [written.tx_id]
