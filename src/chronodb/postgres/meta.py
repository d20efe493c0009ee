"""``_chrono_meta`` on PostgreSQL: key/value rows, as in SQLite's file.

It holds the ledger's last verification (``audit/verified.py``). ``install`` creates the
table; a database installed before it has none until its next read-write open, and reads
it as empty meanwhile.
"""

from __future__ import annotations

from typing import Any

import psycopg

from chronodb.postgres.names import META, qualified


def read(conn: psycopg.Connection[Any], schema: str, key: str) -> str | None:
    """The value of ``key``; None if there is none, or no table yet."""
    table = qualified(schema, META)
    present = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()
    if present is None or not present[0]:
        return None
    row = conn.execute(f"SELECT value FROM {table} WHERE key = %s", (key,)).fetchone()
    return None if row is None else row[0]


def write(conn: psycopg.Connection[Any], schema: str, key: str, value: str) -> None:
    """Set ``key`` to ``value``, in the transaction open on ``conn``."""
    conn.execute(
        f"INSERT INTO {qualified(schema, META)} (key, value) VALUES (%s, %s) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )
