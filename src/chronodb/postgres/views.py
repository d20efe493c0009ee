"""Every view's definition over time on PostgreSQL, so a view read AS OF a point is the view
it was then: the table ``_chrono_views``, as SQLite's (``versioning/views.py``).

Each row is one definition of one view of the schema: its query as ``pg_get_viewdef``
renders it, from the transaction that made it (by xid) to the one that changed or dropped
it. :func:`record` compares the views with the open rows after each DDL statement ChronoDB
runs (CREATE and DROP VIEW, ALTER TABLE, whose renames PostgreSQL follows in the views);
a view made by another program since counts as it is now, at every point.
"""

from __future__ import annotations

import psycopg

from chronodb.postgres.names import PREFIX, TX_TABLE, VIEWS, qualified, quote
from chronodb.postgres.shapes import PENDING
from chronodb.versioning.views import ViewDefinition, ViewHistory

_NOW = (
    "SELECT c.relname, pg_get_viewdef(c.oid) FROM pg_class AS c "
    "WHERE c.relnamespace = %s::regnamespace AND c.relkind = 'v' AND left(c.relname, %s) <> %s"
)


def _now(conn: psycopg.Connection, schema: str) -> dict[str, str]:
    rows = conn.execute(_NOW, (quote(schema), len(PREFIX), PREFIX)).fetchall()
    return {name: sql for name, sql in rows}


def record(conn: psycopg.Connection, schema: str) -> bool:
    """End the definitions of views changed or dropped, and begin those of views made or
    changed, at the open transaction; whether any changed."""
    table = qualified(schema, VIEWS)
    now = _now(conn, schema)
    recorded = {
        name: (id_, sql)
        for id_, name, sql in conn.execute(
            f"SELECT id, name, sql FROM {table} WHERE to_xid IS NULL"
        ).fetchall()
    }
    gone = [id_ for name, (id_, sql) in recorded.items() if now.get(name) != sql]
    made = [(n, sql) for n, sql in now.items() if n not in recorded or recorded[n][1] != sql]
    for id_ in gone:
        conn.execute(f"UPDATE {table} SET to_xid = pg_current_xact_id() WHERE id = %s", (id_,))
    for name, sql in made:
        conn.execute(
            f"INSERT INTO {table} (name, sql, from_xid) VALUES (%s, %s, pg_current_xact_id())",
            (name, sql),
        )
    return bool(gone or made)


def load(conn: psycopg.Connection, schema: str) -> ViewHistory:
    """The views' definitions over time, with the ids and times of the transactions that
    made and ended them (``shapes.PENDING`` for the reader's own open one), and the views
    now."""
    return ViewHistory.of(definitions(conn, schema), current(conn, schema))


def current(conn: psycopg.Connection, schema: str) -> dict[str, str]:
    """The schema's views now: name -> query, as ``pg_get_viewdef`` renders it."""
    return _now(conn, schema)


def definitions(conn: psycopg.Connection, schema: str) -> list[ViewDefinition]:
    """Every view's definitions over time, oldest first (see :func:`load`)."""
    tx = qualified(schema, TX_TABLE)
    rows = conn.execute(
        "SELECT v.name, v.sql, f.tx_id, f.tx_time, t.tx_id, t.tx_time, v.to_xid IS NOT NULL "
        f"FROM {qualified(schema, VIEWS)} AS v LEFT JOIN {tx} AS f ON f.xid = v.from_xid "
        f"LEFT JOIN {tx} AS t ON t.xid = v.to_xid ORDER BY v.id"
    ).fetchall()
    return [
        ViewDefinition(
            name,
            sql,
            PENDING if from_tx is None else from_tx,
            PENDING if from_us is None else from_us,
            PENDING if ended and to_tx is None else to_tx,
            PENDING if ended and to_us is None else to_us,
        )
        for name, sql, from_tx, from_us, to_tx, to_us, ended in rows
    ]
