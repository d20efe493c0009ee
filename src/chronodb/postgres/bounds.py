"""A reader's horizon taken inside the statement that reads the past, not in a round trip
before it.

The horizon (``install.horizon``) is taken before a reader's snapshot so that every id up to
it is in the snapshot, or will never be. A statement can instead check that property of its
own snapshot ``S`` (``pg_current_snapshot()``, passed in as ``seen``): an id ``h`` bounds it
exactly when every committed transaction with an id <= ``h`` is visible in ``S`` and every
transaction visible in ``S`` has an id <= ``h``. Then the transactions the statement sees
are exactly those with ids <= ``h`` that commit, AS OF n shows exactly the ids <= n, and
nothing below n can appear later. Two ways to know such an ``h``:

- Kept: the session setting ``chronodb.horizon`` holds an ``h`` an earlier statement of this
  session checked (every id up to it settled then) and the schema generation of then. If the
  id sequence's last value is still ``h``, no transaction got an id since, so none visible
  in ``S`` has a larger one: ``h`` holds. This is the usual case and costs a read of the
  sequence and the setting, in the statement itself.
- Checked (:func:`function_ddl`, ``_chrono_read_horizon(seen, known)``): take the horizon
  now, after ``S`` (it waits for every id handed out to settle), then look, in a snapshot
  newer than ``S``, for a transaction up to it that committed but is not visible in ``S``.
  If there is none, the horizon holds and is kept for the next statement. If there is one
  (it committed while this statement began), the statement fails with :data:`RACED` and the
  engine runs it again with a horizon taken before it, as before. That needs READ
  COMMITTED, where each query of the function reads a new snapshot; under REPEATABLE READ
  or SERIALIZABLE it always fails with :data:`RACED`.

Either way the schema generation (:func:`generation_sql`) the engine knows (``known``) is
checked against the database's: a schema change by another process fails the statement with
:data:`RACED`, and the engine's horizon round trip then drops what it cached of the tables.
"""

from __future__ import annotations

import functools
from typing import Any

from sqlglot import exp

from chronodb.postgres.names import (
    DDL_COUNT,
    HORIZON_FUNCTION,
    HORIZON_SETTING,
    READ_HORIZON_FUNCTION,
    SHAPES,
    TX_NEXT,
    TX_TABLE,
    VIEWS,
    qualified,
)
from chronodb.sql.build import POSTGRES, col, concat, name, operand, render, string, table

RACED = "ZCH01"
"""SQLSTATE of a statement whose own snapshot the in-statement horizon could not bound:
run it again with a horizon taken before it."""


def _last_value(schema: str, sequence: str) -> exp.Expr:
    """``(SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM sequence)``: the
    sequence's last value, 0 before its first."""
    value = exp.Case(
        ifs=[
            exp.If(
                this=col(None, "is_called", quoted=False),
                true=col(None, "last_value", quoted=False),
            )
        ],
        default=exp.Literal.number(0),
    )
    return (
        exp.select(value, copy=False)
        .from_(table(schema, sequence), copy=False)
        .subquery(copy=False)
    )


def _generation(schema: str, counted: bool) -> exp.Expr:
    """The generation of :func:`generation_sql`, as an expression."""
    parts: list[exp.Expr] = []
    for catalog in (SHAPES, VIEWS):
        newest = exp.func(
            "coalesce", exp.func("max", col(None, "id", quoted=False)), exp.Literal.number(0)
        )
        ended = exp.func("count", col(None, "to_xid", quoted=False))
        parts.append(
            exp.select(concat([newest, string("."), ended]), copy=False)
            .from_(table(schema, catalog), copy=False)
            .subquery(copy=False)
        )
    if counted:
        parts.append(_last_value(schema, DDL_COUNT))
    return concat([p for part in parts for p in (part, string("/"))][:-1])


@functools.lru_cache(maxsize=64)
def generation_sql(schema: str, *, counted: bool = True) -> str:
    """SQL text: the generation of the shapes and views, which changes when a shape or
    view is added (a new row) or ended (its ``to_xid`` set), then (``counted``: a layout
    that counts them) the count of ALTER and DROP TABLE statements run by anyone."""
    return render(_generation(schema, counted), POSTGRES)


@functools.lru_cache(maxsize=64)
def count_sql(schema: str) -> str:
    """SQL for the count of ALTER and DROP TABLE statements (``outside.py``'s event trigger
    moves it with each, whoever runs them)."""
    return render(_last_value(schema, DDL_COUNT), POSTGRES)


def function_ddl(schema: str) -> str:
    """``_chrono_read_horizon(seen, known)``: the horizon, checked against the snapshot
    ``seen`` and the generation ``known`` (see the module's docstring), then kept.

    The function's PL/pgSQL body is text: sqlglot has no model of PL/pgSQL's blocks,
    assignments and RAISE. The SQL it embeds (:func:`generation_sql`) is built as
    expressions like the rest of this module's."""
    tx = qualified(schema, TX_TABLE)
    return f"""
CREATE OR REPLACE FUNCTION {qualified(schema, READ_HORIZON_FUNCTION)}(seen pg_snapshot, known text)
RETURNS bigint LANGUAGE plpgsql AS $body$
DECLARE
  -- The horizon an earlier statement of this session checked: every id up to it settled.
  kept text := split_part(coalesce(current_setting('{HORIZON_SETTING}', true), ''), ' ', 1);
  h bigint;
BEGIN
  -- Only under READ COMMITTED does each query below read a snapshot newer than seen.
  IF current_setting('transaction_isolation') <> 'read committed' THEN
    RAISE EXCEPTION 'chronodb: the horizon is taken before this statement'
      USING ERRCODE = '{RACED}';
  END IF;
  h := {qualified(schema, HORIZON_FUNCTION)}();
  IF ({generation_sql(schema)}) IS DISTINCT FROM known THEN
    RAISE EXCEPTION 'chronodb: the schema changed' USING ERRCODE = '{RACED}';
  END IF;
  -- A transaction up to h that committed after seen was taken ran then: its xid is at
  -- least seen's xmin, and its id above the kept horizon.
  IF EXISTS (SELECT FROM {tx}
             WHERE tx_id > CASE WHEN kept ~ '^[0-9]{{1,18}}$' THEN kept::bigint ELSE -1 END
             AND tx_id <= h
             AND xid >= pg_snapshot_xmin(seen) AND NOT pg_visible_in_snapshot(xid, seen)) THEN
    RAISE EXCEPTION 'chronodb: a transaction committed as this statement began'
      USING ERRCODE = '{RACED}';
  END IF;
  PERFORM set_config('{HORIZON_SETTING}', h || ' ' || known, false);
  RETURN h;
END
$body$"""


@functools.lru_cache(maxsize=256)
def expression(schema: str, before: str, known: str) -> str:
    """SQL: the horizon bounding a statement's points. ``before``: a parameter holding a
    horizon taken before the statement, or NULL to take it inside (see the module's
    docstring); ``known``: a parameter holding the schema generation the engine knows."""
    n = col("s", "n", quoted=False)
    setting = exp.func("current_setting", string(HORIZON_SETTING), exp.true())
    kept = exp.EQ(this=setting, expression=concat([n, string(" "), operand(known, POSTGRES)]))
    # A schema change made outside ChronoDB commits no id: the kept horizon also needs the
    # count of ALTER and DROP TABLE statements (the generation's last part) unmoved.
    unmoved = exp.EQ(
        this=exp.func("split_part", operand(known, POSTGRES), string("/"), exp.Literal.number(3)),
        expression=exp.cast(_last_value(schema, DDL_COUNT), exp.DataType.build("text"), copy=False),
    )
    checked = exp.Dot(
        this=name(schema),
        expression=exp.Anonymous(
            this=name(READ_HORIZON_FUNCTION),
            expressions=[exp.func("pg_current_snapshot"), operand(known, POSTGRES)],
        ),
    )
    choice = exp.Case(
        ifs=[exp.If(this=exp.and_(kept, unmoved, copy=False), true=n.copy())], default=checked
    )
    last = exp.alias_(_last_value(schema, TX_NEXT), "s", table=["n"], copy=False)
    inside = exp.select(choice, copy=False).from_(last, copy=False).subquery(copy=False)
    taken = exp.cast(operand(before, POSTGRES), exp.DataType.build("bigint"), copy=False)
    return render(exp.func("coalesce", taken, inside), POSTGRES)


def raced(err: Any) -> bool:
    """Whether a psycopg error is :data:`RACED`."""
    return getattr(err, "sqlstate", None) == RACED
