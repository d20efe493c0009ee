"""The objects every versioned table shares: transactions, the commit step, the catalog.

A write transaction gets its id and time when it commits, not when it starts: the first
history write of a transaction inserts its xid into the pending table, and that insert
queues a deferred constraint trigger which runs once, at COMMIT. There, under an advisory
lock held for microseconds, it takes the next id and a time (µs since the epoch,
``max(now, last + 1)``), and takes the transaction-scoped lock ``COMMITTING + id``, which
PostgreSQL releases only once the commit is visible (or rolled back). It records id, time,
user and xid in ``_chrono_tx``. So ids and times increase together in allocation order,
and every id handed out is either visible, rolled back, or still held.

The allocation lock is not held through COMMIT: a lock held until the transaction ends is
held through its WAL flush, and writers would then flush one at a time instead of together
(group commit); ``benchmarks/pg_layout_bench.py`` measures both. A transaction may
therefore become visible before one with a smaller id that is still flushing. Readers
settle that with :func:`horizon` (``_chrono_horizon()``): it waits for every id handed out
so far to be visible or rolled back and returns the last one. A reader that bounds every
point by a horizon it got before its snapshot (the statement before, under READ
COMMITTED; before BEGIN, under REPEATABLE READ) sees AS OF n exactly the transactions with
id <= n, and nothing below n can appear later.

The id and the time come from sequences, not from ``max(tx_id) + 1``: under REPEATABLE
READ the commit trigger's snapshot is the transaction's first one and would miss the
transactions committed since, while a sequence answers with its current value. A
transaction that fails after the trigger ran (a deferred check queued after it, or
SERIALIZABLE's check at commit) leaves a gap in the ids.

Every statement here is idempotent, so :func:`install_shared` also upgrades a database to the
current definitions of the functions.
"""

from __future__ import annotations

from json import dumps

import psycopg

from chronodb.postgres import bounds
from chronodb.postgres.digests import real_function
from chronodb.postgres.ledger import head_sql, seal_function
from chronodb.postgres.names import (
    ALLOCATE_LOCK,
    CATALOG,
    COMMIT_FUNCTION,
    COMMIT_TRIGGER,
    COMMITTING,
    DDL_COUNT,
    ERASURES,
    HORIZON_FUNCTION,
    META,
    NOTIFY_LOCK,
    NOTIFY_PREFIX,
    PENDING,
    PENDING_SETTING,
    PREFIX,
    SEAL_FUNCTION,
    SEQ_NEXT,
    SETTLED,
    SHAPES,
    TIME_LAST,
    TX_NEXT,
    TX_ROW_SETTING,
    TX_TABLE,
    USER_SETTING,
    VIEWS,
    qualified,
    quote,
)
from chronodb.postgres.signoffs import ddl as signoffs_ddl

INSTALL_LOCK = ALLOCATE_LOCK + 1
"""Advisory lock taken while installing, so that two installs cannot interleave."""


def ddl(schema: str, *, ledger: bool = True, settle: bool = True) -> list[str]:
    """The statements creating the shared objects in ``schema`` (each one idempotent).

    ``ledger``: whether the commit step seals each transaction's leaf (``ledger.py``).
    ``settle``: whether it walks the settled mark a standby's horizon reads.
    """

    def q(name: str) -> str:
        return qualified(schema, name)

    return [
        f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}",
        # CACHE 1: values are handed out in the order they are asked for, across sessions,
        # which the bound on history order (seq_hi, see snapshots.py) relies on.
        f"CREATE SEQUENCE IF NOT EXISTS {q(SEQ_NEXT)} AS bigint CACHE 1",
        f"CREATE SEQUENCE IF NOT EXISTS {q(TX_NEXT)} AS bigint CACHE 1",
        f"CREATE SEQUENCE IF NOT EXISTS {q(TIME_LAST)} AS bigint MINVALUE 0 START 0 CACHE 1",
        # Unlogged: no WAL at each commit; a crash resets it, and after a crash every id
        # handed out before it is settled (see _commit_function).
        f"CREATE UNLOGGED SEQUENCE IF NOT EXISTS {q(SETTLED)} AS bigint MINVALUE 0 START 0 CACHE 1",
        f"CREATE TABLE IF NOT EXISTS {q(TX_TABLE)} ("
        " tx_id bigint PRIMARY KEY,"
        " xid xid8 NOT NULL UNIQUE,"
        " tx_time bigint NOT NULL UNIQUE,"
        ' "user" text NOT NULL,'
        " seq_lo bigint NOT NULL,"
        " seq_hi bigint NOT NULL,"
        " leaf bytea,"
        " settled bigint)",
        # Unlogged: a row lives only from a transaction's first history write to its commit.
        # No index: it is only ever inserted and deleted by ctid (see queue_commit).
        f"CREATE UNLOGGED TABLE IF NOT EXISTS {q(PENDING)} ("
        " xid xid8 NOT NULL, seq_lo bigint NOT NULL)",
        f"CREATE TABLE IF NOT EXISTS {q(CATALOG)} ("
        " table_name text PRIMARY KEY,"
        " hist text NOT NULL UNIQUE,"
        " keys text[] NOT NULL,"
        " number integer NOT NULL UNIQUE)",
        # The table's oid and its open shape's columns' attribute numbers, as ChronoDB last
        # followed it: what a schema change made outside ChronoDB is told by (outside.py).
        f"ALTER TABLE {q(CATALOG)} ADD COLUMN IF NOT EXISTS rel oid, "
        "ADD COLUMN IF NOT EXISTS attnums smallint[]",
        f"CREATE SEQUENCE IF NOT EXISTS {q(DDL_COUNT)} AS bigint CACHE 1",
        # The keys erase() removed: the erasing transaction by xid (its id comes at commit).
        f"CREATE TABLE IF NOT EXISTS {q(ERASURES)} ("
        " id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
        " table_name text NOT NULL,"
        " row_key text NOT NULL,"
        " versions bigint NOT NULL,"
        " xid xid8 NOT NULL,"
        ' "user" text,'
        " reason text)",
        signoffs_ddl(schema),
        # Key/value, as SQLite's: the ledger's last verification (audit/verified.py).
        f"CREATE TABLE IF NOT EXISTS {q(META)} (key text PRIMARY KEY, value text)",
        # Every versioned table's shapes over time (shapes.py).
        f"CREATE TABLE IF NOT EXISTS {q(SHAPES)} ("
        " id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
        " number integer NOT NULL,"
        " name text NOT NULL,"
        " hist text NOT NULL,"
        " keys text[] NOT NULL,"  # the key's history columns, in key order
        " columns jsonb NOT NULL,"  # [[name, history column, type], ...] in table order
        " from_xid xid8,"  # NULL: recorded when an older layout was upgraded
        " to_xid xid8)",
        # Every view's definitions over time (views.py).
        f"CREATE TABLE IF NOT EXISTS {q(VIEWS)} ("
        " id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
        " name text NOT NULL,"
        " sql text NOT NULL,"  # the view's query, as pg_get_viewdef gives it
        " from_xid xid8 NOT NULL,"
        " to_xid xid8)",
        real_function(schema),
        seal_function(schema),
        _commit_function(schema, ledger, settle),
        _horizon_function(schema),
        bounds.function_ddl(schema),
    ]


def _commit_function(schema: str, ledger: bool = True, settle: bool = True) -> str:
    def q(name: str) -> str:
        return qualified(schema, name)

    # Every id below low was settled when the last one was handed out (reset by a crash,
    # which settles every id: then from this one). Walk past those settled since: each id
    # below this one has its lock, so one free to take is visible or rolled back, and its
    # commit (or abort) record precedes this transaction's in the WAL.
    mark = "CASE WHEN d.is_called THEN d.last_value ELSE n END" if settle else "NULL"
    marks = f", {q(SETTLED)} AS d" if settle else ""
    walk = (
        f"""
    WHILE low < new_id AND pg_try_advisory_lock_shared({COMMITTING} + low) LOOP
      PERFORM pg_advisory_unlock_shared({COMMITTING} + low);
      low := low + 1;
    END LOOP;
    PERFORM setval('{q(SETTLED)}', low);"""
        if settle
        else ""
    )
    body = f"{q(SEAL_FUNCTION)}()" if ledger else "NULL"
    seal = f"{head_sql('new_id', 'new_time', 'who')} || body" if ledger else "NULL"
    user = f"coalesce(nullif(current_setting('{USER_SETTING}', true), ''), current_user)"
    now_us = "(extract(epoch FROM clock_timestamp()) * 1000000)::bigint"
    channel = "'" + (NOTIFY_PREFIX + schema).replace("'", "''") + "'"  # names.notify_channel
    return f"""
CREATE OR REPLACE FUNCTION {q(COMMIT_FUNCTION)}() RETURNS trigger LANGUAGE plpgsql AS $body$
DECLARE
  new_id bigint;
  new_time bigint;
  hi bigint;
  low bigint;
  row text;
  queued text;
  who text := {user};
  sealed bytea;
  -- The leaf from its kinds on, before the id is taken (see ledger.seal_function).
  body bytea := {body};
BEGIN
  -- The allocation lock is a session lock, released here: if anything fails while it is
  -- held, the handler releases it before the error goes on.
  BEGIN
    PERFORM pg_advisory_lock({ALLOCATE_LOCK});
    -- One statement while the lock is held: the id, its lock, the time, seq_hi.
    SELECT n, setval('{q(TIME_LAST)}', greatest({now_us}, t.last_value + 1)), s.last_value,
      {mark}
    INTO new_id, new_time, hi, low
    FROM nextval('{q(TX_NEXT)}') AS n, pg_advisory_xact_lock({COMMITTING} + n) AS held,
      {q(TIME_LAST)} AS t, {q(SEQ_NEXT)} AS s{marks};{walk}
    PERFORM pg_advisory_unlock({ALLOCATE_LOCK});
  EXCEPTION WHEN OTHERS THEN
    PERFORM pg_advisory_unlock({ALLOCATE_LOCK});
    RAISE;
  END;
  -- SET CONSTRAINTS ALL IMMEDIATE fires this before COMMIT, once per statement that
  -- writes after the last firing: each firing takes a new id over the versions written
  -- so far, the last one stands, and the ids before it stay unused.
  -- The leaf covers the versions so far, again at each firing.
  sealed := {seal};
  row := coalesce(current_setting('{TX_ROW_SETTING}', true), '');
  IF row = '' THEN
    INSERT INTO {q(TX_TABLE)} (tx_id, xid, tx_time, "user", seq_lo, seq_hi, leaf, settled)
    VALUES (new_id, NEW.xid, new_time, who, NEW.seq_lo, hi, sealed, low)
    RETURNING ctid::text INTO row;
  ELSE
    UPDATE {q(TX_TABLE)}
    SET tx_id = new_id, tx_time = new_time, "user" = who, seq_hi = hi, leaf = sealed,
      settled = low
    WHERE ctid = row::tid RETURNING ctid::text INTO row;
  END IF;
  row := set_config('{TX_ROW_SETTING}', row, true);
  -- A doorbell for change feeds (delivered at COMMIT, dropped on ROLLBACK); they read the
  -- changes themselves from history, up to the horizon. PostgreSQL serialises the commits
  -- of notifying transactions through their WAL flush, so only the holder of the notify
  -- lock rings: a transaction that finds it taken got its id before the holder let go,
  -- so the horizon read on hearing the holder waits for that id too.
  IF pg_try_advisory_xact_lock({NOTIFY_LOCK}, hashtext({channel})) THEN
    PERFORM pg_notify({channel}, new_id::text);
  END IF;
  queued := coalesce(current_setting('{PENDING_SETTING}', true), '');
  IF queued = 'queuing' THEN
    -- Fired by the pending row's own INSERT (IMMEDIATE): queue_commit deletes the row.
    queued := set_config('{PENDING_SETTING}', 'fired', true);
  ELSIF queued = '' THEN  -- a row not inserted by queue_commit
    DELETE FROM {q(PENDING)} WHERE xid = NEW.xid;
  ELSE
    DELETE FROM {q(PENDING)} WHERE ctid = queued::tid;
    queued := set_config('{PENDING_SETTING}', '', true);
  END IF;
  RETURN NULL;
END
$body$"""


def queue_commit(schema: str, queued: str, seq: str) -> str:
    """PL/pgSQL queuing the commit step of the open transaction, once (``queued``: a text
    variable the caller declares; ``seq``: the history order number of the versions just
    written, the transaction's first, kept as its ``seq_lo``).

    Whether it is queued is a transaction-local setting, not a lookup in the pending
    table: under SERIALIZABLE, every transaction reading that table's index would conflict
    with every other one writing it (and the commit step deletes the row by its ctid for
    the same reason). A ROLLBACK TO SAVEPOINT undoes the setting with the row.
    """
    setting = f"current_setting('{PENDING_SETTING}')"
    return (
        f"IF coalesce(current_setting('{PENDING_SETTING}', true), '') = '' THEN "
        f"{queued} := set_config('{PENDING_SETTING}', 'queuing', true); "
        f"INSERT INTO {qualified(schema, PENDING)} (xid, seq_lo) "
        f"VALUES (pg_current_xact_id(), {seq}) RETURNING ctid::text INTO {queued}; "
        # Under SET CONSTRAINTS ALL IMMEDIATE the INSERT above ran the commit step already.
        f"IF {setting} = 'fired' THEN "
        f"DELETE FROM {qualified(schema, PENDING)} WHERE ctid = {queued}::tid; "
        f"{queued} := set_config('{PENDING_SETTING}', '', true); "
        f"ELSE {queued} := set_config('{PENDING_SETTING}', {queued}, true); END IF; END IF"
    )


def _horizon_function(schema: str) -> str:
    def q(name: str) -> str:
        return qualified(schema, name)

    base = COMMITTING >> 32
    return f"""
CREATE OR REPLACE FUNCTION {q(HORIZON_FUNCTION)}() RETURNS bigint LANGUAGE plpgsql AS $body$
DECLARE
  last bigint;
  held bigint;
  low bigint;
BEGIN
  IF pg_is_in_recovery() THEN
    -- A hot standby: its locks are not the primary's, and it shows transactions in the
    -- order of their commit records, which is not id order. The newest transaction says
    -- which ids were settled when it got its id (their records precede its own); above
    -- those, the ids visible one after another.
    SELECT settled INTO low FROM {q(TX_TABLE)} WHERE settled IS NOT NULL
    ORDER BY tx_id DESC LIMIT 1;
    IF low IS NULL THEN
      RETURN 0;
    END IF;
    last := low - 1;
    FOR held IN SELECT tx_id FROM {q(TX_TABLE)} WHERE tx_id >= low ORDER BY tx_id LOOP
      EXIT WHEN held <> last + 1;
      last := held;
    END LOOP;
    RETURN last;
  END IF;
  -- No id is half handed out (allocated, its lock not yet taken) while this is held.
  PERFORM pg_advisory_lock_shared({ALLOCATE_LOCK});
  SELECT CASE WHEN is_called THEN last_value ELSE 0 END INTO last FROM {q(TX_NEXT)};
  PERFORM pg_advisory_unlock_shared({ALLOCATE_LOCK});
  FOR held IN
    SELECT (l.classid::bigint << 32 | l.objid::bigint) - {COMMITTING} FROM pg_locks AS l
    WHERE l.locktype = 'advisory' AND l.objsubid = 1 AND l.granted
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND l.classid::bigint >= {base} AND l.classid::bigint < {base + 256}
  LOOP
    IF held <= last THEN  -- still committing: wait until it is visible or rolled back
      PERFORM pg_advisory_lock_shared({COMMITTING} + held);
      PERFORM pg_advisory_unlock_shared({COMMITTING} + held);
    END IF;
  END LOOP;
  RETURN last;
END
$body$"""


def horizon(conn: psycopg.Connection, schema: str = "public") -> int:
    """The last id handed out, once every id up to it is visible or rolled back.

    Bound every point by it in the statements after this one (READ COMMITTED), or in a
    transaction begun after it (REPEATABLE READ): see the module's docstring.
    """
    row = conn.execute(f"SELECT {qualified(schema, HORIZON_FUNCTION)}()").fetchone()
    return int(row[0]) if row is not None else 0


def install_shared(
    conn: psycopg.Connection, schema: str = "public", *, ledger: bool = True, settle: bool = True
) -> None:
    """Create or upgrade the shared objects in ``schema``, in one transaction (a database's
    versioned tables too: ``tables.install``).

    ``ledger=False`` installs a commit step that seals no leaf (for measuring the ledger's
    cost: ``benchmarks/pg_ledger_bench.py``); ``settle=False`` one that walks no settled
    mark, so standbys cannot bound their points (for measuring the walk's cost:
    ``benchmarks/pg_ledger_bench.py``).
    """
    with conn.transaction():
        conn.execute(f"SELECT pg_advisory_xact_lock({INSTALL_LOCK})")
        settled = has_settled_mark(conn, schema)
        for statement in ddl(schema, ledger=ledger, settle=settle):
            conn.execute(statement)
        if not settled:
            _settle(conn, schema)
        _backfill(conn, schema)
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


def has_settled_mark(conn: psycopg.Connection, schema: str) -> bool:
    """Whether ``_chrono_tx`` has its ``settled`` column, which a standby's horizon reads
    (absent: no table yet, or a layout older than it, upgraded by a read-write open)."""
    row = conn.execute(
        "SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attname = 'settled' "
        "AND NOT attisdropped",
        (qualified(schema, TX_TABLE),),
    ).fetchone()
    return row is not None


def _settle(conn: psycopg.Connection, schema: str) -> None:
    """Start the settled mark (``SETTLED``) at the horizon, and give the newest transaction
    up to it its ``settled``, so a standby reading an upgraded database bounds its points
    before any new commit: every id up to the horizon is visible or rolled back now."""
    conn.execute(
        f"ALTER TABLE {qualified(schema, TX_TABLE)} ADD COLUMN IF NOT EXISTS settled bigint"
    )
    bound = horizon(conn, schema)
    conn.execute(f"SELECT setval('{qualified(schema, SETTLED)}', %s)", (bound + 1,))
    conn.execute(
        f"UPDATE {qualified(schema, TX_TABLE)} SET settled = tx_id WHERE tx_id = "
        f"(SELECT max(tx_id) FROM {qualified(schema, TX_TABLE)} WHERE tx_id <= %s)",
        (bound,),
    )


def _backfill(conn: psycopg.Connection, schema: str) -> None:
    """Give each versioned table without a recorded shape (versioned before shapes were)
    its shape now, counting from the start: its history columns are its columns."""
    missing = conn.execute(
        f"SELECT c.number, c.table_name, c.hist, c.keys FROM {qualified(schema, CATALOG)} AS c "
        f"WHERE NOT EXISTS (SELECT FROM {qualified(schema, SHAPES)} AS s "
        "WHERE s.number = c.number) "
        "AND to_regclass(quote_ident(%s) || '.' || quote_ident(c.hist)) IS NOT NULL",
        (schema,),
    ).fetchall()
    for number, name, hist, keys in missing:
        columns = [
            (column, column, kind)
            for column, kind in conn.execute(
                "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped "
                "ORDER BY attnum",
                (qualified(schema, hist),),
            ).fetchall()
            if not column.startswith(PREFIX)
        ]
        conn.execute(
            f"INSERT INTO {qualified(schema, SHAPES)} (number, name, hist, keys, columns) "
            "VALUES (%s, %s, %s, %s, %s::jsonb)",
            (number, name, hist, list(keys), dumps([list(c) for c in columns])),
        )


def installed(conn: psycopg.Connection, schema: str = "public") -> bool:
    """Whether ``schema`` holds ChronoDB's shared objects."""
    row = conn.execute("SELECT to_regclass(%s)", (qualified(schema, TX_TABLE),)).fetchone()
    return row is not None and row[0] is not None
