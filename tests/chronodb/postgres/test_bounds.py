"""The horizon taken inside a reading statement (``chronodb.postgres.bounds``): kept while
no transaction gets an id, checked against the statement's snapshot otherwise, and refused
(``RACED``) when that snapshot misses a transaction up to it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from tests.chronodb.golden import check_case

from chronodb.postgres import bounds, version_table
from chronodb.postgres.names import ALLOCATE_LOCK, HORIZON_SETTING, READ_HORIZON_FUNCTION

KEPT = f"SELECT current_setting('{HORIZON_SETTING}', true)"
CHECKED = f"SELECT {READ_HORIZON_FUNCTION}(%s::pg_snapshot, %s)"


def generation(conn: psycopg.Connection) -> str:
    return conn.execute(f"SELECT {bounds.generation_sql('public')}").fetchone()[0]


def in_statement(conn: psycopg.Connection, known: str, before: int | None = None) -> int:
    """The horizon a statement bounds its points by."""
    sql = f"SELECT {bounds.expression('public', '%(before)s', '%(known)s')}"
    return conn.execute(sql, {"before": before, "known": known}).fetchone()[0]


@pytest.fixture
def pg(pg: psycopg.Connection) -> psycopg.Connection:
    """A versioned table ``t`` with two committed transactions (ids 1 and 2)."""
    pg.execute("CREATE TABLE t (id int PRIMARY KEY, v int)")
    version_table(pg, "t")
    pg.execute("INSERT INTO t VALUES (1, 1)")
    pg.execute("INSERT INTO t VALUES (2, 2)")
    return pg


def test_a_statement_takes_the_horizon_and_keeps_it(pg: psycopg.Connection) -> None:
    known = generation(pg)
    assert pg.execute(KEPT).fetchone()[0] is None
    assert in_statement(pg, known) == 2
    assert pg.execute(KEPT).fetchone()[0] == f"2 {known}"
    pg.execute("INSERT INTO t VALUES (3, 3)")
    assert in_statement(pg, known) == 3
    assert pg.execute(KEPT).fetchone()[0] == f"3 {known}"


def test_a_horizon_taken_before_the_statement_is_used_as_it_is(pg: psycopg.Connection) -> None:
    assert in_statement(pg, generation(pg), before=1) == 1
    assert pg.execute(KEPT).fetchone()[0] is None


def test_a_kept_horizon_needs_no_lock_while_no_id_is_handed_out(
    pg_url: str, pg: psycopg.Connection
) -> None:
    """Kept, it is read from the id sequence alone; otherwise the horizon is taken, which
    waits for the allocation lock (held here by another session)."""
    known = generation(pg)
    assert in_statement(pg, known) == 2
    pg.execute("SET lock_timeout = '200ms'")
    with psycopg.connect(pg_url, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", (ALLOCATE_LOCK,))
        assert in_statement(pg, known) == 2
        pg.execute(f"SELECT set_config('{HORIZON_SETTING}', '', false)")
        with pytest.raises(psycopg.errors.LockNotAvailable):
            in_statement(pg, known)


def test_a_transaction_committed_after_the_snapshot_fails_the_check(
    pg_url: str, pg: psycopg.Connection
) -> None:
    known = generation(pg)
    before = pg.execute("SELECT pg_current_snapshot()::text").fetchone()[0]
    with psycopg.connect(pg_url, autocommit=True) as other:
        other.execute("INSERT INTO t VALUES (3, 3)")
    with pytest.raises(psycopg.Error) as raised:
        pg.execute(CHECKED, (before, known))
    assert bounds.raced(raised.value)
    assert pg.execute(KEPT).fetchone()[0] is None
    now = pg.execute("SELECT pg_current_snapshot()::text").fetchone()[0]
    assert pg.execute(CHECKED, (now, known)).fetchone()[0] == 3


def test_a_changed_schema_fails_the_check(pg: psycopg.Connection) -> None:
    now = pg.execute("SELECT pg_current_snapshot()::text").fetchone()[0]
    with pytest.raises(psycopg.Error) as raised:
        pg.execute(CHECKED, (now, "0.0/0.0"))
    assert bounds.raced(raised.value)
    assert pg.execute(KEPT).fetchone()[0] is None


def test_the_check_needs_read_committed(pg: psycopg.Connection) -> None:
    """Under REPEATABLE READ its queries would read the statement's own snapshot."""
    known = generation(pg)
    pg.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
    with pytest.raises(psycopg.Error) as raised:
        in_statement(pg, known)
    pg.execute("ROLLBACK")
    assert bounds.raced(raised.value)


@pytest.mark.parametrize("kept", ["", "x", "99999999999999999999 x"])
def test_a_kept_value_that_is_no_horizon_is_taken_afresh(pg: psycopg.Connection, kept: str) -> None:
    known = generation(pg)
    pg.execute(f"SELECT set_config('{HORIZON_SETTING}', %s, false)", (kept,))
    assert in_statement(pg, known) == 2
    assert pg.execute(KEPT).fetchone()[0] == f"2 {known}"


GOLDEN = Path(__file__).parent / "fixtures" / "bounds.sql"

CASES: dict[str, Callable[[], str]] = {
    "generation, counted": lambda: bounds.generation_sql("public"),
    "generation of an older layout": lambda: bounds.generation_sql("Sch ema", counted=False),
    "count of ALTER and DROP TABLE": lambda: bounds.count_sql("public"),
    "horizon in the statement": lambda: bounds.expression("public", "%(_hz)s", "%(_hg)s"),
    "horizon in the statement, quoted schema": lambda: bounds.expression(
        'we"ird', "NULL", "%(known)s"
    ),
}


@pytest.mark.parametrize("title", sorted(CASES))
def test_sql_equals_golden_and_renders_back(title: str) -> None:
    check_case(GOLDEN, CASES, title, "postgres")
