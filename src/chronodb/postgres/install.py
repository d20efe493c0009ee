"""The objects every versioned table shares: transactions, the commit step, the catalog.

A write transaction gets its id and time when it commits, not when it starts: the first
history write of a transaction inserts its xid into the pending table, and that insert
queues a deferred constraint trigger which runs once, at COMMIT. The trigger takes a
transaction-scoped advisory lock, hands out the next id and a time (µs since the epoch,
``max(now, last + 1)``) and records them with the writer's xid in ``_chrono_tx``. The lock
is released only after the commit is visible, so the next transaction to get an id is
visible after this one: ids follow commit order, and a reader that has seen id ``n`` can
never later see a smaller one. Everything before COMMIT stays parallel.

The id and the time come from sequences, not from ``max(tx_id) + 1``: under REPEATABLE
READ the commit trigger's snapshot is the transaction's first one and would miss the
transactions committed since, while a sequence answers with its current value. A
transaction that fails after the trigger ran (another deferred constraint, say) leaves a
gap in the ids; ids stay strictly increasing in commit order.

Every statement here is idempotent, so :func:`install` also upgrades a database to the
current definitions of the functions.
"""

from __future__ import annotations

import psycopg

from chronodb.postgres.names import (
    CATALOG,
    COMMIT_FUNCTION,
    COMMIT_LOCK,
    COMMIT_TRIGGER,
    PENDING,
    SEQ_NEXT,
    TIME_LAST,
    TX_NEXT,
    TX_TABLE,
    USER_SETTING,
    quote,
)

INSTALL_LOCK = COMMIT_LOCK + 1
"""Advisory lock taken while installing, so that two installs cannot interleave."""


def qualified(schema: str, name: str) -> str:
    """``schema.name``, both quoted."""
    return f"{quote(schema)}.{quote(name)}"


def ddl(schema: str) -> list[str]:
    """The statements creating the shared objects in ``schema`` (each one idempotent)."""

    def q(name: str) -> str:
        return qualified(schema, name)

    return [
        f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}",
        # CACHE 1: values are handed out in the order they are asked for, across sessions,
        # which the bound on history order (seq_hi, see snapshots.py) relies on.
        f"CREATE SEQUENCE IF NOT EXISTS {q(SEQ_NEXT)} AS bigint CACHE 1",
        f"CREATE SEQUENCE IF NOT EXISTS {q(TX_NEXT)} AS bigint CACHE 1",
        f"CREATE SEQUENCE IF NOT EXISTS {q(TIME_LAST)} AS bigint MINVALUE 0 START 0 CACHE 1",
        f"CREATE TABLE IF NOT EXISTS {q(TX_TABLE)} ("
        " tx_id bigint PRIMARY KEY,"
        " xid xid8 NOT NULL UNIQUE,"
        " tx_time bigint NOT NULL UNIQUE,"
        ' "user" text NOT NULL,'
        " seq_hi bigint NOT NULL,"
        " leaf bytea)",
        # Unlogged: a row lives only from a transaction's first history write to its commit.
        f"CREATE UNLOGGED TABLE IF NOT EXISTS {q(PENDING)} (xid xid8 PRIMARY KEY)",
        f"CREATE TABLE IF NOT EXISTS {q(CATALOG)} ("
        " table_name text PRIMARY KEY,"
        " hist text NOT NULL UNIQUE,"
        " keys text[] NOT NULL,"
        " number integer NOT NULL UNIQUE)",
        _commit_function(schema),
    ]


def _commit_function(schema: str) -> str:
    def q(name: str) -> str:
        return qualified(schema, name)

    user = f"coalesce(nullif(current_setting('{USER_SETTING}', true), ''), current_user)"
    now_us = "(extract(epoch FROM clock_timestamp()) * 1000000)::bigint"
    return f"""
CREATE OR REPLACE FUNCTION {q(COMMIT_FUNCTION)}() RETURNS trigger LANGUAGE plpgsql AS $body$
DECLARE
  new_id bigint;
  new_time bigint;
BEGIN
  -- SET CONSTRAINTS ALL IMMEDIATE fires this before COMMIT; the transaction keeps its id
  -- (and the lock, so no other id is handed out) to the end. A later write's pending row
  -- must not allocate again, only raise seq_hi over the versions written since.
  UPDATE {q(TX_TABLE)} SET seq_hi = (SELECT last_value FROM {q(SEQ_NEXT)})
  WHERE xid = NEW.xid;
  IF FOUND THEN
    DELETE FROM {q(PENDING)} WHERE xid = NEW.xid;
    RETURN NULL;
  END IF;
  PERFORM pg_advisory_xact_lock({COMMIT_LOCK});
  new_id := nextval('{q(TX_NEXT)}');
  SELECT greatest({now_us}, last_value + 1) INTO new_time FROM {q(TIME_LAST)};
  PERFORM setval('{q(TIME_LAST)}', new_time);
  INSERT INTO {q(TX_TABLE)} (tx_id, xid, tx_time, "user", seq_hi)
  SELECT new_id, NEW.xid, new_time, {user}, last_value FROM {q(SEQ_NEXT)};
  DELETE FROM {q(PENDING)} WHERE xid = NEW.xid;
  RETURN NULL;
END
$body$"""


def install(conn: psycopg.Connection, schema: str = "public") -> None:
    """Create or upgrade the shared objects in ``schema``, in one transaction."""
    with conn.transaction():
        conn.execute(f"SELECT pg_advisory_xact_lock({INSTALL_LOCK})")
        for statement in ddl(schema):
            conn.execute(statement)
        exists = conn.execute(
            "SELECT 1 FROM pg_trigger WHERE tgname = %s AND tgrelid = %s::regclass",
            (COMMIT_TRIGGER, qualified(schema, PENDING)),
        ).fetchone()
        if not exists:  # constraint triggers have no CREATE OR REPLACE
            conn.execute(
                f"CREATE CONSTRAINT TRIGGER {quote(COMMIT_TRIGGER)} "
                f"AFTER INSERT ON {qualified(schema, PENDING)} "
                "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
                f"EXECUTE FUNCTION {qualified(schema, COMMIT_FUNCTION)}()"
            )


def installed(conn: psycopg.Connection, schema: str = "public") -> bool:
    """Whether ``schema`` holds ChronoDB's shared objects."""
    row = conn.execute("SELECT to_regclass(%s)", (qualified(schema, TX_TABLE),)).fetchone()
    return row is not None and row[0] is not None
