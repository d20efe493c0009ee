"""Following schema changes made outside ChronoDB (psql's ALTER TABLE, DROP TABLE).

ChronoDB follows its own DDL in the statement's transaction (``alter.py``). Another client's
ALTER TABLE on a versioned table leaves history's triggers with the old columns: a renamed
or dropped column makes writes to the table fail, an added one is not versioned. So the
catalog keeps each versioned table as ChronoDB last followed it, its oid and its columns'
attribute numbers (``tables.remember``), and :func:`stale` compares them, with the open
shapes' names and types, to the tables now, in one query. The engine looks when it opens
the database, before its own DDL, when a write fails in a history trigger, and, where an
event trigger counts ALTER and DROP TABLE statements (:func:`install_counter`), whenever
that count moved; it then follows what changed, in a transaction of its own
(``alter.follow`` over ``alter.recorded``).

An event trigger needs a superuser to create: without one the count does not move, and a
change made outside is followed when ChronoDB next opens the database, runs DDL, or fails a
write on it.
"""

from __future__ import annotations

import psycopg

from chronodb.postgres import alter
from chronodb.postgres.names import CATALOG, DDL_COUNT, DDL_NOTE, SHAPES, qualified, quote
from chronodb.postgres.tables import lookup, remember


def _stale_sql(schema: str) -> str:
    catalog, book = qualified(schema, CATALOG), qualified(schema, SHAPES)
    now = (
        "SELECT array_agg(ROW(a.attnum, a.attname, format_type(a.atttypid, a.atttypmod))::text "
        "ORDER BY a.attnum) FROM pg_attribute AS a JOIN pg_class AS r ON r.oid = a.attrelid "
        "AND r.relname = c.table_name AND r.relnamespace = %(schema)s::regnamespace "
        "WHERE a.attrelid = c.rel AND a.attnum > 0 AND NOT a.attisdropped"
    )
    then = (
        "SELECT array_agg(ROW(c.attnums[e.n], e.v->>0, e.v->>2)::text ORDER BY e.n) "
        "FROM jsonb_array_elements(s.columns) WITH ORDINALITY AS e(v, n)"
    )
    return (
        f"SELECT c.table_name FROM {catalog} AS c JOIN {book} AS s "
        "ON s.number = c.number AND s.to_xid IS NULL "
        f"WHERE c.attnums IS NOT NULL AND ({now}) IS DISTINCT FROM ({then}) ORDER BY c.number"
    )


def stale(conn: psycopg.Connection, schema: str) -> list[str]:
    """The versioned tables whose name, columns or column types changed, or that were
    dropped, since ChronoDB last followed them."""
    return [r[0] for r in conn.execute(_stale_sql(schema), {"schema": quote(schema)})]


def follow(conn: psycopg.Connection, schema: str) -> bool:
    """In the open transaction: follow what changed outside ChronoDB; whether anything had.

    The catalog is locked first, and the tables compared again under the lock, so that of
    several ChronoDB processes seeing one change, one follows it and the others find
    nothing left to do."""
    conn.execute(f"LOCK TABLE {qualified(schema, CATALOG)} IN EXCLUSIVE MODE")
    if not stale(conn, schema):
        return False
    alter.follow(conn, schema, alter.recorded(conn, schema), outside=True)
    return True


def prepare(conn: psycopg.Connection, schema: str) -> bool:
    """Record the tables versioned by an older layout as they are now (in one transaction),
    and count ALTER and DROP TABLE statements if the user may create an event trigger;
    whether the count is kept."""
    with conn.transaction():
        unrecorded = conn.execute(
            f"SELECT table_name FROM {qualified(schema, CATALOG)} WHERE attnums IS NULL"
        ).fetchall()
        for (name,) in unrecorded:
            v = lookup(conn, name, schema)
            if v is not None:
                remember(conn, v)
    return install_counter(conn, schema)


def counter_name(schema: str) -> str:
    """The event trigger counting ``schema``'s DDL (event triggers are the database's, so
    each schema ChronoDB holds has its own)."""
    return f"{DDL_NOTE}_{schema}"


def install_counter(conn: psycopg.Connection, schema: str) -> bool:
    """Create the event trigger advancing ``DDL_COUNT`` at the end of each ALTER or DROP
    TABLE, by anyone, if it is not there and the user is a superuser; whether it is there."""
    name = counter_name(schema)
    if conn.execute("SELECT 1 FROM pg_event_trigger WHERE evtname = %s", (name,)).fetchone():
        return True
    superuser = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
    row = superuser.fetchone()
    if row is None or not row[0]:
        return False
    function = qualified(schema, DDL_NOTE)
    with conn.transaction():
        # SECURITY DEFINER: the sequence is advanced for users who may not use it.
        conn.execute(
            f"CREATE OR REPLACE FUNCTION {function}() RETURNS event_trigger "
            "LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $body$ BEGIN "
            f"PERFORM nextval('{qualified(schema, DDL_COUNT)}'); END $body$"
        )
        conn.execute(
            f"CREATE EVENT TRIGGER {quote(name)} ON ddl_command_end "
            "WHEN TAG IN ('ALTER TABLE', 'DROP TABLE') "
            f"EXECUTE FUNCTION {function}()"
        )
    return True
