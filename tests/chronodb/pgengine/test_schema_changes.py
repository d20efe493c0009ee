"""Schema changes only PostgreSQL has: column types change, volatile defaults, changes made
in a transaction with writes, the primary key kept, an older layout upgraded; the ledger
verifies after each (``chronodb.postgres.verify``)."""

from __future__ import annotations

import psycopg
import pytest
from tests.chronodb import pgserver

from chronodb import ChronoDB, SchemaError


def rows(db: ChronoDB, sql: str, params: object = None) -> list[tuple]:
    return [tuple(r) for r in db.execute(sql, params)]


def test_a_column_of_a_new_type_keeps_the_old_values_and_types(db: ChronoDB, pg_url: str) -> None:
    before = db.transactions(limit=1)[0]["tx_id"]
    changed = db.execute("ALTER TABLE people ALTER COLUMN age TYPE text").tx_id
    db.execute("UPDATE people SET age = 'forty-one' WHERE id = 2")
    assert rows(db, "SELECT id, age FROM people AS OF TRANSACTION ? ORDER BY id", [before]) == [
        (1, 30),
        (2, 40),
    ]
    # Each row has a version of the new type, written by the ALTER.
    assert rows(db, "SELECT id, age FROM people AS OF TRANSACTION ? ORDER BY id", [changed]) == [
        (1, "30"),
        (2, "40"),
    ]
    assert [h["values"]["age"] for h in db.get_change_history("people", 2)] == [
        40,
        "40",
        "forty-one",
    ]
    assert [c.type for c in db.columns("people", as_of=before)][2] == "integer"
    assert [c.type for c in db.columns("people")][2] == "text"
    assert pgserver.ledger_verifies(pg_url)


def test_a_volatile_default_versions_every_row(db: ChronoDB, pg_url: str) -> None:
    added = db.execute("ALTER TABLE people ADD COLUMN token double precision DEFAULT random()")
    now = rows(db, "SELECT id, token FROM people ORDER BY id")
    past = rows(db, "SELECT id, token FROM people AS OF TRANSACTION ? ORDER BY id", [added.tx_id])
    assert past == now and all(isinstance(t, float) for _, t in now)
    assert pgserver.ledger_verifies(pg_url)


def test_a_constant_default_writes_no_version(db: ChronoDB, pg_url: str) -> None:
    db.execute("ALTER TABLE people ADD COLUMN city text DEFAULT 'Oslo'")
    assert [h["operation"] for h in db.get_change_history("people", 1)] == ["INSERT"]
    assert rows(db, "SELECT city FROM people FOR SYSTEM_TIME ALL ORDER BY id") == [
        ("Oslo",),
        ("Oslo",),
    ]
    db.execute("DELETE FROM people WHERE id = 1")
    assert pgserver.ledger_verifies(pg_url)


def test_the_primary_key_cannot_change(db: ChronoDB) -> None:
    with pytest.raises(SchemaError, match="people's primary key cannot change"):
        db.execute("ALTER TABLE people DROP CONSTRAINT people_pkey")
    db.execute("INSERT INTO people VALUES (3, 'Cy', 50)")
    assert [h["operation"] for h in db.get_change_history("people", 3)] == ["INSERT"]


def test_a_renamed_key_column_keeps_its_history(db: ChronoDB, pg_url: str) -> None:
    before = db.transactions(limit=1)[0]["tx_id"]
    db.execute("ALTER TABLE people RENAME COLUMN id TO person")
    db.execute("UPDATE people SET age = 31 WHERE person = 1")
    assert rows(db, "SELECT * FROM people AS OF TRANSACTION ? WHERE id = 1", [before]) == [
        (1, "Ann", 30)
    ]
    latest = db.transactions(limit=1)[0]["tx_id"]
    assert rows(db, "SELECT * FROM people AS OF TRANSACTION ? WHERE person = 1", [latest]) == [
        (1, "Ann", 31)
    ]
    assert [h["values"]["age"] for h in db.get_change_history("people", 1)] == [30, 31]
    assert [c.primary_key for c in db.columns("people")] == [1, 0, 0]
    assert pgserver.ledger_verifies(pg_url)


def test_other_ddl_and_unversioned_tables_are_left_alone(db: ChronoDB, pg_url: str) -> None:
    db.execute("CREATE INDEX people_age ON people (age)")
    db.execute("ALTER TABLE people ADD CONSTRAINT adult CHECK (age >= 18)")
    db.execute("CREATE UNLOGGED TABLE scratch (x integer)")
    db.execute("ALTER TABLE scratch ADD COLUMN y integer")
    db.execute("DROP TABLE scratch")
    assert db.tables() == ["people"]
    assert len(db.get_change_history("people", 1)) == 1
    assert pgserver.ledger_verifies(pg_url)


def test_a_table_versioned_before_shapes_were_recorded_is_upgraded(pg_url: str) -> None:
    url = pgserver.as_url(pg_url)
    with ChronoDB(url) as db:
        db.execute("CREATE TABLE t (id integer PRIMARY KEY, v text)")
        first = db.execute("INSERT INTO t VALUES (1, 'a')").tx_id
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DELETE FROM _chrono_schema")  # as an older layout had it
    with ChronoDB(url) as db:
        db.execute("ALTER TABLE t ADD COLUMN w text")
        assert rows(db, "SELECT * FROM t AS OF TRANSACTION ?", [first]) == [(1, "a")]
        assert db.tables(as_of=first) == ["t"]
        assert db.verify_audit_integrity()


def test_another_processes_schema_change_is_seen(db: ChronoDB, pg_url: str) -> None:
    before = db.transactions(limit=1)[0]["tx_id"]
    assert rows(db, "SELECT name FROM people AS OF TRANSACTION ? WHERE id = 1", [before]) == [
        ("Ann",)
    ]
    with ChronoDB(pgserver.as_url(pg_url)) as other:
        other.execute("ALTER TABLE people RENAME COLUMN name TO full_name")
        other.execute("UPDATE people SET full_name = 'Ann Lee' WHERE id = 1")
    latest = db.transactions(limit=1)[0]["tx_id"]
    sql = "SELECT * FROM people AS OF TRANSACTION ? WHERE id = 1"
    assert db.execute(sql, [latest]).to_dicts() == [{"id": 1, "full_name": "Ann Lee", "age": 30}]
    assert db.execute(sql, [before]).to_dicts() == [{"id": 1, "name": "Ann", "age": 30}]
    assert [h["values"].get("full_name") for h in db.get_change_history("people", 1)] == [
        None,
        "Ann Lee",
    ]


def test_a_view_reads_each_definition_at_its_points(db: ChronoDB) -> None:
    db.execute("CREATE VIEW grown AS SELECT id, name FROM people")
    db.execute("CREATE VIEW counted AS SELECT count(*) AS n FROM grown")
    first = db.execute("INSERT INTO people VALUES (3, 'Cy', 50)").tx_id
    db.execute("CREATE OR REPLACE VIEW grown AS SELECT id, upper(name) AS name FROM people")
    db.execute("ALTER TABLE people RENAME COLUMN name TO full_name")
    second = db.execute("DELETE FROM people WHERE id = 1").tx_id
    sql = "SELECT name FROM grown AS OF TRANSACTION ? ORDER BY id"
    assert rows(db, sql, [first]) == [("Ann",), ("Ben",), ("Cy",)]
    assert rows(db, sql, [second]) == [("BEN",), ("CY",)]
    # A view over a view: each as defined at the point.
    assert db.execute("SELECT n FROM counted AS OF TRANSACTION ?", [first]).scalar() == 3
    assert db.execute("SELECT n FROM counted").scalar() == 2
    # Over a range, the definition now, over the versions of a renamed column.
    ranged = "SELECT name FROM grown FOR SYSTEM_TIME ALL ORDER BY name"
    assert rows(db, ranged) == [("ANN",), ("BEN",), ("CY",)]


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        ("ALTER TABLE people ALTER COLUMN id TYPE bigint", "key column id cannot change"),
        ("ALTER TABLE people ADD COLUMN _chrono_op text", "column named _chrono_op"),
    ],
)
def test_what_would_break_history_is_refused(db: ChronoDB, statement: str, message: str) -> None:
    with pytest.raises(SchemaError, match=message):
        db.execute(statement)
    assert [c.name for c in db.columns("people")] == ["id", "name", "age"]


def test_an_older_layout_opened_read_only_still_reads_the_past(pg_url: str) -> None:
    url = pgserver.as_url(pg_url)
    with ChronoDB(url) as db:
        db.execute("CREATE TABLE t (id integer PRIMARY KEY, v text)")
        first = db.execute("INSERT INTO t VALUES (1, 'a')").tx_id
        db.execute("UPDATE t SET v = 'b'")
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DROP TABLE _chrono_schema, _chrono_views")  # as an older layout had it
    with ChronoDB(url, read_only=True) as db:
        assert rows(db, "SELECT v FROM t AS OF TRANSACTION ?", [first]) == [("a",)]
        assert [h["values"]["v"] for h in db.get_change_history("t", 1)] == ["a", "b"]
        assert db.tables() == ["t"]
