"""Temporal SQL as a user writes it: every placement, every kind of point, every clause."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import pytest
from tests.chronodb import pgserver

from chronodb import ChronoDB, ChronoDBWarning
from chronodb.database import engine_of
from chronodb.errors import SchemaError, SQLSyntaxError, TimestampError

FUTURE = 4102444800  # 2100-01-01, after every write of these tests
PAST = 1635724800  # 2021-11-01, the seed's point: before every write


@dataclass
class Timeline:
    """When each step of the story below committed (float epoch seconds) and its tx_id."""

    created: float
    inserted: float
    ordered: float
    updated: float
    deleted: float
    reordered: float
    tx_inserted: int
    tx_updated: int


@pytest.fixture(params=["db", "file_db", "postgresql"])
def db(request: pytest.FixtureRequest) -> ChronoDB:
    """Every test here runs on an in-memory database, on a file and on PostgreSQL, except
    those marked ``SQLITE_ONLY`` (SQLite's SQL, rowids, its plans and messages)."""
    if request.param != "postgresql":
        return request.getfixturevalue(request.param)
    database = ChronoDB(pgserver.as_url(request.getfixturevalue("pg_url")), user="tester")
    request.addfinalizer(database.close)
    return database


SQLITE_ONLY = pytest.mark.parametrize("db", ["db", "file_db"], indirect=True)


@pytest.fixture
def story(db: ChronoDB) -> Timeline:
    """Alice and Bob sign up, order, Alice is renamed, Bob leaves, Alice orders again."""
    created = db.execute(
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, score INTEGER)"
    ).tx_time
    db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER, total REAL)")
    ins = db.execute("INSERT INTO users VALUES (1, 'Alice', 10), (2, 'Bob', 20)")
    ordered = db.execute(
        "INSERT INTO orders VALUES (1, 1, 5.0), (2, 1, 7.5), (3, 2, 1.0), (4, 2, 2.0)"
    ).tx_time
    upd = db.execute("UPDATE users SET name = 'Alicia', score = 15 WHERE id = 1")
    deleted = db.execute("DELETE FROM users WHERE id = 2").tx_time
    db.execute("DELETE FROM orders WHERE user_id = 2")
    reordered = db.execute("INSERT INTO orders VALUES (5, 1, 100.0)").tx_time
    return Timeline(
        created, ins.tx_time, ordered, upd.tx_time, deleted, reordered, ins.tx_id, upd.tx_id
    )


def rows(db: ChronoDB, sql: str, params: object = None) -> list[tuple]:
    return [tuple(r) for r in db.execute(sql, params)]


# --------------------------------------------------------------------- placements
def test_seed_placement_before_where(db: ChronoDB, story: Timeline) -> None:
    sql = "SELECT * FROM users AS OF TIMESTAMP ? WHERE name = 'Alice'"
    assert rows(db, sql, [story.inserted]) == [(1, "Alice", 10)]
    assert rows(db, sql, [story.updated]) == []
    assert rows(db, "SELECT * FROM users WHERE name = 'Alice'") == []


@SQLITE_ONLY
def test_seed_join_placement_with_group_by_and_having(db: ChronoDB, story: Timeline) -> None:
    sql = """
        SELECT users.name, COUNT(orders.id) AS order_count, SUM(orders.total) AS spent
        FROM users
        JOIN orders ON users.id = orders.user_id
        AS OF TIMESTAMP ?
        WHERE users.score >= 10
        GROUP BY users.id
        HAVING order_count > 1
        ORDER BY users.id
    """
    assert rows(db, sql, [story.inserted]) == []
    assert rows(db, sql, [story.ordered]) == [("Alice", 2, 12.5), ("Bob", 2, 3.0)]
    assert rows(db, sql, [story.updated]) == [("Alicia", 2, 12.5), ("Bob", 2, 3.0)]
    assert rows(db, sql, [story.deleted]) == [("Alicia", 2, 12.5)]
    assert rows(db, sql, [story.reordered]) == [("Alicia", 3, 112.5)]


def test_seed_placement_after_a_comma_join_applies_to_every_table(
    db: ChronoDB, story: Timeline
) -> None:
    sql = (
        "SELECT users.name, orders.id FROM users, orders AS OF TIMESTAMP ? "
        "WHERE orders.user_id = users.id ORDER BY orders.id"
    )
    assert rows(db, sql, [story.ordered]) == [("Alice", 1), ("Alice", 2), ("Bob", 3), ("Bob", 4)]


def test_clause_after_alias(db: ChronoDB, story: Timeline) -> None:
    sql = "SELECT u.name FROM users u AS OF TIMESTAMP ? WHERE u.id = 1"
    assert rows(db, sql, [story.inserted]) == [("Alice",)]
    sql = "SELECT u.name FROM users AS u FOR SYSTEM_TIME AS OF ? WHERE u.id = 1"
    assert rows(db, sql, [story.inserted]) == [("Alice",)]


def test_each_table_its_own_point(db: ChronoDB, story: Timeline) -> None:
    sql = (
        "SELECT u.name, o.id FROM users AS OF TIMESTAMP ? AS u "
        "JOIN orders AS OF TIMESTAMP ? AS o ON o.user_id = u.id ORDER BY o.id"
    )
    assert rows(db, sql, [story.inserted, story.reordered]) == [
        ("Alice", 1),
        ("Alice", 2),
        ("Alice", 5),
    ]


# ------------------------------------------------------------------ FOR SYSTEM_TIME
def test_for_system_time_as_of(db: ChronoDB, story: Timeline) -> None:
    sql = "SELECT id, name FROM users FOR SYSTEM_TIME AS OF ? ORDER BY id"
    assert rows(db, sql, [story.inserted]) == [(1, "Alice"), (2, "Bob")]
    assert rows(db, sql, [story.deleted]) == [(1, "Alicia")]


def test_for_system_time_all_exposes_periods(db: ChronoDB, story: Timeline) -> None:
    result = db.execute(
        "SELECT id, name, sys_from, sys_to FROM users FOR SYSTEM_TIME ALL ORDER BY id, sys_from"
    )
    assert result.columns == ["id", "name", "sys_from", "sys_to"]
    assert [tuple(r) for r in result] == [
        (1, "Alice", story.inserted, story.updated),
        (1, "Alicia", story.updated, None),
        (2, "Bob", story.inserted, story.deleted),
    ]


def test_select_star_over_a_range_has_the_period_columns(db: ChronoDB, story: Timeline) -> None:
    result = db.execute("SELECT * FROM users FOR SYSTEM_TIME ALL")
    assert result.columns == ["id", "name", "score", "sys_from", "sys_to"]


def test_for_system_time_between(db: ChronoDB, story: Timeline) -> None:
    sql = "SELECT id, name FROM users FOR SYSTEM_TIME BETWEEN ? AND ? ORDER BY id, sys_from"
    # BETWEEN includes versions that start exactly at the upper bound
    assert rows(db, sql, [story.ordered, story.updated]) == [
        (1, "Alice"),
        (1, "Alicia"),
        (2, "Bob"),
    ]
    # a version that ended at the lower bound is not included
    assert rows(db, sql, [story.deleted, story.reordered]) == [(1, "Alicia")]


def test_for_system_time_from_to_excludes_the_upper_bound(db: ChronoDB, story: Timeline) -> None:
    sql = "SELECT id, name FROM users FOR SYSTEM_TIME FROM ? TO ? ORDER BY id, sys_from"
    assert rows(db, sql, [story.ordered, story.updated]) == [(1, "Alice"), (2, "Bob")]


def test_for_system_time_contained_in(db: ChronoDB, story: Timeline) -> None:
    sql = "SELECT id, name FROM users FOR SYSTEM_TIME CONTAINED IN (?, ?) ORDER BY id"
    assert rows(db, sql, [story.inserted, story.updated]) == [(1, "Alice")]
    assert rows(db, sql, [story.inserted, story.deleted]) == [(1, "Alice"), (2, "Bob")]
    assert rows(db, sql, [PAST, FUTURE]) == [(1, "Alice"), (2, "Bob")]


# -------------------------------------------------------------------- kinds of points
def test_as_of_transaction(db: ChronoDB, story: Timeline) -> None:
    sql = "SELECT name FROM users AS OF TRANSACTION {} WHERE id = 1"
    assert rows(db, sql.format(story.tx_inserted)) == [("Alice",)]
    assert rows(db, sql.format(story.tx_updated - 1)) == [("Alice",)]
    assert rows(db, sql.format(story.tx_updated)) == [("Alicia",)]


def test_epoch_integer_literals(db: ChronoDB, story: Timeline) -> None:
    assert rows(db, f"SELECT count(*) FROM users AS OF TIMESTAMP {PAST}") == [(0,)]
    assert rows(db, f"SELECT count(*) FROM users AS OF TIMESTAMP {FUTURE}") == [(1,)]


def test_epoch_float_literal(db: ChronoDB, story: Timeline) -> None:
    sql = f"SELECT name FROM users AS OF TIMESTAMP {story.inserted!r} ORDER BY id"
    assert rows(db, sql) == [("Alice",), ("Bob",)]


def test_expression_as_point(db: ChronoDB, story: Timeline) -> None:
    sql = f"SELECT count(*) FROM users AS OF TIMESTAMP {FUTURE} - 86400 * 365"
    assert rows(db, sql) == [(1,)]


def _iso(seconds: float, tz: timezone = UTC) -> str:
    return datetime.fromtimestamp(seconds, tz).isoformat()


def test_iso_string_naive_means_utc(db: ChronoDB, story: Timeline) -> None:
    naive = datetime.fromtimestamp(story.inserted, UTC).replace(tzinfo=None)
    sql = "SELECT name FROM users AS OF TIMESTAMP ? ORDER BY id"
    assert rows(db, sql, [naive.isoformat()]) == [("Alice",), ("Bob",)]
    assert rows(db, sql, [naive.isoformat(sep=" ")]) == [("Alice",), ("Bob",)]
    literal = f"SELECT name FROM users AS OF TIMESTAMP '{naive.isoformat()}' ORDER BY id"
    assert rows(db, literal) == [("Alice",), ("Bob",)]


def test_iso_string_with_offset(db: ChronoDB, story: Timeline) -> None:
    plus_two = timezone(timedelta(hours=2))
    sql = "SELECT name FROM users FOR SYSTEM_TIME AS OF ? WHERE id = 1"
    assert rows(db, sql, [_iso(story.inserted, plus_two)]) == [("Alice",)]
    assert rows(db, sql, [_iso(story.updated, plus_two)]) == [("Alicia",)]
    zulu = _iso(story.inserted).replace("+00:00", "Z")
    assert rows(db, sql, [zulu]) == [("Alice",)]
    # the same wall-clock time read as UTC is two hours later: Alicia by then
    shifted = _iso(story.inserted, plus_two)[:-6]
    assert rows(db, sql, [shifted]) == [("Alicia",)]


def test_datetime_parameters(db: ChronoDB, story: Timeline) -> None:
    sql = "SELECT name FROM users AS OF TIMESTAMP ? WHERE id = 1"
    aware = datetime.fromtimestamp(story.inserted, UTC)
    assert rows(db, sql, [aware]) == [("Alice",)]
    assert rows(db, sql, [aware.astimezone(timezone(timedelta(hours=-5)))]) == [("Alice",)]
    assert rows(db, sql, [aware.replace(tzinfo=None)]) == [("Alice",)]


def test_positional_parameters_around_the_point(db: ChronoDB, story: Timeline) -> None:
    sql = (
        "SELECT name FROM users WHERE id >= ? "
        "AND id IN (SELECT id FROM users AS OF TIMESTAMP ?) AND score < ?"
    )
    assert rows(db, sql, [1, story.inserted, 100]) == [("Alicia",)]
    sql = "SELECT name FROM users AS OF TIMESTAMP ? WHERE id = ? AND score = ?"
    assert rows(db, sql, [story.inserted, 2, 20]) == [("Bob",)]


def test_named_parameters(db: ChronoDB, story: Timeline) -> None:
    sql = "SELECT name FROM users AS OF TIMESTAMP :when WHERE id = :id"
    assert rows(db, sql, {"when": story.inserted, "id": 2}) == [("Bob",)]
    assert rows(db, sql, {"when": story.deleted, "id": 2}) == []


def test_named_parameters_that_are_keywords(db: ChronoDB, story: Timeline) -> None:
    sql = "SELECT id, name FROM users FOR SYSTEM_TIME FROM :from TO :to WHERE id = :id"
    assert rows(db, sql, {"from": story.ordered, "to": story.updated, "id": 1}) == [(1, "Alice")]


def test_same_statement_with_new_points(db: ChronoDB, story: Timeline) -> None:
    sql = "SELECT count(*) FROM users AS OF TIMESTAMP ?"
    counts = [rows(db, sql, [t])[0][0] for t in (PAST, story.inserted, story.deleted, FUTURE)]
    assert counts == [0, 2, 1, 1]


@SQLITE_ONLY
def test_one_statement_reads_each_shape_of_its_table_whatever_it_read_before(
    db: ChronoDB, story: Timeline
) -> None:
    """A statement asked about the present, then a point before a change of columns, then
    after it, reads the columns each point had."""
    sql = "SELECT * FROM users AS OF TIMESTAMP ? ORDER BY id"
    assert rows(db, sql, [FUTURE]) == [(1, "Alicia", 15)]
    altered = db.execute("ALTER TABLE users ADD COLUMN city TEXT").tx_time
    db.execute("UPDATE users SET city = 'Oslo'")
    assert rows(db, sql, [FUTURE]) == [(1, "Alicia", 15, "Oslo")]
    assert rows(db, sql, [story.deleted]) == [(1, "Alicia", 15)]
    assert rows(db, sql, [altered]) == [(1, "Alicia", 15, None)]
    assert rows(db, sql, [story.inserted]) == [(1, "Alice", 10), (2, "Bob", 20)]
    db.execute("DROP TABLE users")
    assert rows(db, sql, [story.deleted]) == [(1, "Alicia", 15)]
    assert rows(db, sql, [FUTURE]) == []


@SQLITE_ONLY
@pytest.mark.parametrize(
    "select",
    [
        "SELECT count(*), sum(score)/2, upper(name), score+1, 'x', ? FROM users",
        "SELECT id, count(*) FROM users GROUP BY id UNION SELECT 0, max(id) FROM users",
    ],
)
def test_column_names_are_the_same_as_without_the_clause(
    db: ChronoDB, story: Timeline, select: str
) -> None:
    params = [7] if "?" in select else None
    now = db.execute(select, params)
    past = db.execute(select.replace("FROM users", "FROM users AS OF TIMESTAMP 4102444800"), params)
    assert past.columns == now.columns
    assert past.to_dicts() == now.to_dicts()
    restore = select.replace("FROM users", f"FROM users AS OF TRANSACTION {story.tx_updated}", 1)
    db.execute(f"CREATE TABLE copy AS {restore}", params)
    copied = db.execute("SELECT * FROM copy")
    assert copied.columns == now.columns


# ----------------------------------------------------------------- where clauses go
def test_as_of_in_a_subquery(db: ChronoDB, story: Timeline) -> None:
    sql = (
        "SELECT id FROM orders WHERE user_id IN "
        "(SELECT id FROM users AS OF TIMESTAMP ? WHERE score >= 20) ORDER BY id"
    )
    # Bob's orders are gone now, even though Bob is found in the past
    assert rows(db, sql, [story.inserted]) == []
    sql = "SELECT (SELECT name FROM users AS OF TIMESTAMP ? WHERE id = 2) AS was"
    assert rows(db, sql, [story.inserted]) == [("Bob",)]


def test_a_parenthesized_join_reads_each_table_in_the_past(db: ChronoDB, story: Timeline) -> None:
    plain = (
        "SELECT u.name, o.total FROM users AS u JOIN orders AS o ON o.user_id = u.id "
        "AS OF TIMESTAMP ? ORDER BY o.id"
    )
    nested = plain.replace("FROM users AS u", "FROM (users AS u").replace(" AS OF", ") AS OF")
    want = [("Alice", 5.0), ("Alice", 7.5), ("Bob", 1.0), ("Bob", 2.0)]
    assert rows(db, plain, [story.ordered]) == rows(db, nested, [story.ordered]) == want
    ranged = (
        "SELECT u.name, o.total FROM (users FOR SYSTEM_TIME ALL AS u JOIN orders "
        "FOR SYSTEM_TIME ALL AS o ON o.user_id = u.id) WHERE o.id = 5 ORDER BY u.name"
    )
    assert rows(db, ranged) == [("Alice", 100.0), ("Alicia", 100.0)]


def test_as_of_in_a_cte(db: ChronoDB, story: Timeline) -> None:
    sql = (
        "WITH before AS (SELECT id, name FROM users AS OF TIMESTAMP ?) "
        "SELECT b.name, u.name FROM before AS b LEFT JOIN users AS u ON u.id = b.id ORDER BY b.id"
    )
    assert rows(db, sql, [story.inserted]) == [("Alice", "Alicia"), ("Bob", None)]


def test_query_wide_clause_reaches_cte_tables(db: ChronoDB, story: Timeline) -> None:
    sql = (
        "WITH big AS (SELECT user_id, total FROM orders WHERE total >= 2) "
        "SELECT users.name, count(*) FROM users JOIN big ON big.user_id = users.id "
        "AS OF TIMESTAMP ? GROUP BY users.id ORDER BY users.id"
    )
    assert rows(db, sql, [story.ordered]) == [("Alice", 2), ("Bob", 1)]


@SQLITE_ONLY
def test_view_as_of_reads_its_tables_as_of(db: ChronoDB, story: Timeline) -> None:
    db.execute(
        "CREATE VIEW big_spenders AS "
        "SELECT user_id, sum(total) AS spent FROM orders GROUP BY user_id"
    )
    db.execute(
        "CREATE VIEW named AS "
        "SELECT u.name, b.spent FROM users u JOIN big_spenders b ON b.user_id = u.id"
    )
    made = db.execute("INSERT INTO orders VALUES (6, 1, 1.0)").tx_time
    db.execute("UPDATE users SET name = 'Al' WHERE id = 1")
    sql = "SELECT * FROM named AS OF TIMESTAMP ? ORDER BY name"
    assert rows(db, sql, [made]) == [("Alicia", 113.5)]
    assert rows(db, "SELECT * FROM named ORDER BY name") == [("Al", 113.5)]
    # the views did not exist yet
    with pytest.raises(SchemaError, match="no such table: named"):
        db.execute(sql, [story.ordered])


@SQLITE_ONLY
def test_point_in_time_restore(db: ChronoDB, story: Timeline) -> None:
    db.execute("CREATE TABLE restored AS SELECT * FROM users AS OF TIMESTAMP ?", [story.inserted])
    assert rows(db, "SELECT * FROM restored ORDER BY id") == [(1, "Alice", 10), (2, "Bob", 20)]
    # the restored table is versioned like any other
    db.execute("UPDATE restored SET score = 0")
    assert rows(db, "SELECT score FROM restored FOR SYSTEM_TIME ALL ORDER BY id, sys_from") == [
        (10,),
        (0,),
        (20,),
        (0,),
    ]


def test_insert_select_as_of(db: ChronoDB, story: Timeline) -> None:
    result = db.execute(
        "INSERT INTO users (id, name, score) SELECT id, name, score FROM users "
        "AS OF TIMESTAMP ? WHERE id = 2",
        [story.inserted],
    )
    assert result.tx_id is not None
    assert rows(db, "SELECT * FROM users ORDER BY id") == [(1, "Alicia", 15), (2, "Bob", 20)]
    ops = [h["operation"] for h in db.get_change_history("users", 2)]
    assert ops == ["INSERT", "DELETE", "INSERT"]


def test_before_the_table_existed(db: ChronoDB, story: Timeline) -> None:
    with pytest.warns(ChronoDBWarning, match="users AS OF TIMESTAMP .* before the table existed"):
        result = db.execute("SELECT * FROM users AS OF TIMESTAMP ?", [story.created - 0.5])
    assert result.rows == []
    assert result.columns == ["id", "name", "score"]
    with pytest.warns(ChronoDBWarning, match="orders AS OF"):
        assert rows(db, "SELECT * FROM orders AS OF TIMESTAMP ?", [story.created]) == []
    with pytest.warns(ChronoDBWarning, match="users AS OF TRANSACTION 0"):
        assert rows(db, "SELECT * FROM users AS OF TRANSACTION 0") == []


def test_file_database_keeps_history_across_reopen(tmp_path) -> None:
    path = tmp_path / "h.db"
    with ChronoDB(path) as first:
        first.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        at = first.execute("INSERT INTO t VALUES (1, 'old')").tx_time
        first.execute("UPDATE t SET v = 'new'")
    with ChronoDB(path) as again:
        assert rows(again, "SELECT v FROM t AS OF TIMESTAMP ?", [at]) == [("old",)]
        assert rows(again, "SELECT v FROM t") == [("new",)]


@SQLITE_ONLY
@pytest.mark.filterwarnings("ignore::chronodb.ChronoDBWarning")  # transaction 0: no kv yet
def test_as_of_with_the_key_fixed_matches_the_general_path(db: ChronoDB) -> None:
    """``WHERE id = ?`` takes a one-seek plan; it must answer what the general plan answers."""
    db.execute("CREATE TABLE kv (id INTEGER PRIMARY KEY, v TEXT)")
    points = [db.execute("INSERT INTO kv VALUES (1, 'a'), (2, 'b'), (3, 'c')").tx_id]
    points.append(db.execute("UPDATE kv SET v = 'a2' WHERE id = 1").tx_id)
    points.append(db.execute("DELETE FROM kv WHERE id = 2").tx_id)
    points.append(db.execute("INSERT INTO kv VALUES (2, 'b2')").tx_id)
    points.append(db.execute("UPDATE kv SET id = 4 WHERE id = 3").tx_id)
    for tx in [0, *points]:
        everything = db.execute("SELECT * FROM kv AS OF TRANSACTION ? ORDER BY id", [tx])
        general = {row["id"]: tuple(row) for row in everything}
        for key in (1, 2, 3, 4, 5):
            fixed = db.execute("SELECT * FROM kv AS OF TRANSACTION ? WHERE id = ?", [tx, key])
            named = db.execute(
                "SELECT * FROM kv k AS OF TRANSACTION :tx WHERE k.id = :key AND v IS NOT NULL",
                {"tx": tx, "key": key},
            )
            want = [general[key]] if key in general else []
            assert [tuple(r) for r in fixed] == want
            assert [tuple(r) for r in named] == want
    plan = engine_of(db).plans["SELECT * FROM kv AS OF TRANSACTION ? WHERE id = ?"]
    assert any('h2."id" = ?2' in final for final in plan.finals.values())


@SQLITE_ONLY
def test_as_of_after_an_unaliased_subquery(db: ChronoDB) -> None:
    db.execute("CREATE TABLE s (id INTEGER PRIMARY KEY, v TEXT)")
    first = db.execute("INSERT INTO s VALUES (1, 'old')").tx_id
    db.execute("UPDATE s SET v = 'new' WHERE id = 1")
    then = db.execute("SELECT v FROM (SELECT v FROM s) AS OF TRANSACTION ?", [first])
    assert then.scalar() == "old"
    # "AS of_something" is still an alias
    assert db.execute("SELECT v FROM s AS of_s").scalar() == "new"


@SQLITE_ONLY
def test_rowid_names_rows_of_a_table_without_a_primary_key_in_the_past(db: ChronoDB) -> None:
    db.execute("CREATE TABLE notes (body TEXT)")
    written = db.execute("INSERT INTO notes VALUES ('a'), ('b'), ('c')").tx_id
    db.execute("DELETE FROM notes WHERE rowid = 2")
    db.execute("UPDATE notes SET body = 'a2' WHERE rowid = 1")
    then = "AS OF TRANSACTION ?"
    assert rows(db, f"SELECT rowid, * FROM notes {then} ORDER BY rowid", [written]) == [
        (1, "a"),
        (2, "b"),
        (3, "c"),
    ]
    assert db.execute(f"SELECT rowid, * FROM notes {then}", [written]).columns == ["rowid", "body"]
    assert rows(db, f"SELECT body FROM notes {then} WHERE rowid = ?", [written, 2]) == [("b",)]
    assert rows(db, f"SELECT n.oid, n.* FROM notes AS n {then} WHERE _rowid_ > 2", [written]) == [
        (3, "c")
    ]
    history = rows(db, "SELECT rowid, body FROM notes FOR SYSTEM_TIME ALL ORDER BY rowid, sys_from")
    assert history == [(1, "a"), (1, "a2"), (2, "b"), (3, "c")]


@SQLITE_ONLY
def test_a_correlated_subquery_reads_the_past_tables_rowid(db: ChronoDB) -> None:
    db.execute("CREATE TABLE notes (body TEXT)")
    written = db.execute("INSERT INTO notes VALUES ('a'), ('b'), ('c')").tx_id
    db.execute("DELETE FROM notes WHERE rowid = 1")
    # How many of today's notes come before each note as it was then: 'a' is gone today.
    sql = (
        "SELECT body, (SELECT count(*) FROM notes AS now WHERE now.rowid < notes.rowid), "
        "(SELECT notes.rowid * 10) FROM notes AS OF TRANSACTION ? ORDER BY body"
    )
    assert rows(db, sql, [written]) == [("a", 0, 10), ("b", 0, 20), ("c", 1, 30)]


@SQLITE_ONLY
def test_rowid_of_an_integer_primary_key_is_the_key(db: ChronoDB, story: Timeline) -> None:
    then = "AS OF TIMESTAMP ?"
    assert rows(db, f"SELECT rowid, name FROM users {then} ORDER BY rowid", [story.inserted]) == [
        (1, "Alice"),
        (2, "Bob"),
    ]
    assert rows(db, f"SELECT name FROM users {then} WHERE rowid = 2", [story.inserted]) == [
        ("Bob",)
    ]


@SQLITE_ONLY
def test_rowid_in_the_past_of_another_key_is_refused(db: ChronoDB) -> None:
    from chronodb.errors import TemporalError

    db.execute("CREATE TABLE flags (name TEXT PRIMARY KEY, on_ INTEGER)")
    tx = db.execute("INSERT INTO flags VALUES ('dark', 1)").tx_id
    sql = "SELECT rowid FROM flags AS OF TRANSACTION ?"
    with pytest.raises(TemporalError, match=r"rowid of flags .* primary key \(name\)") as caught:
        db.execute(sql, [tx])
    assert caught.value.position == sql.index("flags")


@SQLITE_ONLY
# --------------------------------------------------------------------- EXPLAIN
def test_a_column_named_like_the_rowid_is_that_column_in_the_past(db: ChronoDB) -> None:
    # SQLite: a real column named rowid, oid or _rowid_ hides the rowid of that name.
    db.execute("CREATE TABLE items (oid INTEGER, sku TEXT, rowid TEXT, PRIMARY KEY (oid, sku))")
    db.execute("INSERT INTO items VALUES (7, 'a', 'r'), (3, 'b', 's')")
    query = "SELECT oid, rowid, sku FROM items {} WHERE oid > 1 ORDER BY oid"
    now = rows(db, query.format(""))
    assert now == [(3, "s", "b"), (7, "r", "a")]
    assert rows(db, query.format("AS OF TIMESTAMP ?"), [FUTURE]) == now


@SQLITE_ONLY
def test_explain_query_plan_of_a_temporal_query_shows_the_history_seeks(
    db: ChronoDB, story: Timeline
) -> None:
    plan = rows(
        db,
        "explain query plan SELECT name FROM users AS OF TIMESTAMP ? WHERE id = ?",
        [story.inserted, 1],
    )
    details = " ".join(str(r[-1]) for r in plan)
    assert "_chrono_h" in details and "_key" in details  # an index seek into history
    assert rows(db, "EXPLAIN SELECT * FROM users FOR SYSTEM_TIME ALL")  # the bytecode listing


@SQLITE_ONLY
def test_a_bad_point_under_explain_is_reported_where_it_is_written(db: ChronoDB) -> None:
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    sql = "EXPLAIN QUERY PLAN SELECT * FROM t AS OF TIMESTAMP 'soon'"
    with pytest.raises(TimestampError) as info:
        db.execute(sql)
    assert info.value.position == sql.index("'soon'")


# --------------------------------------------------------------------- names to quote
@pytest.fixture
def keyword_names(db: ChronoDB) -> ChronoDB:
    """A table, its columns and a view named by keywords and by names that need quotes."""
    db.execute(
        'CREATE TABLE "order" (id INTEGER PRIMARY KEY, v INTEGER, "home city" INTEGER, '
        '"select" INTEGER, "it\'s" INTEGER)'
    )
    db.execute('INSERT INTO "order" VALUES (1, 2, 3, 4, 5)')
    db.execute('CREATE VIEW "group" AS SELECT "home city", "select" FROM "order"')
    return db


@pytest.mark.parametrize(
    "sql",
    [
        'SELECT * FROM "order" {clause}',
        'SELECT "home city", "select", "order".v, "it\'s" FROM "order" {clause}',
        'SELECT o."home city" FROM "order" AS "where" {clause} JOIN "order" o ON o.id = "where".id',
    ],
)
def test_keyword_names_read_in_the_past_as_now(keyword_names: ChronoDB, sql: str) -> None:
    _same_past_as_now(keyword_names, sql)


@SQLITE_ONLY
@pytest.mark.parametrize(
    "sql",
    [
        'SELECT "order"."select" FROM "order" {clause} WHERE "order".rowid = 1',
        'SELECT * FROM "group" {clause}',
    ],
)
def test_keyword_names_of_rowids_and_views_read_in_the_past_as_now(
    keyword_names: ChronoDB, sql: str
) -> None:
    _same_past_as_now(keyword_names, sql)


def _same_past_as_now(keyword_names: ChronoDB, sql: str) -> None:
    now = keyword_names.execute(sql.format(clause=""))
    past = keyword_names.execute(sql.format(clause=f"AS OF TIMESTAMP {FUTURE}"))
    assert past.columns == now.columns
    assert rows(keyword_names, sql.format(clause=f"AS OF TIMESTAMP {FUTURE}")) == [
        tuple(r) for r in now
    ]


def test_keyword_names_in_ranges_and_changes(keyword_names: ChronoDB) -> None:
    everything = keyword_names.execute('SELECT "select", "it\'s" FROM "order" FOR SYSTEM_TIME ALL')
    assert [tuple(r) for r in everything] == [(4, 5)]
    changes = keyword_names.changes("order")
    assert [c["after"] for c in changes] == [
        {"id": 1, "v": 2, "home city": 3, "select": 4, "it's": 5}
    ]


# ---------------------------------------------------- statements as SQLite takes them
@pytest.mark.parametrize("ending", [";", "; -- done", ";  \n", "; /* done */ ;", " -- done\n"])
def test_a_statement_may_end_in_semicolons_and_comments(
    db: ChronoDB, story: Timeline, ending: str
) -> None:
    sql = f"SELECT name FROM users AS OF TIMESTAMP {FUTURE} WHERE id = 1{ending}"
    assert rows(db, sql) == [("Alicia",)]


@SQLITE_ONLY
@pytest.mark.parametrize(
    "type_name", ["UNSIGNED BIG INT", "VARYING CHARACTER(255)", "NATIVE CHARACTER(70)", "BIG INT"]
)
def test_every_sqlite_type_name_casts_in_the_past(
    db: ChronoDB, story: Timeline, type_name: str
) -> None:
    sql = f"SELECT CAST(score AS {type_name}), typeof(CAST(name AS {type_name})) FROM users{{}}"
    assert rows(db, sql.format(f" AS OF TIMESTAMP {FUTURE}")) == rows(db, sql.format(""))


@SQLITE_ONLY
@pytest.mark.parametrize(
    "where",
    ["WHERE", "WHERE id =", "WHERE id IN (1", "WHERE -- nothing yet\n", "WHERE;", "WHERE; -- x"],
)
def test_an_incomplete_statement_is_reported_as_sqlite_reports_it(
    db: ChronoDB, story: Timeline, where: str
) -> None:
    plain = f"SELECT * FROM users {where}"
    temporal = f"SELECT * FROM users AS OF TIMESTAMP 5 {where}"
    shift = len(temporal) - len(plain)
    errors = []
    for sql in (plain, temporal):
        with pytest.raises(SQLSyntaxError) as info:
            db.execute(sql)
        errors.append(info.value)
    assert str(errors[1]).split(" (line")[0] == str(errors[0]).split(" (line")[0]
    assert errors[1].position == errors[0].position + shift


def test_parameters_in_parentheses_are_numbered_once(db: ChronoDB, story: Timeline) -> None:
    sql = "SELECT abs((?)), (?) || name FROM users AS OF TIMESTAMP ? WHERE id = (?)"
    assert rows(db, sql, [-3, "x", FUTURE, 1]) == [(3, "xAlicia")]
