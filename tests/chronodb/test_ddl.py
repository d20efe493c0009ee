"""Schema changes keep the past readable with the columns and names it had then."""

from __future__ import annotations

import pytest

from chronodb import ChronoDB, SchemaError


def rows(db: ChronoDB, sql: str, params: object = None) -> list[tuple]:
    return [tuple(r) for r in db.execute(sql, params)]


@pytest.fixture
def people(db: ChronoDB) -> tuple[ChronoDB, float]:
    """A table with two rows; returns the database and the time they were written."""
    db.execute("CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT, age INTEGER)")
    at = db.execute("INSERT INTO people VALUES (1, 'Ann', 30), (2, 'Ben', 40)").tx_time
    return db, at


def test_add_column(people: tuple[ChronoDB, float]) -> None:
    db, before = people
    db.execute("ALTER TABLE people ADD COLUMN email TEXT DEFAULT 'none'")
    after = db.execute("UPDATE people SET email = 'ann@x' WHERE id = 1").tx_time
    old = db.execute("SELECT * FROM people AS OF TIMESTAMP ? ORDER BY id", [before])
    assert old.columns == ["id", "name", "age"]
    assert [tuple(r) for r in old] == [(1, "Ann", 30), (2, "Ben", 40)]
    new = db.execute("SELECT * FROM people AS OF TIMESTAMP ? ORDER BY id", [after])
    assert new.columns == ["id", "name", "age", "email"]
    assert [tuple(r) for r in new] == [(1, "Ann", 30, "ann@x"), (2, "Ben", 40, "none")]
    history = db.get_change_history("people", 1)
    assert history[0]["values"] == {"id": 1, "name": "Ann", "age": 30}
    assert history[-1]["values"] == {"id": 1, "name": "Ann", "age": 30, "email": "ann@x"}


def test_rename_column(people: tuple[ChronoDB, float]) -> None:
    db, before = people
    db.execute("ALTER TABLE people RENAME COLUMN name TO full_name")
    db.execute("UPDATE people SET full_name = 'Ann Lee' WHERE id = 1")
    old = db.execute("SELECT * FROM people AS OF TIMESTAMP ? WHERE id = 1", [before])
    assert old.columns == ["id", "name", "age"]
    assert [tuple(r) for r in old] == [(1, "Ann", 30)]
    assert rows(db, "SELECT name FROM people AS OF TIMESTAMP ? WHERE id = 1", [before]) == [
        ("Ann",)
    ]
    assert rows(db, "SELECT full_name FROM people WHERE id = 1") == [("Ann Lee",)]
    everything = db.execute("SELECT * FROM people FOR SYSTEM_TIME ALL WHERE id = 1")
    assert "full_name" in everything.columns
    assert [r["full_name"] for r in everything] == ["Ann", "Ann Lee"]


def test_drop_column(people: tuple[ChronoDB, float]) -> None:
    db, before = people
    db.execute("ALTER TABLE people DROP COLUMN age")
    now = db.execute("SELECT * FROM people ORDER BY id")
    assert now.columns == ["id", "name"]
    old = db.execute("SELECT * FROM people AS OF TIMESTAMP ? ORDER BY id", [before])
    assert old.columns == ["id", "name", "age"]
    assert [tuple(r) for r in old] == [(1, "Ann", 30), (2, "Ben", 40)]
    # writes keep working after the drop
    db.execute("UPDATE people SET name = 'Benjamin' WHERE id = 2")
    assert [h["values"] for h in db.get_change_history("people", 2)][-1] == {
        "id": 2,
        "name": "Benjamin",
    }


def test_add_then_drop_a_column_of_the_same_name(people: tuple[ChronoDB, float]) -> None:
    db, _ = people
    db.execute("ALTER TABLE people ADD COLUMN note TEXT")
    first = db.execute("UPDATE people SET note = 'first' WHERE id = 1").tx_time
    db.execute("ALTER TABLE people DROP COLUMN note")
    db.execute("ALTER TABLE people ADD COLUMN note INTEGER")
    second = db.execute("UPDATE people SET note = 2 WHERE id = 1").tx_time
    sql = "SELECT note FROM people AS OF TIMESTAMP ? WHERE id = 1"
    assert rows(db, sql, [first]) == [("first",)]
    assert rows(db, sql, [second]) == [(2,)]


def test_rename_table(people: tuple[ChronoDB, float]) -> None:
    db, before = people
    renamed = db.execute("ALTER TABLE people RENAME TO persons").tx_time
    db.execute("INSERT INTO persons VALUES (3, 'Cy', 50)")
    assert db.tables() == ["persons"]
    assert rows(db, "SELECT name FROM people AS OF TIMESTAMP ? ORDER BY id", [before]) == [
        ("Ann",),
        ("Ben",),
    ]
    assert rows(db, "SELECT count(*) FROM persons AS OF TIMESTAMP ?", [renamed]) == [(2,)]
    assert rows(db, "SELECT count(*) FROM persons") == [(3,)]
    # the renamed table's history runs back through its old name
    assert [h["operation"] for h in db.get_change_history("persons", 1)] == ["INSERT"]


def test_drop_table(people: tuple[ChronoDB, float]) -> None:
    db, before = people
    dropped = db.execute("DROP TABLE people").tx_time
    assert db.tables() == []
    with pytest.raises(SchemaError):
        db.execute("SELECT * FROM people")
    assert rows(db, "SELECT name FROM people AS OF TIMESTAMP ? ORDER BY id", [before]) == [
        ("Ann",),
        ("Ben",),
    ]
    assert rows(db, "SELECT name FROM people AS OF TIMESTAMP ?", [dropped]) == []
    assert [h["operation"] for h in db.get_change_history("people", 1)] == ["INSERT"]


def test_drop_and_recreate_under_the_same_name(people: tuple[ChronoDB, float]) -> None:
    db, before = people
    db.execute("DROP TABLE people")
    db.execute("CREATE TABLE people (id INTEGER PRIMARY KEY, nickname TEXT)")
    now = db.execute("INSERT INTO people VALUES (1, 'Z')").tx_time
    old = db.execute("SELECT * FROM people AS OF TIMESTAMP ? ORDER BY id", [before])
    assert old.columns == ["id", "name", "age"]
    assert [tuple(r) for r in old] == [(1, "Ann", 30), (2, "Ben", 40)]
    assert rows(db, "SELECT * FROM people AS OF TIMESTAMP ?", [now]) == [(1, "Z")]


def test_ddl_inside_a_rolled_back_transaction(people: tuple[ChronoDB, float]) -> None:
    db, before = people
    db.execute("BEGIN")
    db.execute("ALTER TABLE people ADD COLUMN x TEXT")
    db.execute("CREATE TABLE scratch (id INTEGER PRIMARY KEY)")
    db.execute("ROLLBACK")
    assert db.tables() == ["people"]
    assert db.execute("SELECT * FROM people").columns == ["id", "name", "age"]
    db.execute("UPDATE people SET age = 31 WHERE id = 1")
    assert [h["values"]["age"] for h in db.get_change_history("people", 1)] == [30, 31]
    assert rows(db, "SELECT age FROM people AS OF TIMESTAMP ? WHERE id = 1", [before]) == [(30,)]


def test_create_table_if_not_exists_twice(db: ChronoDB) -> None:
    db.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY)")
    db.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY)")
    db.execute("INSERT INTO t VALUES (1)")
    assert len(db.get_change_history("t", 1)) == 1


def test_index_and_view_are_kept(people: tuple[ChronoDB, float]) -> None:
    db, _ = people
    db.execute("CREATE INDEX people_age ON people (age)")
    db.execute("CREATE VIEW adults AS SELECT name FROM people WHERE age >= 35")
    kinds = rows(db, "SELECT type, name FROM sqlite_schema WHERE name IN ('people_age', 'adults')")
    assert sorted(kinds) == [("index", "people_age"), ("view", "adults")]
    assert rows(db, "SELECT * FROM adults") == [("Ben",)]
    db.execute("DROP VIEW adults")
    assert rows(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'adults'") == [(0,)]


@pytest.mark.parametrize(
    "create",
    [
        "CREATE TABLE w (k TEXT PRIMARY KEY, v INTEGER) WITHOUT ROWID",
        "CREATE TABLE w (k TEXT PRIMARY KEY, v INTEGER) STRICT",
        "CREATE TABLE w (k TEXT NOT NULL PRIMARY KEY, v INTEGER CHECK (v >= 0)) "
        "STRICT, WITHOUT ROWID",
    ],
)
def test_table_options_are_versioned(db: ChronoDB, create: str) -> None:
    db.execute(create)
    at = db.execute("INSERT INTO w VALUES ('a', 1)").tx_time
    db.execute("UPDATE w SET v = 2")
    assert db.tables() == ["w"]
    assert rows(db, "SELECT * FROM w AS OF TIMESTAMP ?", [at]) == [("a", 1)]
    assert [h["values"]["v"] for h in db.get_change_history("w", "a")] == [1, 2]


@pytest.mark.parametrize(
    ("column", "stored"),
    [
        ("note TEXT DEFAULT 3", "3"),
        ("rate REAL DEFAULT 1", 1.0),
        ("n INTEGER DEFAULT '7'", 7),
        ("x DEFAULT 2.5", 2.5),
        ("big REAL DEFAULT 1e308", 1e308),
        ("b BLOB DEFAULT x'00ff'", b"\x00\xff"),
    ],
)
def test_added_column_reads_the_default_the_table_stores(
    people: tuple[ChronoDB, float], column: str, stored: object
) -> None:
    db, _ = people
    added = db.execute(f"ALTER TABLE people ADD COLUMN {column}").tx_id
    name = column.split()[0]
    now = db.execute(f"SELECT {name} FROM people ORDER BY id").rows
    past = db.execute(f"SELECT {name} FROM people AS OF TRANSACTION {added} ORDER BY id").rows
    assert [(v, type(v)) for (v,) in now] == [(stored, type(stored))] * 2
    assert [(v, type(v)) for (v,) in past] == [(stored, type(stored))] * 2
    assert db.check_history() == []


def test_a_dropped_tables_versions_end_at_the_drop(db: ChronoDB) -> None:
    db.execute("CREATE TABLE ev (id INTEGER PRIMARY KEY, v TEXT)")
    db.execute("INSERT INTO ev VALUES (1, 'a'), (2, 'b')")
    db.execute("DELETE FROM ev WHERE id = 2")
    db.execute("BEGIN")
    db.execute("INSERT INTO ev VALUES (3, 'written by the dropping transaction')")
    db.execute("DROP TABLE ev")
    db.execute("COMMIT")
    dropped = db.transactions(1)[0]["tx_time"]
    later = db.execute("CREATE TABLE other (x)").tx_time
    periods = rows(db, "SELECT id, sys_to FROM ev FOR SYSTEM_TIME ALL ORDER BY id")
    assert [p[0] for p in periods] == [1, 2]
    assert periods[0][1] == pytest.approx(dropped, abs=1e-6)
    assert periods[1][1] is not None and periods[1][1] < dropped
    after = "SELECT id FROM ev FOR SYSTEM_TIME BETWEEN ? AND ?"
    assert rows(db, after, [later, later + 1]) == []
    assert rows(db, "SELECT id FROM ev FOR SYSTEM_TIME FROM ? TO ?", [dropped, later]) == []
    assert rows(db, "SELECT id FROM ev FOR SYSTEM_TIME CONTAINED IN (?, ?)", [0, later]) == [
        (1,),
        (2,),
    ]
    assert rows(db, "SELECT id FROM ev AS OF TIMESTAMP ?", [dropped]) == []


def test_type_names_of_several_words_as_sqlite_takes_them(db: ChronoDB) -> None:
    db.execute(
        "CREATE TABLE wide (id BIG INT PRIMARY KEY, a UNSIGNED BIG INT, "
        "b VARYING CHARACTER(20) NOT NULL DEFAULT 'q', c DOUBLE PRECISION)"
    )
    db.execute("INSERT INTO wide (id, a, c) VALUES (1, '7', '2')")
    now = db.execute("SELECT *, typeof(a), typeof(c) FROM wide").to_dicts()
    assert now == [
        {"id": 1, "a": 7, "b": "q", "c": 2.0, "typeof(a)": "integer", "typeof(c)": "real"}
    ]


def test_a_column_added_with_a_type_name_of_several_words(db: ChronoDB) -> None:
    db.execute("CREATE TABLE narrow (id INTEGER PRIMARY KEY)")
    db.execute("INSERT INTO narrow VALUES (1)")
    db.execute("ALTER TABLE narrow ADD COLUMN n UNSIGNED BIG INT")
    db.execute("UPDATE narrow SET n = '7'")
    assert db.execute("SELECT n, typeof(n) FROM narrow").to_dicts() == [
        {"n": 7, "typeof(n)": "integer"}
    ]
