"""Following ALTER TABLE and DROP TABLE of versioned PostgreSQL tables.

:func:`before` notes each versioned table's identity (its oid) and columns (by attribute
number) before a statement; :func:`follow`, after it, in the same transaction, compares:

- a table gone is dropped: its shape ends, its catalog row and trigger functions go; its
  history, digest function and number stay, so it reads AS OF before the drop, its ledger
  verifies, and a new table of the same name starts a life of its own;
- a table whose name or columns changed gets a new shape (``shapes.py``). A column keeps
  its attribute number through RENAME COLUMN and ALTER COLUMN TYPE, which is how a rename
  is told from a drop and an add: a renamed column keeps its history column; an added one,
  or one of a new type, gets a fresh history column, so the versions before keep the values
  and types they had. A column added with a DEFAULT that PostgreSQL gives existing rows
  without writing them (a non-volatile one) reads that default in history too, as the table
  does. The triggers, the changed-keys function and the ledger's digest function are made
  again for the new columns.
- a statement that gave every row a value of its own (ALTER COLUMN TYPE converts each
  row's; a volatile DEFAULT, such as ``clock_timestamp()``, is computed for each) writes a
  version of every row ('U'), in its transaction: the rows changed. Versions from before
  keep the old column and type, so a range over the new shape reads NULL there for them.

The primary key keys history, so a statement changing it (or its columns' types) is
refused with a SchemaError, as is a column named as ChronoDB's own (``_chrono_``); the
statement is then undone with the transaction (or the savepoint) it ran in.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from chronodb.errors import SchemaError
from chronodb.postgres import shapes
from chronodb.postgres.digests import texts_function
from chronodb.postgres.ledger import renote
from chronodb.postgres.names import (
    CATALOG,
    NAME_BYTES,
    PREFIX,
    changed_of,
    qualified,
    quote,
    trigger_names,
)
from chronodb.postgres.tables import (
    Versioned,
    changed_function,
    copy_sql,
    lookup,
    remember,
    trigger_ddl,
)

_ATTRIBUTES = (
    "SELECT a.attnum, a.attname, format_type(a.atttypid, a.atttypmod), a.atthasmissing, "
    "pg_get_expr(d.adbin, d.adrelid) FROM pg_attribute AS a "
    "LEFT JOIN pg_attrdef AS d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
    "WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum"
)
_KEY = (
    "SELECT array_agg(k.attnum ORDER BY k.n) FROM pg_index AS i "
    "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) "
    "WHERE i.indrelid = %s AND i.indisprimary"
)


@dataclass(frozen=True)
class Table:
    """A versioned table as it is before a statement."""

    v: Versioned
    oid: int
    columns: dict[int, tuple[str, str]]  # attribute number -> (name, type)
    key: tuple[int, ...]  # the primary key's attribute numbers


def _attributes(conn: psycopg.Connection, oid: int) -> list[tuple[int, str, str, bool, str]]:
    return [tuple(r) for r in conn.execute(_ATTRIBUTES, (oid,)).fetchall()]


def _key(conn: psycopg.Connection, oid: int) -> tuple[int, ...]:
    row = conn.execute(_KEY, (oid,)).fetchone()
    return tuple(row[0] or ()) if row is not None else ()


def before(conn: psycopg.Connection, schema: str) -> list[Table]:
    """The versioned tables of ``schema`` now, to compare with after a statement."""
    found = []
    rows = conn.execute(
        f"SELECT table_name, to_regclass(quote_ident(%s) || '.' || quote_ident(table_name))"
        f"::oid FROM {qualified(schema, CATALOG)} ORDER BY number",
        (schema,),
    ).fetchall()
    for name, oid in rows:
        v = lookup(conn, name, schema)
        if oid is None or v is None:
            continue
        columns = {num: (col, kind) for num, col, kind, _, _ in _attributes(conn, oid)}
        found.append(Table(v, oid, columns, _key(conn, oid)))
    return found


def recorded(conn: psycopg.Connection, schema: str) -> list[Table]:
    """The versioned tables of ``schema`` as ChronoDB last followed them (their oid and
    attribute numbers in the catalog, ``tables.remember``), to compare with now after
    statements run outside ChronoDB."""
    found = []
    rows = conn.execute(
        f"SELECT table_name, rel, attnums FROM {qualified(schema, CATALOG)} "
        "WHERE rel IS NOT NULL AND attnums IS NOT NULL ORDER BY number"
    ).fetchall()
    for name, rel, attnums in rows:
        v = lookup(conn, name, schema)
        live = shapes.live(conn, schema, v.number) if v is not None else []
        if v is None or len(live) != len(attnums):
            continue
        columns = {num: (col, kind) for num, (col, _, kind) in zip(attnums, live, strict=True)}
        key = tuple(attnums[v.columns.index(k)] for k in v.keys)
        found.append(Table(v, rel, columns, key))
    return found


def follow(
    conn: psycopg.Connection, schema: str, tables: list[Table], *, outside: bool = False
) -> list[str]:
    """Record what a statement did to ``tables`` (from :func:`before`, or :func:`recorded`
    for statements run ``outside`` ChronoDB); returns the names (before the statement) of
    the tables it changed or dropped."""
    changed = []
    for table in tables:
        row = conn.execute(
            "SELECT relname FROM pg_class WHERE oid = %s AND relnamespace = %s::regnamespace",
            (table.oid, quote(schema)),
        ).fetchone()
        if row is None:
            _dropped(conn, table.v)
            changed.append(table.v.table)
        elif _reshaped(conn, table, row[0], outside):
            changed.append(table.v.table)
    return changed


def _dropped(conn: psycopg.Connection, v: Versioned) -> None:
    shapes.close_shape(conn, v.schema, v.number)
    conn.execute(f"DELETE FROM {qualified(v.schema, CATALOG)} WHERE number = %s", (v.number,))
    for name in trigger_names(v.hist):
        conn.execute(f"DROP FUNCTION IF EXISTS {qualified(v.schema, name)}()")


def _reshaped(conn: psycopg.Connection, table: Table, name: str, outside: bool) -> bool:
    """Give ``table`` its new shape if its name or columns changed; whether they did.

    A column added ``outside`` ChronoDB may have been written since, its values in no
    version: every row then gets a version of its own, with them."""
    v = table.v
    attributes = _attributes(conn, table.oid)
    if _key(conn, table.oid) != table.key:
        raise SchemaError(
            f"table {v.table}'s primary key cannot change: ChronoDB keeps its history by "
            "that key (create a new table and copy the rows instead)",
            table=v.table,
        )
    now = {num: (col, kind) for num, col, kind, _, _ in attributes}
    if name == v.table and list(now.items()) == list(table.columns.items()):
        return False
    retyped = [now[num][0] for num in table.key if now[num][1] != table.columns[num][1]]
    if retyped:
        raise SchemaError(
            f"the type of {v.table}'s key column {retyped[0]} cannot change: ChronoDB keeps "
            "the table's history by its key",
            table=v.table,
            column=retyped[0],
        )
    taken_names = [col for col, _ in now.values() if col.startswith(PREFIX)]
    if taken_names:
        raise SchemaError(
            f"table {v.table} cannot have a column named {taken_names[0]}: names starting "
            f"with {PREFIX} are ChronoDB's own in history",
            table=v.table,
            column=taken_names[0],
        )
    hist = qualified(v.schema, v.hist)
    taken = {
        r[0]
        for r in conn.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0",
            (hist,),
        )
    }
    was = {num: v.stored_of(col) for num, (col, _) in table.columns.items() if col in v.columns}
    columns: list[tuple[str, str, str]] = []
    rewritten = False  # whether the statement gave existing rows values of their own
    for num, col, kind, missing, default in attributes:
        if num in was and table.columns[num][1] == kind:
            columns.append((col, was[num], kind))
            continue
        stored = _fresh(col, taken)
        taken.add(stored)
        rewritten = rewritten or outside or num in was or (default is not None and not missing)
        if missing and default is not None:
            # Existing rows read the default without being written: so do past versions.
            # The default is dropped at once so that a tombstone's column stays NULL.
            conn.execute(f"ALTER TABLE {hist} ADD COLUMN {quote(stored)} {kind} DEFAULT {default}")
            conn.execute(f"ALTER TABLE {hist} ALTER COLUMN {quote(stored)} DROP DEFAULT")
        else:
            conn.execute(f"ALTER TABLE {hist} ADD COLUMN {quote(stored)} {kind}")
        columns.append((col, stored, kind))
    names = tuple(c for c, _, _ in columns)
    stored_names = tuple(h for _, h, _ in columns)
    keys = tuple(now[num][0] for num in table.key)
    new = Versioned(
        v.schema,
        name,
        v.hist,
        keys,
        names,
        v.number,
        () if stored_names == names else stored_names,
    )
    conn.execute(
        f"UPDATE {qualified(v.schema, CATALOG)} SET table_name = %s, keys = %s WHERE number = %s",
        (name, list(keys), v.number),
    )
    shapes.close_shape(conn, v.schema, v.number)
    shapes.open_shape(conn, v.schema, v.number, name, v.hist, new.history_keys, columns)
    remember(conn, new)
    typed = [(c, kind) for c, _, kind in columns]
    # Its key columns may be named otherwise now: the function's result type changes.
    conn.execute(f"DROP FUNCTION IF EXISTS {qualified(v.schema, changed_of(v.hist))}(bigint)")
    conn.execute(changed_function(new, typed))
    conn.execute(texts_function(v.schema, v.hist, [(h, kind) for _, h, kind in columns]))
    for statement in trigger_ddl(new, typed):
        conn.execute(statement)
    # Versions this transaction wrote before now have the new shape's canonical form.
    renote(conn, v.schema, v.number, v.hist)
    if rewritten:
        # A new type, or a volatile DEFAULT, wrote every row anew: so is each versioned.
        conn.execute(copy_sql(new, typed, "U"))
    return True


def _fresh(name: str, taken: set[str]) -> str:
    """A history column for ``name`` that no column of history (dropped ones included)
    holds: ``name``, else ``name_2``, ``name_3``..., within PostgreSQL's name length."""
    base = name.encode()[:NAME_BYTES].decode(errors="ignore")
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}_{n}"
    return candidate
