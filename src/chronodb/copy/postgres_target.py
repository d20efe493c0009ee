"""Writing a :class:`~chronodb.copy.model.Dump` into an empty PostgreSQL schema.

One transaction: a failure anywhere writes none of it. The layout's loader
(``postgres/load.py``) writes the rows; this module decides the types, history numbers and
xids, and turns the source's view definitions into PostgreSQL's.

Types: a history column's values must digest on PostgreSQL as they did in the source, so its
type comes from the storage class every one of its values has there (integer: bigint, real:
double precision, text: text, blob: bytea); a column holding values of several classes
cannot be copied exactly and is refused. A column whose values are all NULL takes its
declared type's affinity. A table's single INTEGER key column becomes an identity column, so
an INSERT without a key still gets one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import psycopg
import sqlglot
from sqlglot import exp

from chronodb.copy.model import Dump, Progress, Refused, Table, Version, reporting
from chronodb.layout import ROWID_KEY
from chronodb.postgres import load
from chronodb.postgres.names import history_of, quote
from chronodb.postgres.tables import Versioned
from chronodb.versioning.columns import affinity

_BY_CLASS = {
    "integer": "bigint",
    "real": "double precision",
    "text": "text",
    "blob": "bytea",
}


_BY_AFFINITY = {
    "INTEGER": "bigint",
    "TEXT": "text",
    "BLOB": "bytea",
    "REAL": "double precision",
    "NUMERIC": "numeric",
}


def types_of(table: Table) -> dict[str, str]:
    """Each history column's PostgreSQL type."""
    if table.native:  # a PostgreSQL source: its own types
        return dict(table.native)
    found = {}
    name = table.shapes[-1].name
    for column in table.history_columns:
        kinds = table.kinds.get(column, "")
        if "," in kinds:
            raise Refused(
                f"column {name}.{column} holds values of several types ({kinds}); "
                "PostgreSQL would store some differently, and the ledger would no longer match"
            )
        found[column] = (
            _BY_CLASS[kinds] if kinds else _BY_AFFINITY[affinity(table.affinity.get(column, ""))]
        )
    return found


def _view_query(name: str, create: str) -> str:
    """The query of a SQLite CREATE VIEW statement in PostgreSQL's SQL."""
    try:
        parsed = sqlglot.parse_one(create, read="sqlite")
        query = parsed.expression if isinstance(parsed, exp.Create) else None
        if query is None:
            raise Refused(f"view {name}'s definition is not a CREATE VIEW statement")
        return query.sql(dialect="postgres", identify=True)
    except sqlglot.errors.SqlglotError as err:
        raise Refused(f"view {name} cannot be written in PostgreSQL's SQL: {err}") from err


def write(
    conn: psycopg.Connection, schema: str, dump: Dump, progress: Progress | None = None
) -> None:
    """Install ``dump`` in ``schema`` in one transaction (the caller checked it is empty)."""
    for table in dump.tables:
        rowid = next((s.name for s in table.shapes if s.keys == (ROWID_KEY,)), None)
        if rowid is not None:
            raise Refused(
                f"table {rowid} has no primary key (its rows are keyed by rowid); ChronoDB "
                "on PostgreSQL versions rows by their primary key: add one before copying"
            )
    types = {t.table_id: types_of(t) for t in dump.tables}
    ordered = sorted(dump.transactions, key=lambda t: t.tx_id)
    total = dump.total_versions
    load.reserve_xids(conn, len(ordered))
    with conn.transaction():
        given = load.xids(conn, len(ordered))
        if given is None:  # reserved above: only a server whose xids went back says so
            raise Refused(
                f"the server has handed out fewer transaction ids than the {len(ordered)} "
                "transactions to copy, each of which needs one of its own"
            )
        xid_of = {t.tx_id: x for t, x in zip(ordered, given, strict=True)}
        first_seq, spans = _history_numbers(dump, [t.tx_id for t in ordered])
        done = 0
        for table in dump.tables:
            versions = reporting(dump.versions(table), done, total, progress)
            kinds = types[table.table_id]
            done += _write_table(conn, schema, dump, table, versions, kinds, xid_of, first_seq)
            if progress is not None:
                progress(done, total)
        for shape in sorted((s for t in dump.tables for s in t.shapes), key=lambda s: s.id):
            ends = None if shape.to_tx is None else xid_of[shape.to_tx]
            load.record_shape(
                conn,
                schema,
                replace(shape, hist=_hist(dump, shape.table_id)),
                types[shape.table_id],
                (xid_of.get(shape.from_tx), ends),
            )
        load.record_transactions(
            conn,
            schema,
            [
                (t.tx_id, xid_of[t.tx_id], t.tx_time, t.user, *spans[t.tx_id], t.leaf)
                for t in ordered
            ],
        )
        _write_views(conn, schema, dump, xid_of)
        for table_name, key, count, tx_id, user, reason in dump.erasures:
            load.record_erasure(conn, schema, table_name, key, count, xid_of[tx_id], user, reason)
        for digest in dump.digests:
            load.record_digest(conn, schema, digest)
    if progress is not None:
        progress(total, total)


def _hist(dump: Dump, table_id: int) -> str:
    table = next(t for t in dump.tables if t.table_id == table_id)
    return history_of(table_id, table.shapes[0].name)


def _history_numbers(
    dump: Dump, tx_ids: list[int]
) -> tuple[dict[tuple[int, int], int], dict[int, tuple[int, int]]]:
    """History numbers in transaction order, then table order: the first number of each
    (transaction, table)'s versions, and each transaction's (seq_lo, seq_hi). A transaction
    that wrote no version (DDL) takes one number, as the commit step's queue does."""
    first: dict[tuple[int, int], int] = {}
    spans: dict[int, tuple[int, int]] = {}
    following = 1
    for tx in tx_ids:
        low = following
        for table in dump.tables:
            count = table.counts.get(tx, 0)
            if count:
                first[(tx, table.table_id)] = following
                following += count
        if following == low:
            following += 1
        spans[tx] = (low, following - 1)
    return first, spans


def _write_table(
    conn: psycopg.Connection,
    schema: str,
    dump: Dump,
    table: Table,
    versions: Iterator[Version],
    kinds: dict[str, str],
    xid_of: dict[int, int],
    first_seq: dict[tuple[int, int], int],
) -> int:
    """One table: the user's table with its rows (if live), its history, its triggers.
    Returns the versions written."""
    last = table.shapes[-1]
    hist = history_of(table.table_id, table.shapes[0].name)
    columns = [(c.name, kinds[c.hist]) for c in last.columns]
    key_names = [c.name for c in last.key_columns]
    stored = tuple(c.hist for c in last.columns)
    names = tuple(c.name for c in last.columns)
    versioned = Versioned(
        schema,
        last.name,
        hist,
        tuple(key_names),
        names,
        table.table_id,
        () if stored == names else stored,
    )
    live = table.live
    identity = None
    if live is not None:
        keys = live.key_columns
        if not table.native and len(keys) == 1 and keys[0].decl_type.upper() == "INTEGER":
            identity = keys[0].name  # SQLite's rowid alias: a key is given when none is
        load.create_table(conn, schema, live.name, columns, key_names, identity)
        load.fill(conn, schema, live.name, names, dump.current(table))
        if identity is not None:
            load.restart_identity(conn, schema, live.name, identity)
    extra = [(h, kinds[h]) for h in table.history_columns if h not in stored]
    shape = [(c.hist, kinds[c.hist]) for c in last.columns]
    load.create_history(conn, versioned, shape, extra)
    hist_columns = table.history_columns
    written = load.fill(
        conn,
        schema,
        hist,
        load.history_columns(hist_columns),
        _rows(versions, hist_columns, table.table_id, xid_of, first_seq),
    )
    if live is not None:
        load.version_table(conn, versioned, shape)
    return written


def _rows(
    versions: Iterator[Version],
    columns: list[str],
    table_id: int,
    xid_of: dict[int, int],
    first_seq: dict[tuple[int, int], int],
) -> Iterator[tuple[object, ...]]:
    """History rows: each version's number, its transaction's xid, op, values."""
    taken: dict[int, int] = {}
    for version in versions:
        offset = taken.get(version.tx_id, 0)
        taken[version.tx_id] = offset + 1
        seq = first_seq[(version.tx_id, table_id)] + offset
        yield (
            seq,
            xid_of[version.tx_id],
            version.op,
            *(version.values.get(c) for c in columns),
        )


def _write_views(conn: psycopg.Connection, schema: str, dump: Dump, xid_of: dict[int, int]) -> None:
    """The views now, created in PostgreSQL's SQL, and every definition over time."""
    with_search_path = f"SET LOCAL search_path TO {quote(schema)}"
    conn.execute(with_search_path)
    now = {name.lower() for name in dump.views_now}
    for definition in dump.views:
        query = definition.sql
        if query.lstrip().upper().startswith("CREATE"):  # a SQLite source's statement
            query = _view_query(definition.name, query)
        if definition.to_tx is None and definition.name.lower() in now:
            conn.execute(f"CREATE VIEW {quote(definition.name)} AS {query}")
            query = load.view_query(conn, schema, definition.name)
        load.record_view(
            conn,
            schema,
            definition.name,
            query,
            # A view recorded before its file kept views' times counts from the start.
            xid_of.get(definition.from_tx, min(xid_of.values(), default=0)),
            None if definition.to_tx is None else xid_of[definition.to_tx],
        )
