"""Bringing a file written by an earlier ChronoDB to the current format, when it is opened.

The format is a number in ``_chrono_meta`` (not ``PRAGMA user_version``, which belongs to
the application). Each step runs inside the opening connection's write transaction, so a
file is either wholly upgraded or untouched.
"""

from __future__ import annotations

import json
import sqlite3
import time

from chronodb.errors import ChronoDBError, CorruptDatabaseError
from chronodb.layout import (
    COPY_SUFFIX,
    LEAF,
    META,
    OLD_MARK_TRIGGERS,
    OLD_TX_TIME_INDEX,
    OP,
    SCHEMA,
    TX,
    births_index,
    births_of,
    keys_of,
    null_keys_of,
)
from chronodb.versioning import timeline, views
from chronodb.versioning.catalog import Catalog, SchemaVersion
from chronodb.versioning.columns import BINARY, history_type
from chronodb.versioning.tables import (
    create_guard,
    create_key_set,
    create_null_keys,
    declare,
    drop_triggers,
    key_list,
    key_types,
    nullable_key,
    quote,
    table_collations,
)

FORMAT = 9
"""1: births were a partial index of history ('I' versions); 2: a table of their own;
3: a point in time resolves through sparse marks, not an index on every transaction's time;
4: the allocator writes the marks, not triggers on ``_chrono_tx``; 5: nothing in a history
write can abort the statement (see :func:`_abort_free_history`); 6: each history's key set
(every key once) replaces its births (a key once per life); 7: the history triggers refuse
writes from connections that are not ChronoDB's; 8: a transaction's id is its time, most
write no record (``timeline``), the history triggers are each connection's own TEMP
triggers (``tables.CURRENT_TX``), and stored guard triggers refuse other connections'
writes (``tables.WRITE_GUARD``); the ledger's leaves go on history rows (``tables.LEAF``);
9: history columns declare their table column's affinity and the catalog records each
column's collation (``versioning/columns.py``), so AS OF compares as the table does; each
view's definitions are recorded over time (``versioning/views.py``), and a key that may hold
a NULL has a table of such keys (``tables.create_null_keys``)."""


def file_format(conn: sqlite3.Connection) -> int | None:
    """The file's format, or None for a file ChronoDB has not set up."""
    try:
        row = conn.execute(f"SELECT value FROM main.{META} WHERE key = 'format'").fetchone()
    except sqlite3.OperationalError:  # no catalog yet
        return None
    if row is None:
        return None
    try:
        return int(row[0])
    except (ValueError, TypeError) as err:
        raise CorruptDatabaseError(
            f"ChronoDB's metadata is damaged: {META}'s format is {row[0]!r}, not a number"
        ) from err


def upgrade(conn: sqlite3.Connection, catalog: Catalog) -> None:
    """Bring the file to :data:`FORMAT`; the caller holds the write transaction.

    The catalog's own tables (the marks among them) exist already: set-up creates them first.
    """
    found = file_format(conn) or 1
    if found < 2:
        for hist in {v.hist for v in catalog.versions}:
            conn.execute(f"DROP INDEX IF EXISTS {quote(births_index(hist))}")
    if found < 3:
        conn.execute(f"DROP INDEX IF EXISTS {OLD_TX_TIME_INDEX}")
        conn.execute(timeline.FILL)
    if found < 4:
        for name in OLD_MARK_TRIGGERS:
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
    if found < 9:
        _collations(conn, catalog)
        _typed_history(conn, catalog)
        _null_keys(conn, catalog)
        # The views' past definitions are unknown: today's count from the first transaction.
        views.record(conn, 0, 0)
    conn.execute(
        f"INSERT OR REPLACE INTO main.{META} (key, value) VALUES ('format', ?)", (str(FORMAT),)
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
        conn.execute(f"DROP TABLE IF EXISTS {quote(births_of(sv.hist))}")
        create_key_set(conn, sv.hist, sv.keys)


def _leaf_columns(conn: sqlite3.Connection, catalog: Catalog) -> None:
    """Give every history table the column the ledger's leaves go in (``tables.LEAF``)."""
    for hist in (sv.hist for sv in _histories(conn, catalog)):
        have = {r[1] for r in conn.execute(f"PRAGMA main.table_info({quote(hist)})")}
        if LEAF in have:
            raise ChronoDBError(
                f"history table {hist} has a column named {LEAF}; this ChronoDB needs that "
                "name for the audit ledger"
            )
        conn.execute(f"ALTER TABLE {quote(hist)} ADD COLUMN {LEAF} BLOB")


def _collations(conn: sqlite3.Connection, catalog: Catalog) -> None:
    """Record each column's collation in the catalog, as its live table declares it.

    A history column keeps its collation under renames (no ALTER TABLE changes one), so
    every shape of a live table takes its columns' from today's definition; a dropped
    table's definition is gone, and its columns read as BINARY.
    """
    declared: dict[str, str] = {}  # history column of a live table -> collation
    for sv in catalog.live_tables():
        found = table_collations(conn, sv.name)
        for c in sv.columns:
            declared[f"{sv.hist}.{c.hist}"] = found.get(c.name.lower(), BINARY)
    for sv in catalog.versions:
        columns = [
            [c.name, c.hist, c.decl_type, declared.get(f"{sv.hist}.{c.hist}", BINARY)]
            for c in sv.columns
        ]
        conn.execute(f"UPDATE {SCHEMA} SET columns = ? WHERE id = ?", (json.dumps(columns), sv.id))
    catalog.load(conn)


def _null_keys(conn: sqlite3.Connection, catalog: Catalog) -> None:
    """Give each live table whose key may hold a NULL its table of such keys.

    Files before format 9 refused a NULL in a key (the key set cannot hold one), so these
    tables start empty; without one, a NULL-holding key written later would have versions
    that no AS OF finds.
    """
    for sv in catalog.live_tables():
        if sv.hist not in catalog.null_keyed and nullable_key(conn, sv.name):
            create_null_keys(conn, sv.hist, sv.keys, key_types(sv))


def _typed_history(conn: sqlite3.Connection, catalog: Catalog) -> None:
    """Declare each history, key set and null keys column with its table column's affinity.

    The stored values already have it (they came from the table), so only the declarations
    change: SQLite cannot retype a column, but rewriting the CREATE TABLE text under
    ``writable_schema`` is safe when only declared types change and no stored value would
    convert (SQLite documents the same for removing a NOT NULL). A build that refuses it
    (defensive mode) gets the tables copied instead.
    """
    edits: list[tuple[str, str]] = []
    for sv in _histories(conn, catalog):
        types: dict[str, str] = {}  # newest shape wins: a type never changes, a column may go
        for shape in catalog.versions:
            if shape.hist == sv.hist:
                types.update({c.hist: history_type(c.decl_type) for c in shape.columns})
        edits.append((sv.hist, _history_sql(conn, sv.hist, types)))
        key_set = keys_of(sv.hist)
        key_sql = (
            f"CREATE TABLE {quote(key_set)} ({declare(sv.keys, key_types(sv))}, "
            f"PRIMARY KEY ({key_list(sv.keys)})) WITHOUT ROWID"
        )
        edits.append((key_set, key_sql))
        if sv.hist in catalog.null_keyed:  # a key that may hold a NULL (tables.nullable_key)
            held = null_keys_of(sv.hist)
            held_sql = (
                f"CREATE TABLE {quote(held)} ({declare(sv.keys, key_types(sv))}, "
                f"PRIMARY KEY ({key_list(sv.keys)}))"
            )
            edits.append((held, held_sql))
    if edits and not _rewrite_schema(conn, edits):
        for name, sql in edits:
            copy_table(conn, name, sql)


def _history_sql(conn: sqlite3.Connection, hist: str, types: dict[str, str]) -> str:
    """``hist``'s CREATE TABLE with ``types`` declared; every other clause as it is."""
    parts = []
    for _cid, name, decl, notnull, default, pk in conn.execute(f"PRAGMA table_info({quote(hist)})"):
        part = f"{quote(name)} {types.get(name, decl)}".rstrip()
        part += " PRIMARY KEY" * bool(pk) + " NOT NULL" * bool(notnull)
        part += f" DEFAULT {default}" if default is not None else ""
        parts.append(part)
    return f"CREATE TABLE {quote(hist)} ({', '.join(parts)})"


def _rewrite_schema(conn: sqlite3.Connection, edits: list[tuple[str, str]]) -> bool:
    """Put each ``(table, CREATE TABLE text)`` into sqlite_schema; False if SQLite refuses."""
    version = conn.execute("PRAGMA schema_version").fetchone()[0]
    conn.execute("PRAGMA writable_schema = ON")
    try:
        conn.executemany(
            "UPDATE sqlite_schema SET sql = ? WHERE type = 'table' AND name = ?",
            [(sql, name) for name, sql in edits],
        )
        conn.execute(f"PRAGMA schema_version = {version + 1}")
    except sqlite3.DatabaseError:
        return False
    finally:
        conn.execute("PRAGMA writable_schema = OFF")
    return True


def copy_table(conn: sqlite3.Connection, name: str, create_sql: str) -> None:
    """Remake table ``name`` as ``create_sql`` declares it, with its rows and indexes.

    ``create_sql`` must name the same columns in the same order; the rows keep their rowids.
    """
    indexes = conn.execute(
        "SELECT sql FROM sqlite_schema WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
        (name,),
    ).fetchall()
    scratch = f"{name}{COPY_SUFFIX}"
    head = f"CREATE TABLE {quote(name)} "
    assert create_sql.startswith(head), create_sql
    conn.execute(f"CREATE TABLE {quote(scratch)} {create_sql[len(head) :]}")
    conn.execute(f"INSERT INTO {quote(scratch)} SELECT * FROM {quote(name)}")
    conn.execute(f"DROP TABLE {quote(name)}")
    conn.execute(f"ALTER TABLE {quote(scratch)} RENAME TO {quote(name)}")
    for (sql,) in indexes:
        conn.execute(sql)
