"""System-versioning of SQLite tables: history tables, their indexes and triggers.

Every version of every row, the current one included, is a row of the table's history
table, written by triggers in the same SQLite transaction as the change. History is
append-only: a version ends where the key's next version begins, so a write costs one
insert, and AS OF a transaction is an index seek per key (never a scan of the versions).

    _chrono_seq  history order (the rowid)
    _chrono_tx   transaction that wrote the version (see ``_chrono_tx``)
    _chrono_op   'I' insert, 'U' update, 'D' delete (a tombstone)
    <columns>    the row's values; keys first. Each declares its table column's affinity
                 (``columns.history_type``), none a collation: history compares exactly

Writers are serialized and each new version gets the next rowid, so history order is
transaction order: ``_chrono_tx`` never decreases along ``_chrono_seq``. The versions of a
range of transactions are therefore one range of rowids, found by a binary search
(:func:`seq_after`) instead of through an index on ``_chrono_tx`` that every write would
pay for (it cost about a sixth of a versioned UPDATE and a page per commit).

Each history table has a companion, its *key set* (:func:`keys_of`): every key that has
history, once. AS OF reads it to list the keys, then seeks each one's newest version at or
before the point and drops the key if that is a tombstone (a key not yet inserted then has
no such version). The insert triggers add to it and an UPDATE does not touch it: as a
partial index on history, which it once was, SQLite opened it on every history insert
(about 5% of a versioned UPDATE). Until file format 6 it held one row per life of a key
(key, transaction of its insert), and AS OF paid a probe per key to keep only the last.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Callable, Sequence

from chronodb import layout
from chronodb.layout import (
    DEFAULT_PROBE,
    DELETED,
    HISTORY,
    INSERTED,
    LEAF,
    NOW,
    OP,
    PREFIX,
    ROWID_KEY,
    SCHEMA,
    SEQ,
    TX,
    UPDATED,
    WRITE_GUARD,
    guard_names,
    history,
    history_index,
    is_internal,
    keys_of,
    notes_of,
    null_keys_of,
)
from chronodb.versioning.catalog import Catalog, Column, SchemaVersion
from chronodb.versioning.columns import BINARY, affinity, collations, history_type
from chronodb.versioning.unique import other_uniques

CURRENT_TX = f"(SELECT tx FROM temp.{NOW})"
"""The open transaction, as the backend sets it in a one-row TEMP table of its connection.

Transactions write no record to read it from (``timeline``), and a Python function called
per history row costs a call into Python per row (sqlite3 takes the GIL back for each). A TEMP
table is the connection's own and costs no page of the file; the triggers that read it are
TEMP triggers, since a trigger stored in the file may not name a TEMP object."""
NOW_TABLE = (
    f"CREATE TEMP TABLE IF NOT EXISTS {NOW} (tx INTEGER)",
    f"INSERT INTO temp.{NOW} (tx) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM temp.{NOW})",
)
SET_NOW = f"UPDATE temp.{NOW} SET tx = ?"


def key_list(keys: Sequence[str], alias: str | None = None) -> str:
    """The quoted key columns, comma-separated (history and key set name them alike)."""
    prefix = "" if alias is None else f"{alias}."
    return ", ".join(prefix + quote(k) for k in keys)


def create_key_set(
    conn: sqlite3.Connection, hist: str, keys: Sequence[str], types: Sequence[str] = ()
) -> None:
    """Create ``hist``'s key set and fill it from the keys its history holds.

    ``types``: each key column's type as history declares it (``columns.history_type``).
    """
    keylist = key_list(keys)
    # Key columns declare history's types, so keys compare equal across the two tables and
    # AS OF reads them with the table's affinity; both stay BINARY. A key holding a NULL
    # (legal in SQLite's non-INTEGER primary keys) is not stored: it goes in the table
    # :func:`create_null_keys` makes.
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {quote(keys_of(hist))} ({declare(keys, types)}, "
        f"PRIMARY KEY ({keylist})) WITHOUT ROWID"
    )
    conn.execute(f"{_add_keys(hist, keys)} SELECT {keylist} FROM {qualified(hist)}")


def create_null_keys(
    conn: sqlite3.Connection, hist: str, keys: Sequence[str], types: Sequence[str] = ()
) -> None:
    """Create the table of ``hist``'s keys that hold a NULL, filled from its history.

    Made only for a table whose key may hold one (:func:`nullable_key`); a key set, WITHOUT
    ROWID, cannot. A rowid table, whose primary key takes NULLs (all different, as in any
    UNIQUE), so its trigger adds a key only if no row IS it. It is written only when a key
    holds a NULL: other writes pay the trigger's WHEN alone.
    """
    keylist = key_list(keys)
    table = quote(null_keys_of(hist))
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {table} ({declare(keys, types)}, PRIMARY KEY ({keylist}))"
    )
    some_null = " OR ".join(f"{quote(k)} IS NULL" for k in keys)
    conn.execute(
        f"INSERT INTO {table} ({keylist}) SELECT DISTINCT {keylist} FROM {qualified(hist)} "
        f"WHERE {some_null}"
    )


def nullable_key(conn: sqlite3.Connection, name: str) -> bool:
    """Whether table ``name``'s primary key may hold a NULL: a rowid table's key that is not
    the rowid, with a column not declared NOT NULL (a WITHOUT ROWID table refuses NULLs)."""
    info = conn.execute(f"PRAGMA main.table_info({quote(name)})").fetchall()
    pk = [r for r in info if r[5] > 0]
    if not pk or (len(pk) == 1 and pk[0][2].upper() == "INTEGER"):
        return False
    return has_rowid(conn, name) and any(not r[3] for r in pk)


def has_rowid(conn: sqlite3.Connection, name: str) -> bool:
    """Whether table ``name`` is a rowid table (not WITHOUT ROWID)."""
    listed = conn.execute(
        "SELECT wr FROM pragma_table_list WHERE schema = 'main' AND name = ? COLLATE NOCASE",
        (name,),
    ).fetchone()
    return not (listed and listed[0])


def declare(names: Sequence[str], types: Sequence[str]) -> str:
    """Column definitions: each quoted name with its type, if it has one."""
    typed = list(types) + [""] * (len(names) - len(types))
    return ", ".join(f"{quote(n)} {t}".rstrip() for n, t in zip(names, typed, strict=True))


def key_types(sv: SchemaVersion) -> list[str]:
    """The type history declares for each of ``sv``'s key columns."""
    if sv.keys == (ROWID_KEY,):
        return ["INTEGER"]
    by_hist = {c.hist: c for c in sv.columns}
    return [history_type(by_hist[k].decl_type) if k in by_hist else "" for k in sv.keys]


def _add_keys(hist: str, keys: Sequence[str]) -> str:
    """The head of an INSERT into ``hist``'s key set; a key already there is kept."""
    return f"INSERT OR IGNORE INTO {quote(keys_of(hist))} ({key_list(keys)})"


def seq_after(hist: str, tx_ref: str) -> str:
    """SQL for the first history position after the versions of transactions <= ``tx_ref``.

    A binary search over rowids (each probe one seek), valid because history order is
    transaction order: the versions of transactions ``(a, b]`` are the rows with
    ``seq_after(a) <= _chrono_seq < seq_after(b)``. ``hist`` is the quoted table name.
    The probe names the search's bounds ``s.lo`` and ``s.hi``: bare, a history column
    called ``lo`` or ``hi`` would be read instead.
    """
    mid = "(s.lo + s.hi) / 2"
    later = (
        f"coalesce((SELECT {TX} FROM {hist} WHERE {SEQ} >= {mid} ORDER BY {SEQ} LIMIT 1) "
        f"> {tx_ref}, 1)"
    )
    return (
        f"(WITH RECURSIVE s(lo, hi) AS (SELECT coalesce((SELECT min({SEQ}) FROM {hist}), 0), "
        f"coalesce((SELECT max({SEQ}) FROM {hist}), 0) + 1 UNION ALL "
        f"SELECT iif({later}, lo, {mid} + 1), iif({later}, {mid}, hi) FROM s WHERE lo < hi) "
        f"SELECT lo FROM s WHERE lo >= hi)"
    )


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def qualified(name: str) -> str:
    """The quoted name of a table in the file (``main``): a TEMP table of the same name,
    which SQLite would otherwise look in first, cannot stand in for it."""
    return "main." + quote(name)


def table_shape(conn: sqlite3.Connection, name: str) -> tuple[list[tuple[str, str]], list[str]]:
    """The table's visible columns (name, declared type) and its primary key columns."""
    info = conn.execute(f"PRAGMA main.table_xinfo({quote(name)})").fetchall()
    cols = [(r[1], r[2] or "") for r in info if r[6] != 1]
    pk = [r[1] for r in sorted((r for r in info if r[5] > 0), key=lambda r: r[5])]
    return cols, pk


def table_collations(conn: sqlite3.Connection, name: str) -> dict[str, str]:
    """The collations ``name``'s columns declare, by lowercased column name."""
    row = conn.execute(
        "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ? COLLATE NOCASE", (name,)
    ).fetchone()
    return collations(row[0]) if row is not None and row[0] else {}


def _fresh(name: str, taken: set[str]) -> str:
    base = name if not name.lower().startswith(PREFIX) else f"c_{name}"
    candidate, n = base, 1
    while candidate.lower() in taken:
        n += 1
        candidate = f"{base}_{n}"
    taken.add(candidate.lower())
    return candidate


def _insert_version(conn: sqlite3.Connection, sv: SchemaVersion, tx: int, us: int) -> SchemaVersion:
    cur = conn.execute(
        f"INSERT INTO main.{SCHEMA} (table_id, name, hist, keys, columns, from_tx, from_us) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            sv.table_id,
            sv.name,
            sv.hist,
            json.dumps(list(sv.keys)),
            json.dumps([[c.name, c.hist, c.decl_type, c.collation] for c in sv.columns]),
            tx,
            us,
        ),
    )
    return SchemaVersion(
        cur.lastrowid or 0, sv.table_id, sv.name, sv.hist, sv.keys, sv.columns, tx, us, None, None
    )


def close_version(conn: sqlite3.Connection, sv: SchemaVersion, tx: int, us: int) -> None:
    conn.execute(f"UPDATE main.{SCHEMA} SET to_tx = ?, to_us = ? WHERE id = ?", (tx, us, sv.id))


BATCH_ROWS = 50_000
"""Rows a table's first versions are copied in at a time when progress is reported."""


def _copy_in_batches(
    conn: sqlite3.Connection, name: str, copy: str, tx: int, on_rows: Callable[[int], None]
) -> None:
    """Run ``copy`` (an INSERT ... SELECT from table ``name``) over rowid ranges of
    :data:`BATCH_ROWS` rows, calling ``on_rows`` with each range's count."""
    last: int | None = None
    while True:
        bound = conn.execute(
            f"SELECT max(rowid), count(*) FROM (SELECT rowid FROM {qualified(name)} "
            "WHERE ?1 IS NULL OR rowid > ?1 ORDER BY rowid LIMIT ?2)",
            (last, BATCH_ROWS),
        ).fetchone()
        if not bound[1]:
            return
        where = "rowid <= ?2" if last is None else "rowid > ?3 AND rowid <= ?2"
        args = (tx, bound[0]) if last is None else (tx, bound[0], last)
        conn.execute(f"{copy.replace('SELECT ?,', 'SELECT ?1,')} WHERE {where}", args)
        on_rows(bound[1])
        last = bound[0]


def create_history(
    conn: sqlite3.Connection, hist: str, keys: Sequence[str], columns: Sequence[tuple[str, str]]
) -> None:
    """History table ``hist`` and its unique (key, transaction) index: ``columns`` are
    (history column, the table column's declared type); ``keys`` the key's history columns,
    or the rowid's (:data:`ROWID_KEY`)."""
    key_defs = [f"{ROWID_KEY} INTEGER"] if tuple(keys) == (ROWID_KEY,) else []
    # Each column declares its table column's affinity (see versioning/columns.py).
    col_defs = [f"{quote(c)} {history_type(decl)}".rstrip() for c, decl in columns]
    conn.execute(
        f"CREATE TABLE {quote(hist)} ({SEQ} INTEGER PRIMARY KEY, {TX} INTEGER, "
        f"{OP} TEXT, " + ", ".join(key_defs + col_defs) + f", {LEAF} BLOB)"
    )
    conn.execute(
        f"CREATE UNIQUE INDEX {quote(history_index(hist))} ON {quote(hist)} "
        f"({key_list(keys)}, {TX})"
    )


def create_table_sql(version: SchemaVersion) -> str:
    """A CREATE TABLE statement for a table's shape: its columns' declared types and
    collations, and its key."""
    parts = []
    for column in version.columns:
        part = quote(column.name)
        if column.decl_type:
            part += f" {column.decl_type}"
        if column.collated:
            part += f" COLLATE {quote(column.collation)}"
        parts.append(part)
    if version.key_columns:
        parts.append(f"PRIMARY KEY ({', '.join(quote(c.name) for c in version.key_columns)})")
    return f"CREATE TABLE {quote(version.name)} ({', '.join(parts)})"


def register_table(
    conn: sqlite3.Connection,
    name: str,
    tx: int,
    us: int,
    on_rows: Callable[[int], None] | None = None,
) -> SchemaVersion:
    """Start versioning an existing table: history table, indexes, triggers, first versions.

    ``on_rows``: called with the number of rows each batch of first versions copied.
    """
    cols, pk = table_shape(conn, name)
    next_id = f"SELECT coalesce(max(table_id), 0) + 1 FROM main.{SCHEMA}"
    table_id = conn.execute(next_id).fetchone()[0]
    hist = history(table_id, name)
    taken = {TX.lower(), OP.lower(), SEQ, LEAF, ROWID_KEY}
    collated = table_collations(conn, name)
    columns = tuple(
        Column(c, _fresh(c, taken), t, collated.get(c.lower(), BINARY)) for c, t in cols
    )
    by_name = {c.name: c for c in columns}
    keys = tuple(by_name[p].hist for p in pk) if pk else (ROWID_KEY,)
    create_history(conn, hist, keys, [(c.hist, c.decl_type) for c in columns])
    sv = _insert_version(
        conn, SchemaVersion(0, table_id, name, hist, keys, columns, tx, us, None, None), tx, us
    )
    # Rows already in the table (CREATE TABLE ... AS SELECT, or a file made before ChronoDB).
    src = ", ".join(["rowid"] * (not pk) + [quote(c.name) for c in columns])
    dst = ", ".join([ROWID_KEY] * (not pk) + [quote(c.hist) for c in columns])
    copy = (
        f"INSERT INTO {qualified(hist)} ({TX}, {OP}, {dst}) SELECT ?, '{INSERTED}', {src} "
        f"FROM {qualified(name)}"
    )
    if on_rows is None or not has_rowid(conn, name):
        copied = conn.execute(copy, (tx,)).rowcount
        if on_rows is not None:
            on_rows(copied)
    else:
        _copy_in_batches(conn, name, copy, tx, on_rows)
    create_key_set(conn, hist, keys, key_types(sv))
    if nullable_key(conn, name):
        create_null_keys(conn, hist, keys, key_types(sv))
    create_guard(conn, sv)
    create_triggers(conn, sv)
    return sv


def new_shape(
    conn: sqlite3.Connection,
    old: SchemaVersion,
    name: str,
    renamed: dict[str, str],
    tx: int,
    us: int,
) -> SchemaVersion:
    """Record the table's shape after an ALTER TABLE; history columns follow renames."""
    cols, _pk = table_shape(conn, name)
    prior = {c.name.lower(): c for c in old.columns}
    for before, after in renamed.items():
        if before.lower() in prior:
            prior[after.lower()] = prior.pop(before.lower())
    hist_cols = {r[1].lower() for r in conn.execute(f"PRAGMA main.table_info({quote(old.hist)})")}
    taken = set(hist_cols) | {ROWID_KEY}
    columns = []
    info = {r[1]: r for r in conn.execute(f"PRAGMA main.table_xinfo({quote(name)})")}
    collated = table_collations(conn, name)
    for cname, ctype in cols:
        collation = collated.get(cname.lower(), BINARY)
        known = prior.get(cname.lower())
        if known is not None:
            columns.append(Column(cname, known.hist, ctype, collation))
            continue
        hist_col = _fresh(cname, taken)
        default = stored_default(conn, ctype, info[cname][4])
        extra = f" DEFAULT {default}" if default is not None else ""
        declared = f"{quote(hist_col)} {history_type(ctype)}".rstrip()
        conn.execute(f"ALTER TABLE {quote(old.hist)} ADD COLUMN {declared}{extra}")
        columns.append(Column(cname, hist_col, ctype, collation))
    close_version(conn, old, tx, us)
    shaped = SchemaVersion(
        0, old.table_id, name, old.hist, old.keys, tuple(columns), tx, us, None, None
    )
    return _insert_version(conn, shaped, tx, us)


def stored_default(conn: sqlite3.Connection, decl_type: str, default: str | None) -> str | None:
    """A literal of exactly the value a column declared ``decl_type DEFAULT default`` stores.

    Rows already in a table when ALTER TABLE adds a column read its default with the
    column's affinity applied ('3' for ``TEXT DEFAULT 3``, 1.0 for ``REAL DEFAULT 1``); their
    history has no version since, so the history column's default must be that value, with
    that storage class, whatever affinity the history column has. SQLite itself says what
    it stores: a scratch TEMP table with such a column takes one row of defaults.
    """
    if default is None:
        return None
    probe = DEFAULT_PROBE
    conn.execute(f"DROP TABLE IF EXISTS temp.{probe}")
    conn.execute(f"CREATE TEMP TABLE {probe} (c {decl_type} DEFAULT {default})")
    try:
        conn.execute(f"INSERT INTO temp.{probe} DEFAULT VALUES")
        value, literal = conn.execute(f"SELECT c, quote(c) FROM temp.{probe}").fetchone()
    finally:
        conn.execute(f"DROP TABLE temp.{probe}")
    if isinstance(value, float):
        # quote() may print a REAL with too few digits to read back, and ALTER TABLE stores
        # an integral REAL literal as an INTEGER in a column without affinity: a CAST keeps
        # it REAL, and repr's digits read back exactly.
        digits = repr(value) if math.isfinite(value) else f"{'-' * (value < 0)}9e999"
        literal = f"(CAST({digits} AS REAL))"
    return literal


def _upsert(sv: SchemaVersion, op: str, row: str, cols: Sequence[Column]) -> str:
    """One history write; a second change to a key in the same transaction replaces the first."""
    keys = [ROWID_KEY] if sv.keys == (ROWID_KEY,) else []
    names = [TX, OP] + keys + [quote(c.hist) for c in cols]
    values = (
        [CURRENT_TX, f"'{op}'"]
        + [f"{row}.rowid"] * len(keys)
        + [f"{row}.{quote(c.name)}" for c in cols]
    )
    keylist = key_list(sv.keys)
    sets = [
        f"{OP} = CASE WHEN {OP} = '{INSERTED}' AND excluded.{OP} = '{UPDATED}' THEN '{INSERTED}' "
        f"ELSE excluded.{OP} END"
    ]
    sets += [f"{quote(c.hist)} = excluded.{quote(c.hist)}" for c in cols if c.hist not in sv.keys]
    return (
        f"INSERT INTO {quote(sv.hist)} ({', '.join(names)}) VALUES ({', '.join(values)}) "
        f"ON CONFLICT ({keylist}, {TX}) DO UPDATE SET {', '.join(sets)} "
        f"WHERE {_still_so(sv, op, cols)};"
    )


def _still_so(sv: SchemaVersion, op: str, cols: Sequence[Column]) -> str:
    """SQL true when the table still holds what a rewrite of a key's version says (``excluded``).

    Checked only when a transaction writes a key's version again. A trigger of the user's
    that SQLite runs before this one (a TEMP trigger of theirs may come first) can change
    the row further; the history write of that change came first, and this one, with the
    row as it was, must not overwrite it. A write that is no longer so is dropped: an 'I' or
    'U' unless the row is there with exactly these values, a 'D' while the key is there.
    """
    same = [_holds(sv, "excluded")]
    if op != DELETED:
        keyed = {c.name for c in sv.key_columns}
        same += [
            f"NOT ({differs(f'o.{quote(c.name)}', f'excluded.{quote(c.hist)}', c)})"
            for c in cols
            if c.name not in keyed
        ]
    there = f"EXISTS (SELECT 1 FROM main.{quote(sv.name)} AS o WHERE {' AND '.join(same)})"
    return f"NOT {there}" if op == DELETED else there


def _holds(sv: SchemaVersion, keys: str) -> str:
    """SQL true when table row ``o`` has exactly the key of history row ``keys`` (an alias).

    ``IS`` finds it through the table's key (a NULL in a composite key included), under the
    key's collation; the exact test then tells 'abc' from 'ABC' under NOCASE.
    """
    return " AND ".join(
        f"{o} IS {k} AND NOT ({differs(o, k, c)})"
        for o, k, c in zip(
            _key_exprs(sv, "o"), [f"{keys}.{quote(k)}" for k in sv.keys], _key_cols(sv), strict=True
        )
    )


def _key_exprs(sv: SchemaVersion, row: str) -> list[str]:
    if sv.keys == (ROWID_KEY,):
        return [f"{row}.rowid"]
    return [f"{row}.{quote(c.name)}" for c in sv.key_columns]


def _key_cols(sv: SchemaVersion) -> tuple[Column, ...]:
    """The key's columns, as :func:`_key_exprs` names them (the rowid is an INTEGER)."""
    return sv.key_columns or (Column("rowid", ROWID_KEY, "INTEGER"),)


def _add_key(sv: SchemaVersion, nullable: bool) -> str:
    """Add NEW's key to the key set (once, however often it is inserted).

    ``ON CONFLICT DO NOTHING``, not ``OR IGNORE``: a statement's own conflict resolution
    (``INSERT OR ABORT``, ``OR REPLACE``...) overrides a trigger's ``OR`` clause, and a key
    inserted again would fail the key set's uniqueness. An upsert clause is kept. A key that
    may hold a NULL (``nullable``) goes in only without one: the key set refuses NULLs.
    """
    values = ", ".join(_key_exprs(sv, "NEW"))
    head = f"INSERT INTO {quote(keys_of(sv.hist))} ({key_list(sv.keys)})"
    if not nullable:
        return f"{head} VALUES ({values}) ON CONFLICT DO NOTHING;"
    no_null = " AND ".join(f"{v} IS NOT NULL" for v in _key_exprs(sv, "NEW"))
    return f"{head} SELECT {values} WHERE {no_null} ON CONFLICT DO NOTHING;"


def _add_null_key(sv: SchemaVersion) -> tuple[str, str]:
    """(WHEN, body) of a trigger adding NEW's key to the null keys (:func:`create_null_keys`)."""
    values = _key_exprs(sv, "NEW")
    when = " OR ".join(f"{v} IS NULL" for v in values)
    same = " AND ".join(f"{quote(k)} IS {v}" for k, v in zip(sv.keys, values, strict=True))
    table = quote(null_keys_of(sv.hist))
    return when, (
        f"INSERT INTO {table} ({key_list(sv.keys)}) SELECT {', '.join(values)} "
        f"WHERE NOT EXISTS (SELECT 1 FROM {table} WHERE {same});"
    )


def _compares_as_bytes(column: Column) -> bool:
    """Whether the column's affinity is TEXT or BLOB (SQLite's rules on the declared type).

    The update trigger tests numeric columns first: two numbers compare faster than two
    strings, and its OR of "changed" tests stops at the first that holds.
    """
    return affinity(column.decl_type) in ("TEXT", "BLOB")


def differs(old: str, new: str, column: Column) -> str:
    """SQL true when ``old`` and ``new`` are not the very same value of ``column``.

    Exact, as history must be: BINARY whatever the column's collation ('alice' and 'ALICE'
    differ under NOCASE too), and, where the column has no affinity to give both one
    storage class, the storage class as well (5 and 5.0 compare equal). A numeric or TEXT
    affinity stores equal numbers in one class, so those columns pay only the comparison.
    """
    test = f"{old} IS NOT {new} COLLATE BINARY"
    if affinity(column.decl_type) == "BLOB":
        test += f" OR typeof({old}) IS NOT typeof({new})"
    return test


def trigger_names(sv: SchemaVersion) -> list[str]:
    """The history triggers' names: the first four on every table, the next four only on
    tables :func:`_replaced` covers, the last two on those with null keys."""
    return layout.trigger_names(sv.hist)


def _replaced(conn: sqlite3.Connection, sv: SchemaVersion) -> None:
    """Tombstone the rows REPLACE removes through a UNIQUE constraint other than the key.

    With ``recursive_triggers`` off, as in plain SQLite (a user's triggers then behave as
    they do there), such a deletion fires no delete trigger. For a table with such
    constraints (``unique.other_uniques``), a BEFORE trigger notes the keys of the rows the
    new row conflicts with, and the AFTER trigger tombstones those no longer in the table,
    then clears the note (a row an OR IGNORE skipped fires no AFTER trigger: the next
    BEFORE clears its note). Other tables get neither trigger.
    """
    uniques = other_uniques(conn, sv.name)
    if not uniques:
        return
    t = "main." + quote(sv.name)
    keylist = key_list(sv.keys)
    # Named bare: a trigger may not qualify the table it writes; a TEMP table comes first.
    note = quote(notes_of(sv.hist))
    conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {note} ({keylist})")
    rowid = sv.keys == (ROWID_KEY,) or has_rowid(conn, sv.name)
    if rowid:
        other_row = "o.rowid IS NOT OLD.rowid"
    else:
        other_row = (
            "NOT ("
            + " AND ".join(
                f"{o} IS {n}"
                for o, n in zip(_key_exprs(sv, "o"), _key_exprs(sv, "OLD"), strict=True)
            )
            + ")"
        )

    def noting(extra: str) -> str:
        return " ".join(
            f"INSERT INTO {note} ({keylist}) SELECT {', '.join(_key_exprs(sv, 'o'))} "
            f"FROM {t} AS o WHERE {u.match('o', 'NEW')}{extra};"
            for u in uniques
        )

    tombstones = (
        f"INSERT INTO {quote(sv.hist)} ({TX}, {OP}, {keylist}) "
        f"SELECT {CURRENT_TX}, '{DELETED}', {key_list(sv.keys, 'n')} FROM {note} AS n "
        f"WHERE NOT EXISTS (SELECT 1 FROM {t} AS o WHERE {_holds(sv, 'n')}) "
        f"ON CONFLICT ({keylist}, {TX}) DO UPDATE SET {OP} = excluded.{OP}; DELETE FROM {note};"
    )
    read = sorted({name.lower(): name for u in uniques for name in u.columns}.values())
    of = ", ".join(quote(name) for name in read)
    bi, bu, ri, ru = (quote(n) for n in trigger_names(sv)[4:8])
    conn.execute(
        f"CREATE TEMP TRIGGER {bi} BEFORE INSERT ON {t} BEGIN DELETE FROM {note}; {noting('')} END"
    )
    # Most writes conflict with nothing: the WHEN, run in the statement itself, spares them
    # the trigger's body.
    noted = f"EXISTS (SELECT 1 FROM temp.{note})"
    conn.execute(
        f"CREATE TEMP TRIGGER {ri} AFTER INSERT ON {t} WHEN {noted} BEGIN {tombstones} END"
    )
    conn.execute(
        f"CREATE TEMP TRIGGER {bu} BEFORE UPDATE OF {of} ON {t} "
        f"BEGIN DELETE FROM {note}; {noting(f' AND {other_row}')} END"
    )
    conn.execute(
        f"CREATE TEMP TRIGGER {ru} AFTER UPDATE OF {of} ON {t} WHEN {noted} BEGIN {tombstones} END"
    )


def create_triggers(conn: sqlite3.Connection, sv: SchemaVersion) -> None:
    """Version ``sv``'s table on this connection (TEMP triggers: see ``CURRENT_TX``)."""
    t = "main." + quote(sv.name)
    cols = sv.columns
    key_cols = sv.key_columns
    tomb = [c for c in key_cols]
    moved = " OR ".join(
        f"({differs(o, n, c)})"
        for o, n, c in zip(_key_exprs(sv, "OLD"), _key_exprs(sv, "NEW"), _key_cols(sv), strict=True)
    )
    # Key columns are not tested: a changed key is the "ak" trigger's (a delete and an insert).
    keyed = {c.name for c in key_cols}
    tested = sorted((c for c in cols if c.name not in keyed), key=_compares_as_bytes)
    changed = " OR ".join(
        differs(f"OLD.{quote(c.name)}", f"NEW.{quote(c.name)}", c) for c in tested
    )
    changed = changed or "0"
    add_key = _add_key(sv, nullable_key(conn, sv.name))
    ai, au, ak, ad = (quote(n) for n in trigger_names(sv)[:4])
    conn.execute(
        f"CREATE TEMP TRIGGER {ai} AFTER INSERT ON {t} "
        f"BEGIN {_upsert(sv, INSERTED, 'NEW', cols)} {add_key} END"
    )
    # A key change that changes other columns too fires this one as well; its 'U' for the
    # new key is overwritten by the 'I' of the trigger below, in either order (see _upsert).
    conn.execute(
        f"CREATE TEMP TRIGGER {au} AFTER UPDATE ON {t} WHEN {changed} "
        f"BEGIN {_upsert(sv, UPDATED, 'NEW', cols)} END"
    )
    # A key changes only when the UPDATE names a key column or the rowid (by any of its
    # names; SQLite matches the list by name): for every other UPDATE, SQLite leaves this
    # trigger out of the statement.
    of_names: dict[str, str] = {}
    for name in [c.name for c in key_cols] + ["rowid", "oid", "_rowid_"]:
        of_names.setdefault(name.lower(), quote(name))
    conn.execute(
        f"CREATE TEMP TRIGGER {ak} AFTER UPDATE OF {', '.join(of_names.values())} ON {t} "
        f"WHEN {moved} BEGIN "
        f"{_upsert(sv, DELETED, 'OLD', tomb)} {_upsert(sv, INSERTED, 'NEW', cols)} {add_key} END"
    )
    conn.execute(
        f"CREATE TEMP TRIGGER {ad} AFTER DELETE ON {t} "
        f"BEGIN {_upsert(sv, DELETED, 'OLD', tomb)} END"
    )
    _replaced(conn, sv)
    null_keys = conn.execute(
        "SELECT 1 FROM main.sqlite_schema WHERE type = 'table' AND name = ?",
        (null_keys_of(sv.hist),),
    ).fetchone()
    if null_keys:
        ni, nk = (quote(n) for n in trigger_names(sv)[8:])
        when, body = _add_null_key(sv)
        conn.execute(f"CREATE TEMP TRIGGER {ni} AFTER INSERT ON {t} WHEN {when} BEGIN {body} END")
        conn.execute(
            f"CREATE TEMP TRIGGER {nk} AFTER UPDATE OF {', '.join(of_names.values())} ON {t} "
            f"WHEN ({moved}) AND ({when}) BEGIN {body} END"
        )


def drop_triggers(conn: sqlite3.Connection, sv: SchemaVersion, schema: str = "temp") -> None:
    """Drop ``sv``'s triggers from this connection (or, ``schema="main"``, from the file,
    where files before format 8 kept them)."""
    for name in trigger_names(sv):
        conn.execute(f"DROP TRIGGER IF EXISTS {schema}.{quote(name)}")


def create_guard(conn: sqlite3.Connection, sv: SchemaVersion) -> None:
    """Refuse writes to ``sv``'s table from connections that are not ChronoDB's (see
    ``WRITE_GUARD``). Stored in the file, unlike the history triggers; they follow the table
    through ALTER TABLE and go with it on DROP TABLE.

    The condition compares NULL: SQLite needs the collation to compile it, and never calls
    it, since a comparison with NULL is decided without one (calling it would cost each
    written row a call into Python). Guards made earlier compare ``''`` and do call it;
    they refuse the same writes."""
    t = quote(sv.name)
    for name, event in zip(guard_names(sv.table_id), ("INSERT", "UPDATE", "DELETE"), strict=True):
        conn.execute(
            f"CREATE TRIGGER IF NOT EXISTS {quote(name)} BEFORE {event} ON {t} "
            f"WHEN NULL < '' COLLATE {WRITE_GUARD} BEGIN SELECT 1; END"
        )


def install_triggers(conn: sqlite3.Connection, catalog: Catalog) -> None:
    """Version every live table on this connection, as the catalog now describes them.

    SQLite drops a TEMP trigger itself when its table is dropped or renamed by another
    connection, but keeps its row in ``sqlite_temp_schema``, where it would come back to life
    on a new table of the old name. So each stale name is made once more (on the TEMP table
    ``_chrono_now``, if SQLite dropped it) and dropped: DROP TRIGGER removes every row of
    that name.
    """
    stale = conn.execute(
        "SELECT DISTINCT name FROM sqlite_temp_schema "
        f"WHERE type = 'trigger' AND name GLOB '{HISTORY}*'"
    ).fetchall()
    for (name,) in stale:
        conn.execute(
            f"CREATE TEMP TRIGGER IF NOT EXISTS {quote(name)} AFTER INSERT ON temp.{NOW} "
            "BEGIN SELECT 1; END"
        )
        conn.execute(f"DROP TRIGGER temp.{quote(name)}")
    for sv in catalog.live_tables():
        create_triggers(conn, sv)


SHADOW_SUFFIXES = ("data", "idx", "content", "docsize", "config", "node", "parent", "rowid")
"""The tables FTS5, FTS3/4 and R*Tree virtual tables keep their contents in, named after
the virtual table (``docs_data`` for ``docs``)."""


def unversionable_tables(conn: sqlite3.Connection) -> dict[str, str]:
    """The user's tables ChronoDB leaves unversioned, each with the reason.

    A virtual table runs its module's code instead of storing rows, and takes no trigger; its
    shadow tables are the module's own storage, written only through it.
    """
    listed = conn.execute(
        "SELECT name, type FROM pragma_table_list WHERE schema = 'main'"
    ).fetchall()
    virtual = [name for name, kind in listed if kind == "virtual"]
    skipped = {name: "virtual table (its module stores the rows)" for name in virtual}
    shadows = {f"{v}_{suffix}".lower(): v for v in virtual for suffix in SHADOW_SUFFIXES}
    for name, kind in listed:
        owner = shadows.get(name.lower())
        if kind == "shadow" or owner is not None:
            of = f" of {owner}" if owner is not None else ""
            skipped[name] = f"shadow table{of} (written only through its virtual table)"
    return {name: why for name, why in skipped.items() if not is_internal(name)}


def user_tables(conn: sqlite3.Connection) -> list[str]:
    """The user's tables that ChronoDB versions, in creation order."""
    rows = conn.execute(
        "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY rowid"
    ).fetchall()
    skipped = {name.lower() for name in unversionable_tables(conn)}
    return [r[0] for r in rows if not is_internal(r[0]) and r[0].lower() not in skipped]


def unversioned_tables(conn: sqlite3.Connection, catalog: Catalog) -> list[str]:
    return [name for name in user_tables(conn) if catalog.current(name) is None]
