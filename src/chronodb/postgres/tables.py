"""Versioning one PostgreSQL table: its history table, key index, triggers and adoption.

History is append-only and written by PL/pgSQL triggers in the database, so a write by any
client (psql, another application) is versioned, not only ChronoDB's own. The triggers are
statement-level with transition tables: one INSERT ... SELECT per statement writes all of
its versions (``benchmarks/pg_layout_bench.py`` compares them with row-level triggers).

    _chrono_seq   history order, from one shared sequence
    _chrono_xid   the writing transaction's xid8: its commit-order id is found through
                  ``_chrono_tx`` (written at commit, ``install.py``)
    _chrono_op    'I', 'U', or 'D' (a tombstone: key columns only)
    <columns>     the table's columns with their types, no constraints

Index: ``(key..., _chrono_seq)``. Row locks (and the primary key's uniqueness check) make
two transactions writing one key run that write one after the other, so along one key
history order is commit order; AS OF relies on that (``snapshots.py``).

A transaction that changes a key several times leaves one version per statement; readers
take the last one of each transaction (the newest in history order), as SQLite's upsert
keeps only that one.

A table needs a primary key. PostgreSQL has no stable row identity to key history by
otherwise: a ``ctid`` changes on every UPDATE and on VACUUM FULL, so unlike SQLite's rowid
it cannot say which row a version belongs to. Such a table is refused with a
:class:`~chronodb.errors.SchemaError` naming it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import psycopg

from chronodb.errors import SchemaError
from chronodb.postgres import shapes
from chronodb.postgres.digests import pinned, settings_clause, texts_function, version_json
from chronodb.postgres.install import (
    INSTALL_LOCK,
    install_shared,
    installed,
    qualified,
    queue_commit,
)
from chronodb.postgres.ledger import (
    TEXTS,
    literal,
    mark_notes,
    note_kind,
    note_kinds,
    note_versions,
    notes_current,
)
from chronodb.postgres.names import (
    CATALOG,
    NEW_ROWS,
    OLD_ROWS,
    OP,
    PREFIX,
    SEQ,
    SEQ_NEXT,
    SHAPES,
    XID,
    changed_of,
    digests_of,
    history_of,
    key_index_of,
    key_list,
    quote,
    seq_index_of,
    trigger_names,
)
from chronodb.postgres.rows import one
from chronodb.versioning.adoption import kinds as adoption_kinds


@dataclass(frozen=True)
class Versioned:
    """A versioned table: its name, schema, history table, key and columns (in order)."""

    schema: str
    table: str
    hist: str
    keys: tuple[str, ...]
    columns: tuple[str, ...]
    number: int = 0
    """The table's number in ``_chrono_versioned``: the ledger's table_id."""
    stored: tuple[str, ...] = ()
    """Each column's history column, in the same order (empty: the same names). A renamed
    column keeps its history column; an added one may get another name (``alter.py``)."""

    @property
    def history_columns(self) -> tuple[str, ...]:
        """The history column of each column, in table order."""
        return self.stored or self.columns

    def stored_of(self, column: str) -> str:
        """``column``'s history column."""
        return self.stored[self.columns.index(column)] if self.stored else column

    @property
    def history_keys(self) -> tuple[str, ...]:
        """The key's history columns, in key order."""
        return tuple(self.stored_of(k) for k in self.keys)


def _columns(conn: psycopg.Connection, schema: str, table: str) -> list[tuple[str, str]]:
    """(name, type) of ``table``'s columns, in order."""
    return conn.execute(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute AS a "
        "WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped "
        "ORDER BY a.attnum",
        (qualified(schema, table),),
    ).fetchall()


def _primary_key(conn: psycopg.Connection, schema: str, table: str) -> list[str]:
    """The primary key's columns of ``table``, in key order (empty without one)."""
    rows = conn.execute(
        "SELECT a.attname FROM pg_index AS i "
        "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) "
        "JOIN pg_attribute AS a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
        "WHERE i.indrelid = %s::regclass AND i.indisprimary ORDER BY k.n",
        (qualified(schema, table),),
    ).fetchall()
    return [r[0] for r in rows]


def exists(conn: psycopg.Connection, table: str, schema: str = "public") -> bool:
    """Whether ``schema`` holds a table, view or other relation named ``table``."""
    found = conn.execute("SELECT to_regclass(%s)", (qualified(schema, table),)).fetchone()
    return found is not None and found[0] is not None


def remember(conn: psycopg.Connection, v: Versioned) -> None:
    """Record in the catalog ``v``'s oid and its columns' attribute numbers, in order: the
    table as ChronoDB follows it, to tell a later change made outside ChronoDB by
    (``outside.py``; a column keeps its number through a rename, a new one gets a new)."""
    table = qualified(v.schema, v.table)
    conn.execute(
        f"UPDATE {qualified(v.schema, CATALOG)} SET rel = %s::regclass, attnums = ("
        "SELECT array_agg(a.attnum ORDER BY c.n) "
        "FROM unnest(%s::text[]) WITH ORDINALITY AS c(name, n) JOIN pg_attribute AS a "
        "ON a.attrelid = %s::regclass AND a.attname = c.name AND NOT a.attisdropped"
        ") WHERE number = %s",
        (table, list(v.columns), table, v.number),
    )


def lookup(conn: psycopg.Connection, table: str, schema: str = "public") -> Versioned | None:
    """The versioned table ``table``, or None if it is not versioned."""
    if not installed(conn, schema):
        return None
    row = conn.execute(
        f"SELECT hist, keys, number FROM {qualified(schema, CATALOG)} WHERE table_name = %s",
        (table,),
    ).fetchone()
    if row is None:
        return None
    shape = shapes.live(conn, schema, row[2])
    if not shape:  # recorded before shapes were (a read-only open of an older layout)
        columns = tuple(name for name, _ in _columns(conn, schema, table))
        return Versioned(schema, table, row[0], tuple(row[1]), columns, row[2])
    names = tuple(c for c, _, _ in shape)
    stored = tuple(h for _, h, _ in shape)
    return Versioned(
        schema, table, row[0], tuple(row[1]), names, row[2], () if stored == names else stored
    )


def install(
    conn: psycopg.Connection, schema: str = "public", *, ledger: bool = True, settle: bool = True
) -> None:
    """Create or upgrade ChronoDB's objects in ``schema``, in one transaction: the shared
    ones (``install.install_shared``, which says what ``ledger`` and ``settle`` leave out)
    and, where an older ChronoDB made the versioned tables' history triggers, noting a
    transaction's versions otherwise than the seal now reads them, every versioned table's
    triggers and ledger function (the seal's comment tells, ``ledger.NOTES``)."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (INSTALL_LOCK,))
        current = installed(conn, schema) and notes_current(conn, schema)
        install_shared(conn, schema, ledger=ledger, settle=settle)
        if not current:
            _renew(conn, schema, ledger)
            conn.execute(mark_notes(schema))


def _renew(conn: psycopg.Connection, schema: str, ledger: bool) -> None:
    """Make every versioned table's history triggers and ledger function anew, and drop
    the per-table digest functions of older layouts (by ctids)."""
    catalog, recorded = qualified(schema, CATALOG), qualified(schema, SHAPES)
    for (hist,) in conn.execute(
        f"SELECT hist FROM {catalog} UNION SELECT hist FROM {recorded}"
    ).fetchall():
        conn.execute(f"DROP FUNCTION IF EXISTS {qualified(schema, digests_of(hist))}(tid[])")
    names = conn.execute(
        f"SELECT table_name FROM {catalog} "
        "WHERE to_regclass(quote_ident(%s) || '.' || quote_ident(table_name)) IS NOT NULL",
        (schema,),
    ).fetchall()
    for (name,) in names:
        v = lookup(conn, name, schema)
        if v is None:
            continue
        columns = [(c, kind) for c, _, kind in shapes.live(conn, schema, v.number)]
        conn.execute(texts_function(schema, v.hist, _typed(v, columns)))
        for statement in trigger_ddl(v, columns, ledger=ledger):
            conn.execute(statement)


def version_table(
    conn: psycopg.Connection, table: str, schema: str = "public", *, ledger: bool = True
) -> Versioned:
    """Version ``table``: create its history and triggers, and adopt its rows.

    ``ledger=False``: its triggers note nothing for the ledger (for measuring its cost, with
    ``install(..., ledger=False)``).

    The rows already in the table become their first versions, written by this call's
    transaction (which gets an id at commit like any other; it records the table's first
    shape, ``shapes.py``). Everything happens in one
    transaction, with the table locked against writes, so no write falls between the copy
    and the triggers. Versioning a table again returns it unchanged.
    """
    if not installed(conn, schema):
        install_shared(conn, schema, ledger=ledger)
    with conn.transaction():
        target = qualified(schema, table)
        if not exists(conn, table, schema):
            raise SchemaError(f"no such table: {schema}.{table}", table=table)
        conn.execute(f"LOCK TABLE {target} IN SHARE ROW EXCLUSIVE MODE")
        found = lookup(conn, table, schema)
        if found is not None:
            return found
        keys = _primary_key(conn, schema, table)
        if not keys:
            raise SchemaError(
                f"table {schema}.{table} has no primary key; ChronoDB on PostgreSQL versions "
                "rows by their primary key (a ctid changes on every update): add one",
                table=table,
            )
        columns = _columns(conn, schema, table)
        taken = [name for name, _ in columns if name.startswith(PREFIX)]
        if taken:
            raise SchemaError(
                f"table {schema}.{table} has a column named {taken[0]}: names starting "
                f"with {PREFIX} are ChronoDB's own in history",
                table=table,
                column=taken[0],
            )
        catalog = qualified(schema, CATALOG)
        conn.execute(f"LOCK TABLE {catalog} IN EXCLUSIVE MODE")
        # Numbers are never reused: a dropped table keeps its history, and its number.
        (number,) = one(
            conn.execute(
                f"SELECT greatest((SELECT max(number) FROM {catalog}), "
                f"(SELECT max(number) FROM {qualified(schema, SHAPES)}), 0) + 1"
            )
        )
        versioned = Versioned(
            schema,
            table,
            history_of(number, table),
            tuple(keys),
            tuple(c for c, _ in columns),
            number,
        )
        for statement in history_ddl(versioned, columns):
            conn.execute(statement)
        for statement in trigger_ddl(versioned, columns, ledger=ledger):
            conn.execute(statement)
        conn.execute(adopt_sql(versioned, columns))
        conn.execute(
            f"INSERT INTO {catalog} (table_name, hist, keys, number) VALUES (%s, %s, %s, %s)",
            (table, versioned.hist, list(keys), number),
        )
        shapes.open_shape(
            conn,
            schema,
            number,
            table,
            versioned.hist,
            versioned.history_keys,
            [(c, c, kind) for c, kind in columns],
        )
        remember(conn, versioned)
        return versioned


def history_ddl(v: Versioned, columns: Sequence[tuple[str, str]]) -> list[str]:
    """CREATE statements for ``v``'s history table, its indexes, and its changed-keys
    function."""
    hist = qualified(v.schema, v.hist)
    stored = v.history_columns
    declared = ", ".join(f"{quote(stored[i])} {kind}" for i, (_, kind) in enumerate(columns))
    index = quote(key_index_of(v.hist))
    return [
        f"CREATE TABLE {hist} ("
        f"{SEQ} bigint NOT NULL DEFAULT nextval('{qualified(v.schema, SEQ_NEXT)}'), "
        f'{XID} xid8 NOT NULL, {OP} "char" NOT NULL, {declared})',
        f"CREATE INDEX {index} ON {hist} ({key_list(v.history_keys)}, {SEQ})",
        # History is appended in about the order of _chrono_seq: a BRIN index finds the
        # versions written since a point (snapshots.as_of) for next to nothing a write.
        f"CREATE INDEX {quote(seq_index_of(v.hist))} ON {hist} USING brin ({SEQ})",
        changed_function(v, columns),
        texts_function(v.schema, v.hist, _typed(v, columns)),
    ]


def _typed(v: Versioned, columns: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """(history column, type) of ``v``'s columns, from ``columns`` (name, type) in table
    order."""
    stored = v.history_columns
    return [(stored[i], kind) for i, (_, kind) in enumerate(columns)]


def changed_function(v: Versioned, columns: Sequence[tuple[str, str]]) -> str:
    """``_chrono_c{N}_t(lo)``: the keys of the versions numbered ``lo`` or more.

    A PL/pgSQL function, which the planner does not inline, declared to return few rows:
    AS OF a recent point the keys changed since are few, and an estimate of a third of
    history (the planner's for ``>=`` a value it cannot see) made it sort the whole table
    for the anti-join, and cross PostgreSQL's JIT threshold. The body names ``lo`` ``$1``:
    under ``use_column`` a history column of that name would win.
    """
    types = dict(columns)
    out = ", ".join(f"{quote(k)} {types[k]}" for k in v.keys)
    return (
        f"CREATE OR REPLACE FUNCTION {qualified(v.schema, changed_of(v.hist))}(lo bigint) "
        f"RETURNS TABLE ({out}) LANGUAGE plpgsql STABLE ROWS 100 AS $body$\n"
        "#variable_conflict use_column\nBEGIN\n"
        f"  RETURN QUERY SELECT DISTINCT {key_list(v.history_keys, 'h')} "
        f"FROM {qualified(v.schema, v.hist)} AS h WHERE h.{SEQ} >= $1;\nEND\n$body$"
    )


def _function(
    v: Versioned,
    name: str,
    write: str,
    typed: Sequence[tuple[str, str]],
    ledger: bool,
    dynamic: bool = False,
) -> str:
    """A trigger function running ``write`` (one INSERT into history, from ``_insert``),
    then, if it wrote a version, queuing the commit step. With the ``ledger`` it notes the
    statement's kind and the versions it wrote, as the canonical texts of the rows the
    INSERT returned (``typed``: the history columns and their types, ``ledger.py``), before
    queuing: under SET CONSTRAINTS ALL IMMEDIATE queuing runs the commit step, which seals
    them. ``dynamic``: ``write`` is a ``format`` string run by EXECUTE, with ``seq`` and
    ``xid`` as $1 and $2.

    The statement's versions share one number of history order: a statement writes each
    key once, and one ``nextval`` a statement instead of one a row is cheaper.
    """
    settings = settings_clause(typed) if ledger else ""
    if ledger:
        returned = version_json(v.schema, typed, _ALIAS)
        if dynamic:  # format() reads % itself: the JSON's own % signs are doubled
            returned = returned.replace("%", "%%")
        run = f"WITH w AS ({write} RETURNING {returned} AS j) SELECT count(*), {TEXTS} FROM w"
        run = (
            f"EXECUTE format({literal(run)}, TG_TABLE_SCHEMA, TG_TABLE_NAME) "
            "INTO written, texts USING seq, xid"
            if dynamic
            else f"{run} INTO written, texts"
        )
    elif dynamic:
        run = (
            f"EXECUTE format({literal(write)}, TG_TABLE_SCHEMA, TG_TABLE_NAME) USING seq, xid; "
            "GET DIAGNOSTICS written = ROW_COUNT"
        )
    else:
        run = f"{write}; GET DIAGNOSTICS written = ROW_COUNT"
    return (
        f"CREATE OR REPLACE FUNCTION {qualified(v.schema, name)}() RETURNS trigger "
        f"LANGUAGE plpgsql {settings} AS $body$\n{_VARIABLES_FIRST}\nDECLARE\n"
        f"  seq bigint := nextval('{qualified(v.schema, SEQ_NEXT)}');\n"
        f"  xid xid8 := pg_current_xact_id();\n  queued text;\n  written bigint;\n"
        f"  kinds text;\n  texts text;\nBEGIN\n  {run};\n"
        + (f"  {note_kind()};\n" if ledger else "")
        + "  IF written > 0 THEN\n"
        + (f"    {note_versions(v.number, 'texts', 'written', 'seq')};\n" if ledger else "")
        + f"    {queue_commit(v.schema, 'queued', 'seq')};\n  END IF;\n"
        "  RETURN NULL;\nEND\n$body$"
    )


# The history-writing blocks' variables (seq, xid, written, texts...) are named bare in
# their SQL; every user column there is qualified (n., o., h.), so a user column of the
# same name must not be taken for the variable.
_VARIABLES_FIRST = "#variable_conflict use_variable"

_ALIAS = "h"
"""The history table's alias in a history INSERT, which its RETURNING names."""


def _insert(v: Versioned, columns: Sequence[str]) -> str:
    """INSERT into history columns ``columns``; the SELECT that follows starts with ``seq,
    xid,`` (the trigger function's variables) and the version's op."""
    names = ", ".join([SEQ, XID, OP, *(quote(c) for c in columns)])
    return f"INSERT INTO {qualified(v.schema, v.hist)} AS {_ALIAS} ({names})"


def trigger_ddl(
    v: Versioned, columns: Sequence[tuple[str, str]], *, ledger: bool = True
) -> list[str]:
    """The trigger functions and statement-level triggers that write ``v``'s history
    (``columns``: its columns' (name, type) in table order, as for :func:`history_ddl`)."""
    typed = _typed(v, columns)
    target = qualified(v.schema, v.table)
    ai, au, ad, at = trigger_names(v.hist)
    cols = v.columns
    keyed = set(v.keys)
    everything = ", ".join(f"n.{quote(c)}" for c in cols)
    insert = (
        f"{_insert(v, v.history_columns)} SELECT seq, xid, 'I', {everything} FROM {NEW_ROWS} AS n"
    )
    # Old and new rows are paired by key: a key only in the new rows was inserted (by a key
    # change), one only in the old rows is gone (a tombstone), one in both was updated,
    # unless its row is byte for byte the same (*=, record image equality).
    # The transition tables' own names, not short aliases: a user column may be called "o"
    # or "n", and no column may take a _chrono_ name, so the whole-row references below are
    # never ambiguous.
    o, n = OLD_ROWS, NEW_ROWS
    first = quote(v.keys[0])
    same_key = " AND ".join(f"{o}.{quote(k)} = {n}.{quote(k)}" for k in v.keys)
    picked = ", ".join(
        f"coalesce({n}.{quote(c)}, {o}.{quote(c)})" if c in keyed else f"{n}.{quote(c)}"
        for c in cols
    )
    update = (
        f"{_insert(v, v.history_columns)} SELECT seq, xid, "
        f"CASE WHEN {n}.{first} IS NULL THEN 'D' WHEN {o}.{first} IS NULL THEN 'I' ELSE 'U' END, "
        f"{picked} FROM {o} FULL JOIN {n} ON {same_key} "
        f"WHERE {o}.{first} IS NULL OR {n}.{first} IS NULL OR NOT ({o} *= {n})"
    )
    tomb = f"{_insert(v, v.history_keys)} SELECT seq, xid, 'D', {key_list(v.keys, 'o')}"
    dynamic = (
        f"{_insert(v, v.history_keys)} SELECT $1, $2, 'D', {key_list(v.keys, 'o')} FROM %I.%I AS o"
    )
    statements = [
        _function(v, ai, insert, typed, ledger),
        _function(v, au, update, typed, ledger),
        _function(v, ad, f"{tomb} FROM {OLD_ROWS} AS o", typed, ledger),
        # TRUNCATE fires no DELETE trigger: tombstone every row before it goes. The table
        # is named by the trigger's arguments, so a renamed table still works.
        _function(v, at, dynamic, typed, ledger, dynamic=True),
    ]
    for name, when, refs in (
        (ai, "AFTER INSERT", f"REFERENCING NEW TABLE AS {NEW_ROWS}"),
        (au, "AFTER UPDATE", f"REFERENCING OLD TABLE AS {OLD_ROWS} NEW TABLE AS {NEW_ROWS}"),
        (ad, "AFTER DELETE", f"REFERENCING OLD TABLE AS {OLD_ROWS}"),
        (at, "BEFORE TRUNCATE", ""),
    ):
        statements.append(
            f"CREATE OR REPLACE TRIGGER {quote(name)} {when} ON {target} {refs} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {qualified(v.schema, name)}()"
        )
    return statements


def adopt_sql(v: Versioned, columns: Sequence[tuple[str, str]]) -> str:
    """Copy ``v``'s current rows into history as inserts, queuing the commit step if any
    (``columns``: as for :func:`trigger_ddl`).

    The ledger's kinds for the transaction are an adoption's on SQLite (``ADOPT``, ``TABLES
    1``); a table adopted with the ledger off gets them too, unread."""
    return copy_sql(v, columns, "I", ",".join(adoption_kinds([v.table])))


def copy_sql(
    v: Versioned, columns: Sequence[tuple[str, str]], op: str, kinds: str | None = None
) -> str:
    """Copy ``v``'s current rows into history as versions ``op`` of the open transaction,
    noting them for the ledger and queuing the commit step if any (``columns``: as for
    :func:`trigger_ddl`); ``kinds``: the ledger's kinds for the transaction, if they are to
    be set."""
    typed = _typed(v, columns)
    everything = ", ".join(f"o.{quote(c)}" for c in v.columns)
    copy = (
        f"WITH w AS ({_insert(v, v.history_columns)} SELECT seq, pg_current_xact_id(), "
        f"'{op}', {everything} FROM {qualified(v.schema, v.table)} AS o "
        f"RETURNING {version_json(v.schema, typed, _ALIAS)} AS j) "
        f"SELECT count(*), {TEXTS} FROM w INTO written, texts"
    )
    noted = f"{note_kinds(kinds)}; " if kinds is not None else ""
    return (
        f"DO $copy$ {_VARIABLES_FIRST}\n"
        "DECLARE queued text; kinds text; texts text; written bigint; "
        f"seq bigint := nextval('{qualified(v.schema, SEQ_NEXT)}'); BEGIN {pinned(typed, copy)}; "
        f"IF written > 0 THEN {noted}"
        f"{note_versions(v.number, 'texts', 'written', 'seq')}; "
        f"{queue_commit(v.schema, 'queued', 'seq')}; END IF; END $copy$"
    )
