"""Schema changes made outside ChronoDB (psql's ALTER TABLE, DROP TABLE) are followed: AS OF
reads before and after them answer with the columns of then, writes keep working and are
versioned, and the ledger verifies (``chronodb/postgres/outside.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from tests.chronodb import pgserver

from chronodb import ChronoDB, ChronoDBWarning
from chronodb.postgres.outside import counter_name

FUTURE = 4102444800


@pytest.fixture
def psql(pg_url: str) -> Iterator[psycopg.Connection]:
    """Another client of the database, as psql would be."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        yield conn


def rows(db: ChronoDB, sql: str, params: object = None) -> list[tuple]:
    return [tuple(r) for r in db.execute(sql, params)]


def now(db: ChronoDB) -> list[dict]:
    return db.execute(f"SELECT * FROM people AS OF TIMESTAMP {FUTURE} ORDER BY id").to_dicts()


def without_counter(psql: psycopg.Connection) -> None:
    """Drop the event trigger, as a database whose ChronoDB user is no superuser lacks it."""
    psql.execute(f'DROP EVENT TRIGGER "{counter_name("public")}"')


def test_add_and_rename_column_are_followed_at_the_next_read(
    db: ChronoDB, psql: psycopg.Connection, pg_url: str
) -> None:
    before = db.transactions(limit=1)[0]["tx_id"]
    psql.execute("ALTER TABLE people ADD COLUMN city text")
    psql.execute("UPDATE people SET city = 'Oslo' WHERE id = 1")
    psql.execute("ALTER TABLE people RENAME COLUMN name TO full_name")
    then = db.execute("SELECT * FROM people AS OF TRANSACTION ? ORDER BY id", [before])
    assert then.columns == ["id", "name", "age"]
    assert rows(db, "SELECT * FROM people AS OF TRANSACTION ? ORDER BY id", [before]) == [
        (1, "Ann", 30),
        (2, "Ben", 40),
    ]
    assert now(db) == [
        {"id": 1, "full_name": "Ann", "age": 30, "city": "Oslo"},
        {"id": 2, "full_name": "Ben", "age": 40, "city": None},
    ]
    followed = db.transactions(limit=1)[0]
    assert followed["kinds"] == ["ALTER"]
    assert [c.name for c in db.columns("people")] == ["id", "full_name", "age", "city"]
    assert [c.name for c in db.columns("people", as_of=before)] == ["id", "name", "age"]
    # Writes from any client are versioned with the new columns.
    psql.execute("UPDATE people SET full_name = 'Benjamin', city = 'Rome' WHERE id = 2")
    history = db.get_change_history("people", 2)
    assert history[0]["values"] == {"id": 2, "name": "Ben", "age": 40}
    assert history[-1]["values"] == {"id": 2, "full_name": "Benjamin", "age": 40, "city": "Rome"}
    assert rows(db, "SELECT full_name FROM people AS OF TRANSACTION ?", [followed["tx_id"]]) == [
        ("Ann",),
        ("Ben",),
    ]
    assert db.check_history() == []
    assert pgserver.ledger_verifies(pg_url)


def test_a_dropped_column_lets_writes_go_on(
    db: ChronoDB, psql: psycopg.Connection, pg_url: str
) -> None:
    aged = db.execute("UPDATE people SET age = 31 WHERE id = 1").tx_id
    without_counter(psql)
    psql.execute("ALTER TABLE people DROP COLUMN age")
    # The history trigger names age: the write fails there, ChronoDB follows and writes.
    written = db.execute("UPDATE people SET name = 'Annie' WHERE id = 1")
    assert written.rowcount == 1 and written.tx_id > aged
    assert now(db) == [{"id": 1, "name": "Annie"}, {"id": 2, "name": "Ben"}]
    assert rows(db, "SELECT age FROM people AS OF TRANSACTION ? ORDER BY id", [aged]) == [
        (31,),
        (40,),
    ]
    assert [h["operation"] for h in db.get_change_history("people", 1)][-1] == "UPDATE"
    assert pgserver.ledger_verifies(pg_url)


def test_without_the_counter_a_change_is_followed_when_chronodb_next_opens(
    db: ChronoDB, psql: psycopg.Connection, pg_url: str
) -> None:
    assert list(now(db)[0]) == ["id", "name", "age"]
    without_counter(psql)
    psql.execute("ALTER TABLE people ADD COLUMN city text")
    # Not seen by this ChronoDB: nothing told it (its plain reads see the table as it is).
    assert rows(db, "SELECT * FROM people WHERE id = 1") == [(1, "Ann", 30, None)]
    assert list(now(db)[0]) == ["id", "name", "age"]
    with ChronoDB(pgserver.as_url(pg_url)) as again:
        assert list(now(again)[0]) == ["id", "name", "age", "city"]
        assert again.transactions(limit=1)[0]["kinds"] == ["ALTER"]
    # ... and this one sees the shapes change.
    assert list(now(db)[0]) == ["id", "name", "age", "city"]
    assert pgserver.ledger_verifies(pg_url)


def test_without_the_counter_chronodbs_own_ddl_follows_first(
    db: ChronoDB, psql: psycopg.Connection, pg_url: str
) -> None:
    without_counter(psql)
    psql.execute("ALTER TABLE people RENAME COLUMN name TO full_name")
    db.execute("ALTER TABLE people ADD COLUMN city text")
    assert [c.name for c in db.columns("people")] == ["id", "full_name", "age", "city"]
    assert now(db) == [
        {"id": 1, "full_name": "Ann", "age": 30, "city": None},
        {"id": 2, "full_name": "Ben", "age": 40, "city": None},
    ]
    assert pgserver.ledger_verifies(pg_url)


def test_a_table_dropped_outside_reads_as_of_before(
    db: ChronoDB, psql: psycopg.Connection, pg_url: str
) -> None:
    before = db.transactions(limit=1)[0]["tx_id"]
    psql.execute("DROP TABLE people")
    assert db.tables() == []
    assert rows(db, "SELECT name FROM people AS OF TRANSACTION ? ORDER BY id", [before]) == [
        ("Ann",),
        ("Ben",),
    ]
    assert pgserver.ledger_verifies(pg_url)


def test_a_key_changed_outside_is_named_and_left_alone(
    db: ChronoDB, psql: psycopg.Connection
) -> None:
    psql.execute("ALTER TABLE people ALTER COLUMN id TYPE bigint")
    with pytest.warns(ChronoDBWarning, match="key column id cannot change"):
        assert now(db) == [{"id": 1, "name": "Ann", "age": 30}, {"id": 2, "name": "Ben", "age": 40}]


def test_the_counter_needs_a_superuser(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        ChronoDB(pgserver.as_url(pg_url)).close()
        found = conn.execute(
            "SELECT count(*) FROM pg_event_trigger WHERE evtname = %s", (counter_name("public"),)
        ).fetchone()
        superuser = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        assert found == (1,) and superuser.fetchone() == (True,)
