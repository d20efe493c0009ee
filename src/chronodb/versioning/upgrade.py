"""Bringing a file written by an earlier ChronoDB to the current format, when it is opened.

The format is a number in ``_chrono_meta`` (not ``PRAGMA user_version``, which belongs to
the application). Each step runs inside the opening connection's write transaction, so a
file is either wholly upgraded or untouched.
"""

from __future__ import annotations

import sqlite3
import time

from chronodb.errors import ChronoDBError, CorruptDatabaseError
from chronodb.versioning import timeline
from chronodb.versioning.catalog import Catalog, SchemaVersion
from chronodb.versioning.tables import (
    LEAF,
    OP,
    TX,
    create_guard,
    create_key_set,
    drop_triggers,
    quote,
)

FORMAT = 8
"""1: births were a partial index of history ('I' versions); 2: a table of their own;
3: a point in time resolves through sparse marks, not an index on every transaction's time;
4: the allocator writes the marks, not triggers on ``_chrono_tx``; 5: nothing in a history
write can abort the statement (see :func:`_abort_free_history`); 6: each history's key set
(every key once) replaces its births (a key once per life); 7: the history triggers refuse
writes from connections that are not ChronoDB's; 8: a transaction's id is its time, most
write no record (``timeline``), the history triggers are each connection's own TEMP
triggers (``tables.CURRENT_TX``), and stored guard triggers refuse other connections'
writes (``tables.WRITE_GUARD``); the ledger's leaves go on history rows (``tables.LEAF``)."""


def file_format(conn: sqlite3.Connection) -> int | None:
    """The file's format, or None for a file ChronoDB has not set up."""
    try:
        row = conn.execute("SELECT value FROM _chrono_meta WHERE key = 'format'").fetchone()
    except sqlite3.OperationalError:  # no catalog yet
        return None
    if row is None:
        return None
    try:
        return int(row[0])
    except (ValueError, TypeError) as err:
        raise CorruptDatabaseError(
            f"ChronoDB's metadata is damaged: _chrono_meta's format is {row[0]!r}, not a number"
        ) from err


def upgrade(conn: sqlite3.Connection, catalog: Catalog) -> None:
    """Bring the file to :data:`FORMAT`; the caller holds the write transaction.

    The catalog's own tables (the marks among them) exist already: set-up creates them first.
    """
    found = file_format(conn) or 1
    if found < 2:
        for hist in {v.hist for v in catalog.versions}:
            conn.execute(f"DROP INDEX IF EXISTS {quote(hist + '_ins')}")
    if found < 3:
        conn.execute("DROP INDEX IF EXISTS _chrono_tx_time")
        conn.execute(timeline.FILL)
    if found < 4:
        for name in timeline.OLD_TRIGGERS:
            conn.execute(f"DROP TRIGGER IF EXISTS {name}")
    if found < 5:
        _abort_free_history(conn, catalog)
    if found < 6:
        _key_sets(conn, catalog)
    if found < 8:
        timeline.set_origin(conn, time.time_ns() // 1000)
        # The history triggers are the connection's own (TEMP): the file's go, and guards
        # refuse the writes of connections that have none.
        for sv in catalog.versions:
            drop_triggers(conn, sv, "main")
        for sv in catalog.live_tables():
            create_guard(conn, sv)
        _leaf_columns(conn, catalog)
    conn.execute(
        "INSERT OR REPLACE INTO _chrono_meta (key, value) VALUES ('format', ?)", (str(FORMAT),)
    )


_CONSTRAINED = f"{TX} INTEGER NOT NULL, {OP} TEXT NOT NULL,"
_FREE = f"{TX} INTEGER, {OP} TEXT,"


def _abort_free_history(conn: sqlite3.Connection, catalog: Catalog) -> None:
    """Drop what made SQLite open a statement journal for every versioned write.

    A statement that writes two tables (the user's, and history through a trigger) and
    could abort half-way is given a statement journal, at about 1 µs a row. Two things in
    the history write could abort: NOT NULL on ``_chrono_tx`` and ``_chrono_op`` (the
    triggers always fill them), and the key columns in the upsert's SET (the key is the
    conflict's own; :func:`upgrade` writes the triggers again). The NOT NULLs are removed
    as SQLite documents for that change (``writable_schema``; the rows on disk are
    unchanged). Where SQLite refuses (a build in defensive mode), the file keeps them: only
    slower.
    """
    hists = {v.hist for v in catalog.versions}
    edits = [
        (sql.replace(_CONSTRAINED, _FREE, 1), name)
        for name, sql in conn.execute("SELECT name, sql FROM sqlite_schema WHERE type = 'table'")
        if name in hists and _CONSTRAINED in sql
    ]
    if not edits:
        return
    version = conn.execute("PRAGMA schema_version").fetchone()[0]
    conn.execute("PRAGMA writable_schema = ON")
    try:
        conn.executemany("UPDATE sqlite_schema SET sql = ? WHERE name = ?", edits)
        conn.execute(f"PRAGMA schema_version = {version + 1}")
    except sqlite3.DatabaseError:
        return  # a build in defensive mode keeps sqlite_schema read-only: only speed is lost
    finally:
        conn.execute("PRAGMA writable_schema = OFF")


def _histories(conn: sqlite3.Connection, catalog: Catalog) -> list[SchemaVersion]:
    """One shape of each history table the catalog names and the file holds."""
    existing = {r[0].lower() for r in conn.execute("SELECT name FROM sqlite_schema")}
    by_hist = {v.hist: v for v in catalog.versions}
    return [sv for hist, sv in sorted(by_hist.items()) if hist.lower() in existing]


def _key_sets(conn: sqlite3.Connection, catalog: Catalog) -> None:
    """Give each history its key set, in place of its births table (format 2 to 5)."""
    for sv in _histories(conn, catalog):
        conn.execute(f"DROP TABLE IF EXISTS {quote('_chrono_b' + sv.hist[len('_chrono_h') :])}")
        create_key_set(conn, sv.hist, sv.keys)


def _leaf_columns(conn: sqlite3.Connection, catalog: Catalog) -> None:
    """Give every history table the column the ledger's leaves go in (``tables.LEAF``)."""
    for hist in (sv.hist for sv in _histories(conn, catalog)):
        have = {r[1] for r in conn.execute(f"PRAGMA table_info({quote(hist)})")}
        if LEAF in have:
            raise ChronoDBError(
                f"history table {hist} has a column named {LEAF}; this ChronoDB needs that "
                "name for the audit ledger"
            )
        conn.execute(f"ALTER TABLE {quote(hist)} ADD COLUMN {LEAF} BLOB")
