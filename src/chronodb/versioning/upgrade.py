"""Bringing a file written by an earlier ChronoDB to the current format, when it is opened.

The format is a number in ``_chrono_meta`` (not ``PRAGMA user_version``, which belongs to
the application). Each step runs inside the opening connection's write transaction, so a
file is either wholly upgraded or untouched.
"""

from __future__ import annotations

import sqlite3

from chronodb.versioning import timeline
from chronodb.versioning.catalog import Catalog
from chronodb.versioning.tables import (
    create_births,
    create_triggers,
    drop_triggers,
    quote,
)

FORMAT = 4
"""1: births were a partial index of history ('I' versions); 2: a table of their own;
3: a point in time resolves through sparse marks, not an index on every transaction's time;
4: the allocator writes the marks, not triggers on ``_chrono_tx``."""


def file_format(conn: sqlite3.Connection) -> int | None:
    """The file's format, or None for a file ChronoDB has not set up."""
    try:
        row = conn.execute("SELECT value FROM _chrono_meta WHERE key = 'format'").fetchone()
    except sqlite3.OperationalError:  # no catalog yet
        return None
    return int(row[0]) if row is not None else None


def upgrade(conn: sqlite3.Connection, catalog: Catalog) -> None:
    """Bring the file to :data:`FORMAT`; the caller holds the write transaction.

    The catalog's own tables (the marks among them) exist already: set-up creates them first.
    """
    found = file_format(conn) or 1
    if found < 2:
        _births_table(conn, catalog)
    if found < 3:
        conn.execute("DROP INDEX IF EXISTS _chrono_tx_time")
        conn.execute(timeline.FILL)
    if found < 4:
        for name in timeline.OLD_TRIGGERS:
            conn.execute(f"DROP TRIGGER IF EXISTS {name}")
    conn.execute(
        "INSERT OR REPLACE INTO _chrono_meta (key, value) VALUES ('format', ?)", (str(FORMAT),)
    )


def _births_table(conn: sqlite3.Connection, catalog: Catalog) -> None:
    existing = {r[0].lower() for r in conn.execute("SELECT name FROM sqlite_schema")}
    for sv in {v.hist: v for v in catalog.versions}.values():
        if sv.hist.lower() not in existing:
            continue
        conn.execute(f"DROP INDEX IF EXISTS {quote(sv.hist + '_ins')}")
        create_births(conn, sv.hist, sv.keys)
    for sv in catalog.live_tables():
        drop_triggers(conn, sv)
        create_triggers(conn, sv)
