"""Routing a statement by its first words, and the table a write names, without parsing."""

from __future__ import annotations

import pytest

from chronodb import ChronoDB
from chronodb.sql.classify import (
    Route,
    classify,
    plain_view_statement,
    savepoint_of,
    write_target,
)


@pytest.mark.parametrize(
    ("sql", "route"),
    [
        ("SELECT * FROM t", Route.READ),
        ("  -- a comment\n select 1", Route.READ),
        ("SELECT * FROM t AS OF TIMESTAMP 5", Route.TEMPORAL),
        ("SELECT * FROM t FOR SYSTEM_TIME ALL", Route.TEMPORAL),
        ("UPDATE t SET v = 1", Route.WRITE),
        ("WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x", Route.WRITE),
        ("INSERT INTO t SELECT * FROM u AS OF TRANSACTION 3", Route.TEMPORAL_WRITE),
        ("CREATE TABLE t (id INTEGER PRIMARY KEY)", Route.DDL),
        # views are recorded over time (versioning/views.py), TEMP views are not
        ("CREATE VIEW v AS SELECT 1", Route.DDL),
        ("drop view if exists v", Route.DDL),
        ("CREATE TEMP VIEW v AS SELECT 1", Route.PLAIN),
        ("CREATE INDEX i ON t (v)", Route.PLAIN),
        ("BEGIN", Route.BEGIN),
        ("COMMIT", Route.COMMIT),
        ("ROLLBACK", Route.ROLLBACK),
        ("VACUUM", Route.VACUUM),
        ("/* copy */ VACUUM INTO 'backup.db'", Route.PLAIN),
        ("SAVEPOINT a", Route.SAVEPOINT),
        ("RELEASE SAVEPOINT a", Route.SAVEPOINT),
        ("ROLLBACK TRANSACTION TO a", Route.SAVEPOINT),
        ("ATTACH 'x.db' AS x", Route.PLAIN),
    ],
)
def test_statements_are_routed_by_their_words(sql: str, route: Route) -> None:
    assert classify(sql) is route


@pytest.mark.parametrize(
    ("sql", "route"),
    [
        ("SELECT 'AS OF TIMESTAMP 5' AS x", Route.READ),
        ("SELECT 'it''s AS OF TRANSACTION 1' FROM t", Route.READ),
        ("SELECT v FROM t -- FOR SYSTEM_TIME", Route.READ),
        ("SELECT v /* AS OF TIMESTAMP 5 */ FROM t", Route.READ),
        ('SELECT "as of timestamp 5" FROM t', Route.READ),
        ("SELECT [for system_time] FROM t", Route.READ),
        ("SELECT `chrono_changes(` FROM t", Route.READ),
        ("WITH x AS (SELECT 'DELETE FROM t') SELECT * FROM x", Route.READ),
        ("UPDATE t SET v = 'AS OF TIMESTAMP 1'", Route.WRITE),
        ("CREATE TEMP VIEW w AS SELECT 'FOR SYSTEM_TIME ALL' AS v", Route.PLAIN),
        ("SELECT 'a' || v FROM t AS OF TIMESTAMP 5 -- 'unclosed", Route.TEMPORAL),
        ('SELECT "v" FROM t /* c */ AS OF TIMESTAMP 5', Route.TEMPORAL),
    ],
)
def test_temporal_words_in_strings_names_and_comments_are_not_clauses(
    sql: str, route: Route
) -> None:
    assert classify(sql) is route


def test_a_mention_of_a_clause_runs_as_sqlite_runs_it() -> None:
    db = ChronoDB(":memory:")
    db.execute("CREATE TABLE t (v)")
    db.execute("INSERT INTO t VALUES ('5')")
    # Routed as temporal, the statement was rewritten by sqlglot, which casts to REAL.
    result = db.execute("SELECT CAST(v AS NUMERIC) AS n FROM t -- FOR SYSTEM_TIME ALL")
    assert [tuple(r) for r in result] == [(5,)]
    assert type(result.to_dicts()[0]["n"]) is int


@pytest.mark.parametrize(
    ("sql", "table"),
    [
        ("UPDATE users SET a = 1", "users"),
        ("update or ignore users set a = 1", "users"),
        ("INSERT INTO orders VALUES (1)", "orders"),
        ("INSERT OR REPLACE INTO orders VALUES (1)", "orders"),
        ("REPLACE INTO orders VALUES (1)", "orders"),
        ("/* c */ DELETE FROM main.orders WHERE id = 1", "orders"),
        ('INSERT INTO "odd ""name""" VALUES (1)', 'odd "name"'),
        ("DELETE FROM [square name]", "square name"),
        ("UPDATE `back``tick` SET a = 1", "back`tick"),
        ("WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x", None),
        ("SELECT 1", None),
    ],
)
def test_the_table_a_write_names(sql: str, table: str | None) -> None:
    assert write_target(sql) == table


@pytest.mark.parametrize(
    ("sql", "action"),
    [
        ("SAVEPOINT a", ("SAVEPOINT", "a")),
        ("release savepoint A", ("RELEASE", "a")),
        ("RELEASE b;", ("RELEASE", "b")),
        ('/* undo */ ROLLBACK TRANSACTION TO SAVEPOINT "Two Words"', ("ROLLBACK", "two words")),
        ("ROLLBACK TO [x]", ("ROLLBACK", "x")),
        ("SAVEPOINT 'quoted'", ("SAVEPOINT", "quoted")),
        ("ROLLBACK", None),
    ],
)
def test_the_savepoint_a_statement_names(sql: str, action: tuple[str, str] | None) -> None:
    assert savepoint_of(sql) == action


@pytest.mark.parametrize(
    ("sql", "plain"),
    [
        ("CREATE VIEW v AS SELECT 1", True),
        ("/* x */ drop temporary view v", True),
        ("CREATE VIEW v AS SELECT * FROM t AS OF TIMESTAMP 5", False),
        ("CREATE VIEW v AS SELECT 'AS OF TIMESTAMP 5' AS x -- FOR SYSTEM_TIME", True),
        ("CREATE TABLE v (a)", False),
        ("SELECT * FROM v", False),
    ],
)
def test_a_view_statement_without_time_travel_runs_as_written(sql: str, plain: bool) -> None:
    assert plain_view_statement(sql) is plain
