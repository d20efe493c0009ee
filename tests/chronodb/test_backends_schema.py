"""Schema changes give the same answers on SQLite and on PostgreSQL.

Every test runs once per backend (``backend_db``, ``conftest.py``): ALTER TABLE (add, drop
and rename a column, rename the table), DROP TABLE and a new table of the same name, the
tables and columns AS OF a point, and the ledger after all of them. Transaction ids differ
between backends, so each test compares a backend's answers with its own ids.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chronodb import ChronoDB, SchemaError
from chronodb.errors import TemporalError
from chronodb.introspect import ForeignKey, View


def rows(db: ChronoDB, sql: str, params: object = None) -> list[tuple]:
    return [tuple(r) for r in db.execute(sql, params)]


@pytest.fixture
def people(backend_db: ChronoDB) -> tuple[ChronoDB, int]:
    """``people`` with two rows; the database and the id of the transaction writing them."""
    db = backend_db
    db.execute("CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT, age INTEGER)")
    written = db.execute("INSERT INTO people VALUES (1, 'Ann', 30), (2, 'Ben', 40)")
    return db, written.tx_id


def test_ddl_gets_a_transaction_of_its_own(people: tuple[ChronoDB, int]) -> None:
    db, written = people
    altered = db.execute("ALTER TABLE people ADD COLUMN email TEXT")
    assert isinstance(altered.tx_id, int) and altered.tx_id > written
    assert db.transactions(limit=1)[0]["tx_id"] == altered.tx_id
    assert db.verify_audit_integrity()


def test_add_column_with_a_default(people: tuple[ChronoDB, int]) -> None:
    db, _ = people
    before = db.transactions(limit=1)[0]["tx_time"]
    added = db.execute("ALTER TABLE people ADD COLUMN email TEXT DEFAULT 'none'").tx_id
    after = db.execute("UPDATE people SET email = 'ann@x' WHERE id = 1").tx_time
    old = db.execute("SELECT * FROM people AS OF TIMESTAMP ? ORDER BY id", [before])
    assert old.columns == ["id", "name", "age"]
    assert [tuple(r) for r in old] == [(1, "Ann", 30), (2, "Ben", 40)]
    new = db.execute("SELECT * FROM people AS OF TIMESTAMP ? ORDER BY id", [after])
    assert new.columns == ["id", "name", "age", "email"]
    assert [tuple(r) for r in new] == [(1, "Ann", 30, "ann@x"), (2, "Ben", 40, "none")]
    at_add = "SELECT email FROM people AS OF TRANSACTION ? ORDER BY id"
    assert rows(db, at_add, [added]) == [("none",), ("none",)]
    history = db.get_change_history("people", 1)
    assert history[0]["values"] == {"id": 1, "name": "Ann", "age": 30}
    assert history[-1]["values"] == {"id": 1, "name": "Ann", "age": 30, "email": "ann@x"}
    assert db.verify_audit_integrity()


def test_a_column_added_later_is_not_there_before(people: tuple[ChronoDB, int]) -> None:
    db, before = people
    added = db.execute("ALTER TABLE people ADD COLUMN email TEXT").tx_id
    with pytest.raises(SchemaError) as caught:
        db.execute("SELECT email FROM people AS OF TRANSACTION ?", [before])
    message = str(caught.value)
    assert f"AS OF TRANSACTION {before}" in message
    assert f"email was added in transaction {added}" in message
    assert caught.value.column == "email"


def test_writes_after_add_column_are_versioned(people: tuple[ChronoDB, int]) -> None:
    db, _ = people
    db.execute("ALTER TABLE people ADD COLUMN score INTEGER")
    first = db.execute("UPDATE people SET score = 1 WHERE id = 2").tx_id
    db.execute("UPDATE people SET score = 2 WHERE id = 2")
    db.execute("INSERT INTO people VALUES (3, 'Cy', 50, 9)")
    assert rows(db, "SELECT score FROM people AS OF TRANSACTION ? WHERE id = 2", [first]) == [(1,)]
    assert [h["values"].get("score") for h in db.get_change_history("people", 2)] == [None, 1, 2]
    assert db.verify_audit_integrity()


def test_rename_column(people: tuple[ChronoDB, int]) -> None:
    db, before = people
    db.execute("ALTER TABLE people RENAME COLUMN name TO full_name")
    db.execute("UPDATE people SET full_name = 'Ann Lee' WHERE id = 1")
    old = db.execute("SELECT * FROM people AS OF TRANSACTION ? WHERE id = 1", [before])
    assert old.columns == ["id", "name", "age"]
    assert [tuple(r) for r in old] == [(1, "Ann", 30)]
    assert rows(db, "SELECT full_name FROM people WHERE id = 1") == [("Ann Lee",)]
    everything = db.execute("SELECT * FROM people FOR SYSTEM_TIME ALL WHERE id = 1")
    assert "full_name" in everything.columns
    assert [r["full_name"] for r in everything] == ["Ann", "Ann Lee"]
    assert [h["values"].get("full_name") for h in db.get_change_history("people", 1)] == [
        None,
        "Ann Lee",
    ]
    assert db.verify_audit_integrity()


def test_drop_column(people: tuple[ChronoDB, int]) -> None:
    db, before = people
    db.execute("ALTER TABLE people DROP COLUMN age")
    now = db.execute("SELECT * FROM people ORDER BY id")
    assert now.columns == ["id", "name"]
    old = db.execute("SELECT * FROM people AS OF TRANSACTION ? ORDER BY id", [before])
    assert old.columns == ["id", "name", "age"]
    assert [tuple(r) for r in old] == [(1, "Ann", 30), (2, "Ben", 40)]
    db.execute("UPDATE people SET name = 'Benjamin' WHERE id = 2")
    assert db.get_change_history("people", 2)[-1]["values"] == {"id": 2, "name": "Benjamin"}
    assert db.verify_audit_integrity()


def test_add_then_drop_a_column_of_the_same_name(people: tuple[ChronoDB, int]) -> None:
    db, _ = people
    db.execute("ALTER TABLE people ADD COLUMN note TEXT")
    first = db.execute("UPDATE people SET note = 'first' WHERE id = 1").tx_id
    db.execute("ALTER TABLE people DROP COLUMN note")
    db.execute("ALTER TABLE people ADD COLUMN note INTEGER")
    second = db.execute("UPDATE people SET note = 2 WHERE id = 1").tx_id
    sql = "SELECT note FROM people AS OF TRANSACTION ? WHERE id = 1"
    assert rows(db, sql, [first]) == [("first",)]
    assert rows(db, sql, [second]) == [(2,)]
    assert db.verify_audit_integrity()


def test_rename_table(people: tuple[ChronoDB, int]) -> None:
    db, before = people
    renamed = db.execute("ALTER TABLE people RENAME TO persons").tx_id
    db.execute("INSERT INTO persons VALUES (3, 'Cy', 50)")
    assert db.tables() == ["persons"]
    assert db.tables(as_of=before) == ["people"]
    assert rows(db, "SELECT name FROM people AS OF TRANSACTION ? ORDER BY id", [before]) == [
        ("Ann",),
        ("Ben",),
    ]
    assert rows(db, "SELECT count(*) FROM persons AS OF TRANSACTION ?", [renamed]) == [(2,)]
    assert rows(db, "SELECT count(*) FROM persons") == [(3,)]
    assert rows(db, "SELECT count(*) FROM persons AS OF TRANSACTION ?", [before]) == [(0,)]
    assert [h["operation"] for h in db.get_change_history("persons", 1)] == ["INSERT"]
    assert db.verify_audit_integrity()


def test_drop_table(people: tuple[ChronoDB, int]) -> None:
    db, before = people
    at = db.transactions(limit=1)[0]["tx_time"]
    dropped = db.execute("DROP TABLE people")
    assert isinstance(dropped.tx_id, int)
    assert db.tables() == []
    assert db.tables(as_of=before) == ["people"]
    assert db.tables(as_of=dropped.tx_id) == []
    with pytest.raises(SchemaError):
        db.execute("SELECT * FROM people")
    assert rows(db, "SELECT name FROM people AS OF TIMESTAMP ? ORDER BY id", [at]) == [
        ("Ann",),
        ("Ben",),
    ]
    assert rows(db, "SELECT name FROM people AS OF TIMESTAMP ?", [dropped.tx_time]) == []
    assert [h["operation"] for h in db.get_change_history("people", 1)] == ["INSERT"]
    assert db.verify_audit_integrity()


def test_drop_and_recreate_under_the_same_name(people: tuple[ChronoDB, int]) -> None:
    db, before = people
    db.execute("DROP TABLE people")
    db.execute("CREATE TABLE people (id INTEGER PRIMARY KEY, nickname TEXT)")
    now = db.execute("INSERT INTO people VALUES (1, 'Z')").tx_id
    old = db.execute("SELECT * FROM people AS OF TRANSACTION ? ORDER BY id", [before])
    assert old.columns == ["id", "name", "age"]
    assert [tuple(r) for r in old] == [(1, "Ann", 30), (2, "Ben", 40)]
    assert rows(db, "SELECT * FROM people AS OF TRANSACTION ?", [now]) == [(1, "Z")]
    assert [c.name for c in db.columns("people", as_of=before)] == ["id", "name", "age"]
    assert [c.name for c in db.columns("people")] == ["id", "nickname"]
    assert db.verify_audit_integrity()


def test_a_dropped_tables_versions_end_at_the_drop(backend_db: ChronoDB) -> None:
    db = backend_db
    db.execute("CREATE TABLE ev (id INTEGER PRIMARY KEY, v TEXT)")
    db.execute("INSERT INTO ev VALUES (1, 'a'), (2, 'b')")
    db.execute("DELETE FROM ev WHERE id = 2")
    db.execute("BEGIN")
    db.execute("INSERT INTO ev VALUES (3, 'written by the dropping transaction')")
    db.execute("DROP TABLE ev")
    db.execute("COMMIT")
    dropped = db.transactions(1)[0]["tx_time"]
    later = db.execute("CREATE TABLE other (x INTEGER PRIMARY KEY)").tx_time
    periods = rows(db, "SELECT id, sys_to FROM ev FOR SYSTEM_TIME ALL ORDER BY id")
    assert [p[0] for p in periods] == [1, 2]
    assert periods[0][1] == pytest.approx(dropped, abs=1e-6)
    assert periods[1][1] is not None and periods[1][1] < dropped
    after = "SELECT id FROM ev FOR SYSTEM_TIME BETWEEN ? AND ?"
    assert rows(db, after, [later, later + 1]) == []
    assert rows(db, "SELECT id FROM ev FOR SYSTEM_TIME FROM ? TO ?", [dropped, later]) == []
    assert rows(db, "SELECT id FROM ev AS OF TIMESTAMP ?", [dropped]) == []
    assert db.verify_audit_integrity()


def test_ddl_inside_a_rolled_back_transaction(people: tuple[ChronoDB, int]) -> None:
    db, before = people
    db.execute("BEGIN")
    db.execute("ALTER TABLE people ADD COLUMN x TEXT")
    db.execute("CREATE TABLE scratch (id INTEGER PRIMARY KEY)")
    db.execute("ROLLBACK")
    assert db.tables() == ["people"]
    assert db.execute("SELECT * FROM people").columns == ["id", "name", "age"]
    db.execute("UPDATE people SET age = 31 WHERE id = 1")
    assert [h["values"]["age"] for h in db.get_change_history("people", 1)] == [30, 31]
    assert rows(db, "SELECT age FROM people AS OF TRANSACTION ? WHERE id = 1", [before]) == [(30,)]
    assert db.verify_audit_integrity()


def test_writes_and_ddl_in_one_transaction(people: tuple[ChronoDB, int]) -> None:
    db, before = people
    with db.transaction():
        db.execute("UPDATE people SET age = 31 WHERE id = 1")
        db.execute("ALTER TABLE people ADD COLUMN city TEXT")
        db.execute("UPDATE people SET city = 'Oslo' WHERE id = 2")
    both = db.transactions(limit=1)[0]["tx_id"]
    assert rows(db, "SELECT * FROM people AS OF TRANSACTION ? ORDER BY id", [both]) == [
        (1, "Ann", 31, None),
        (2, "Ben", 40, "Oslo"),
    ]
    assert rows(db, "SELECT * FROM people AS OF TRANSACTION ? ORDER BY id", [before]) == [
        (1, "Ann", 30),
        (2, "Ben", 40),
    ]
    assert db.verify_audit_integrity()


def test_tables_and_columns_as_of(people: tuple[ChronoDB, int]) -> None:
    db, before = people
    db.execute("ALTER TABLE people ADD COLUMN email TEXT")
    db.execute("ALTER TABLE people RENAME COLUMN name TO full_name")
    db.execute("CREATE TABLE pets (id INTEGER PRIMARY KEY, owner INTEGER)")
    assert db.tables(as_of=before) == ["people"]
    assert db.tables() == ["people", "pets"]
    then = db.columns("people", as_of=before)
    assert [c.name for c in then] == ["id", "name", "age"]
    assert [c.primary_key for c in then] == [1, 0, 0]
    assert [c.type.upper() for c in then] == ["INTEGER", "TEXT", "INTEGER"]
    assert [c.name for c in db.columns("people")] == ["id", "full_name", "age", "email"]
    with pytest.raises(TemporalError, match="pets did not exist AS OF TRANSACTION"):
        db.columns("pets", as_of=before)
    with pytest.raises(SchemaError, match="no such table: ghosts"):
        db.columns("ghosts", as_of=before)


def test_foreign_keys_with_their_actions(backend_db: ChronoDB) -> None:
    db = backend_db
    db.execute("CREATE TABLE shops (id INTEGER PRIMARY KEY)")
    db.execute("CREATE TABLE skus (shop INT, code TEXT, PRIMARY KEY (shop, code))")
    db.execute(
        "CREATE TABLE lines (id INTEGER PRIMARY KEY, shop INT REFERENCES shops ON DELETE CASCADE,"
        " s INT, c TEXT, FOREIGN KEY (s, c) REFERENCES skus (shop, code) ON UPDATE SET NULL)"
    )
    assert db.foreign_keys("lines") == [
        ForeignKey("lines", ("shop",), "shops", ("id",), "NO ACTION", "CASCADE"),
        ForeignKey("lines", ("s", "c"), "skus", ("shop", "code"), "SET NULL", "NO ACTION"),
    ]
    assert db.foreign_keys("shops") == []
    with pytest.raises(SchemaError, match="no such table: nowhere"):
        db.foreign_keys("nowhere")


def test_views_now(backend_db: ChronoDB) -> None:
    db = backend_db
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, x INTEGER)")
    db.execute("INSERT INTO t VALUES (1, 5)")
    db.execute("CREATE VIEW v2 AS SELECT x FROM t")
    db.execute("CREATE VIEW v1 AS SELECT x + 1 AS y FROM t")
    found = db.views()
    assert [v.name for v in found] == ["v1", "v2"]
    assert all(isinstance(v, View) for v in found)
    assert found[0].sql.startswith("CREATE VIEW v1 AS SELECT")
    # The statement recreates the view as it is.
    db.execute("DROP VIEW v1")
    db.execute(found[0].sql)
    assert rows(db, "SELECT y FROM v1") == [(6,)]
    db.execute("DROP VIEW v2")
    assert [v.name for v in db.views()] == ["v1"]


@pytest.mark.parametrize("clause", ["ALL", "BETWEEN ? AND ?", "FROM ? TO ?", "CONTAINED IN (?, ?)"])
def test_a_range_over_a_view_reads_its_tables_over_the_range(
    people: tuple[ChronoDB, int], clause: str
) -> None:
    """A view read FOR SYSTEM_TIME over a range is its query, as defined now, over each of
    its tables' versions in the range (views in it too), on SQLite as on PostgreSQL."""
    db, _ = people
    db.execute("CREATE TABLE pets (id INTEGER PRIMARY KEY, owner INTEGER, pet TEXT)")
    db.execute("INSERT INTO pets VALUES (1, 2, 'cat')")
    db.execute("CREATE VIEW grown AS SELECT id, name FROM people WHERE age >= 35")
    db.execute("CREATE VIEW named AS SELECT name FROM grown")
    db.execute(
        "CREATE VIEW owners AS SELECT p.name, q.pet FROM people p JOIN pets q ON q.owner = p.id"
    )
    start = db.execute("UPDATE people SET age = 36 WHERE id = 1").tx_time
    end = db.execute("UPDATE people SET name = 'Benjamin' WHERE id = 2").tx_time
    db.execute("UPDATE pets SET pet = 'dog'")
    params = [] if clause == "ALL" else [start, end]
    ranged = f"FOR SYSTEM_TIME {clause}"
    view = rows(db, f"SELECT id, name FROM grown {ranged} ORDER BY id, name", params)
    query = f"SELECT id, name FROM people {ranged} WHERE age >= 35 ORDER BY id, name"
    assert view == rows(db, query, params)
    names = rows(db, f"SELECT name FROM named {ranged} ORDER BY name", params)
    assert names == [(name,) for _, name in view]
    joined = rows(db, f"SELECT name, pet FROM owners {ranged} ORDER BY name, pet", params)
    assert joined == rows(
        db,
        f"SELECT p.name, q.pet FROM people {ranged} AS p JOIN pets {ranged} AS q "
        "ON q.owner = p.id ORDER BY p.name, q.pet",
        params * 2,
    )
    if clause == "ALL":
        assert view == [(1, "Ann"), (2, "Ben"), (2, "Benjamin")]
        assert joined == [("Ben", "cat"), ("Ben", "dog"), ("Benjamin", "cat"), ("Benjamin", "dog")]


def test_a_range_over_a_view_reads_its_latest_definition(people: tuple[ChronoDB, int]) -> None:
    db, _ = people
    db.execute("CREATE VIEW loud AS SELECT id, name FROM people")
    db.execute("UPDATE people SET name = 'Benjamin' WHERE id = 2")
    db.execute("DROP VIEW loud")
    sql = "SELECT * FROM loud FOR SYSTEM_TIME ALL ORDER BY id, name"
    # Dropped, it reads its last definition, as a dropped table reads its last shape.
    assert rows(db, sql) == [(1, "Ann"), (2, "Ben"), (2, "Benjamin")]
    db.execute("CREATE VIEW loud AS SELECT id, upper(name) AS name FROM people")
    assert rows(db, sql) == [(1, "ANN"), (2, "BEN"), (2, "BENJAMIN")]


_step = st.one_of(
    st.tuples(st.just("write"), st.integers(0, 3), st.integers(0, 99)),
    st.tuples(st.just("delete"), st.integers(0, 3), st.just(0)),
    st.tuples(st.sampled_from(["add", "drop", "rename"]), st.integers(0, 3), st.just(0)),
)
_tables = itertools.count()


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(_step, min_size=1, max_size=8))
def test_as_of_each_transaction_has_the_columns_and_rows_of_then(
    backend_db: ChronoDB, steps: list[tuple[str, int, int]]
) -> None:
    """Writes and schema changes in any order: AS OF each transaction reads the columns the
    table had then, with the rows it had then; the ledger verifies."""
    db = backend_db
    table = f"shaped{next(_tables)}"  # one database per test: a table per example
    db.execute(f"CREATE TABLE {table} (k INTEGER PRIMARY KEY, c0 INTEGER)")
    columns = ["k", "c0"]
    state: dict[int, dict[str, int | None]] = {}
    made = itertools.count(1)
    seen: list[tuple[int, list[str], list[tuple]]] = []
    for op, key, value in steps:
        others = columns[1:]
        if op == "write" and others:
            column = others[key % len(others)]
            db.execute(
                f"INSERT INTO {table} (k, {column}) VALUES (?, ?) "
                f"ON CONFLICT (k) DO UPDATE SET {column} = excluded.{column}",
                [key, value],
            )
            state.setdefault(key, dict.fromkeys(others))[column] = value
        elif op == "delete":
            db.execute(f"DELETE FROM {table} WHERE k = ?", [key])
            state.pop(key, None)
        elif op == "add":
            column = f"c{next(made)}"
            db.execute(f"ALTER TABLE {table} ADD COLUMN {column} INTEGER")
            columns.append(column)
            for row in state.values():
                row[column] = None
        elif op == "drop" and len(others) > 1:
            column = others[key % len(others)]
            db.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
            columns.remove(column)
            for row in state.values():
                del row[column]
        elif op == "rename" and others:
            column, renamed = others[key % len(others)], f"r{next(made)}"
            db.execute(f"ALTER TABLE {table} RENAME COLUMN {column} TO {renamed}")
            columns[columns.index(column)] = renamed
            for row in state.values():
                row[renamed] = row.pop(column)
        else:
            continue
        expected = [(k, *(row[c] for c in columns[1:])) for k, row in sorted(state.items())]
        seen.append((db.transactions(limit=1)[0]["tx_id"], list(columns), expected))
    for tx, names, expected in seen:
        found = db.execute(f"SELECT * FROM {table} AS OF TRANSACTION ? ORDER BY k", [tx])
        assert found.columns == names, f"AS OF TRANSACTION {tx}"
        assert rows(db, f"SELECT * FROM {table} AS OF TRANSACTION ? ORDER BY k", [tx]) == expected
        assert [c.name for c in db.columns(table, as_of=tx)] == names
    assert db.verify_audit_integrity()


def test_changes_and_ranges_name_each_version_as_its_table_did(
    people: tuple[ChronoDB, int],
) -> None:
    db, _ = people
    db.execute("ALTER TABLE people RENAME COLUMN name TO full_name")
    db.execute("UPDATE people SET full_name = 'Ann Lee' WHERE id = 1")
    db.execute("ALTER TABLE people DROP COLUMN age")
    db.execute("DELETE FROM people WHERE id = 2")
    found = [(c["operation"], c["id"], c["before"], c["after"]) for c in db.changes("people")]
    assert found == [
        ("INSERT", 1, None, {"id": 1, "name": "Ann", "age": 30}),
        ("INSERT", 2, None, {"id": 2, "name": "Ben", "age": 40}),
        (
            "UPDATE",
            1,
            {"id": 1, "name": "Ann", "age": 30},
            {"id": 1, "full_name": "Ann Lee", "age": 30},
        ),
        ("DELETE", 2, {"id": 2, "name": "Ben", "age": 40}, None),
    ]
    ranges = db.execute("SELECT * FROM people FOR SYSTEM_TIME ALL ORDER BY id, sys_from")
    assert ranges.columns == ["id", "full_name", "sys_from", "sys_to"]
    assert [tuple(r)[:2] for r in ranges] == [(1, "Ann"), (1, "Ann Lee"), (2, "Ben")]
    assert db.verify_audit_integrity()


def test_columns_named_like_the_layouts_own_arguments(backend_db: ChronoDB) -> None:
    """Names the layout's functions use for their arguments and variables stay the user's."""
    db = backend_db
    names = ["x", "lo", "hi", "seq", "xid", "texts", "versions", "j", "s", "queued", "written"]
    names += ["kinds", "saved", "held", "n", "o", "h", "w", "v", "k"]
    db.execute(
        f"CREATE TABLE odd (id INTEGER PRIMARY KEY, {', '.join(f'{n} INTEGER' for n in names)})"
    )
    db.execute(f"INSERT INTO odd VALUES (1, {', '.join('1' for _ in names)})")
    first = db.execute("UPDATE odd SET x = 2 WHERE id = 1").tx_id
    db.execute("BEGIN")
    db.execute("INSERT INTO odd (id, lo) VALUES (2, 7)")
    db.execute("ALTER TABLE odd ADD COLUMN extra TEXT")  # the ledger notes the tx's versions again
    db.execute("UPDATE odd SET lo = 8, extra = 'e' WHERE id = 2")
    db.execute("COMMIT")
    assert rows(db, "SELECT id, x, lo FROM odd AS OF TRANSACTION ? ORDER BY id", [first]) == [
        (1, 2, 1)
    ]
    assert rows(db, "SELECT id, lo, extra FROM odd ORDER BY id") == [(1, 1, None), (2, 8, "e")]
    db.execute("DROP TABLE odd")
    assert db.verify_audit_integrity()
