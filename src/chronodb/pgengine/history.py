"""Reading history on PostgreSQL for the facade: one row's versions, changes over a period,
the transactions, and the tables and columns now or AS OF a point.

The answers have the shapes of the SQLite ones (``versioning/history.py``,
``sql/snapshots.changes``, ``introspect``): a version's values are named as the columns its
table had when it was written (``chronodb/postgres/shapes.py``), and a dropped table's
history is still read. Every read is bounded by the reader's horizon, so a transaction still
becoming visible is not half seen.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from chronodb import introspect
from chronodb.audit.leaf import Leaf
from chronodb.audit.proofs import leaf_hash
from chronodb.errors import ChronoDBError, SchemaError
from chronodb.introspect import Column
from chronodb.layout import TRANSACTIONS
from chronodb.pgengine.core import PostgresEngine
from chronodb.pgengine.sources import versioned_of
from chronodb.postgres import Versioned
from chronodb.postgres.changes import by_transactions
from chronodb.postgres.install import qualified
from chronodb.postgres.names import OP, SEQ, XID, quote
from chronodb.postgres.rows import one
from chronodb.timepoint import MAX_EPOCH, from_micros, to_micros
from chronodb.versioning.catalog import SchemaVersion

F = TypeVar("F", bound=Callable[..., Any])


def translated(fn: F) -> F:
    """A call reading through ``engine``: psycopg's errors in ``fn(engine, ...)`` leave
    as the ChronoDBErrors naming the server."""

    @functools.wraps(fn)
    def wrapper(engine: PostgresEngine, *args: Any) -> Any:
        with engine.translating():
            return fn(engine, *args)

    return wrapper  # type: ignore[return-value]


def table_of(engine: PostgresEngine, table: str) -> Versioned:
    """The versioned table ``table`` now; SchemaError if there is none."""
    found = engine.versioned(table)
    if found is None:
        raise SchemaError(f"no such table: {table}", table=table)
    return found


def _any_table(engine: PostgresEngine, table: str) -> tuple[Versioned, list[SchemaVersion]]:
    """``table`` now, or the last table of that name if it was dropped (its history is
    kept), with its shapes over time."""
    found = engine.versioned(table)
    book = engine.shapes()
    if found is None:
        latest = book.latest(table)
        if latest is None:
            raise SchemaError(f"no such table: {table}", table=table)
        found = versioned_of(engine.backend.schema, latest)
    return found, book.versions_of(found.number)


def _values(v: Versioned, shapes: list[SchemaVersion], row: dict, tx: int) -> dict[str, Any]:
    """A version's values under the names of the columns its table had at ``tx``."""
    versions = [s for s in shapes if s.covers_tx(tx)] or [s for s in shapes if s.to_tx == tx]
    if not versions:
        return {c: row[h] for c, h in zip(v.columns, v.history_columns, strict=True)}
    return {c.name: row[c.hist] for c in versions[0].columns}


def key_values(v: Versioned, pk: Any) -> list[Any]:
    if isinstance(pk, dict):
        missing = [k for k in v.keys if k not in pk]
        if missing:
            raise ChronoDBError(f"Key for {v.table} lacks column(s) {', '.join(missing)}")
        values = [pk[k] for k in v.keys]
    elif isinstance(pk, Sequence) and not isinstance(pk, str | bytes):
        values = list(pk)
    else:
        values = [pk]
    if len(values) != len(v.keys):
        raise ChronoDBError(
            f"{v.table} is keyed by {len(v.keys)} column(s); got {len(values)} value(s): {pk!r}"
        )
    return values


def _stored(v: Versioned, shapes: list[SchemaVersion]) -> tuple[str, ...]:
    """The history columns of ``v`` and of all of ``shapes``, its shapes over time."""
    return tuple(dict.fromkeys([*v.history_columns, *(c.hist for s in shapes for c in s.columns)]))


def _versions(
    engine: PostgresEngine,
    v: Versioned,
    shapes: list[SchemaVersion],
    bound: int,
    where: str = "true",
    params: Any = (),
) -> list[tuple[dict[str, Any], str, int, int, str]]:
    """``v``'s committed versions matching ``where`` (on alias ``h``), in history order, the
    last of each transaction per key only (as SQLite keeps one per transaction): (its
    history columns' values by name, op, tx_id, tx_time, user). The columns are those of
    all of ``shapes``, the table's shapes over time; ``bound``: the reader's horizon."""
    conn = engine.conn
    keys = ", ".join(f"h.{quote(k)}" for k in v.history_keys)
    stored = _stored(v, shapes)
    cols = ", ".join(f"h.{quote(c)}" for c in stored)
    rows = conn.execute(
        f'SELECT {cols}, h.{OP}, x.tx_id, x.tx_time, x."user" FROM ('
        f"SELECT DISTINCT ON ({keys}, x.tx_id) h.*, x.tx_id AS _t "
        f"FROM {qualified(v.schema, v.hist)} AS h "
        f"JOIN {qualified(v.schema, TRANSACTIONS)} AS x ON x.xid = h.{XID} "
        f"WHERE x.tx_id <= %s AND {where} ORDER BY {keys}, x.tx_id, h.{SEQ} DESC) AS h "
        f"JOIN {qualified(v.schema, TRANSACTIONS)} AS x ON x.tx_id = h._t "
        f"ORDER BY x.tx_id, h.{SEQ}",
        (bound, *params),
    ).fetchall()
    n = len(stored)
    return [(dict(zip(stored, r[:n], strict=True)), *tuple(r)[n:]) for r in rows]


@translated
def change_history(engine: PostgresEngine, table: str, pk: Any) -> list[dict[str, Any]]:
    """Every version of one row, oldest first (see ``ChronoDB.get_change_history``)."""
    bound = engine.horizon()  # first: it drops a stale cache of the tables
    v, shapes = _any_table(engine, table)
    match = " AND ".join(f"h.{quote(k)} = %s" for k in v.history_keys)
    out: list[dict[str, Any]] = []
    prev: dict[str, Any] | None = None
    found = _versions(engine, v, shapes, bound, match, key_values(v, pk))
    for row, op, tx, us, user in found:
        values = _values(v, shapes, row, tx)
        if op == "D":
            if prev is not None:
                out.append(_entry("DELETE", prev, prev, None, tx, us, user))
            prev = None
            continue
        out.append(_entry("UPDATE" if prev else "INSERT", values, prev, values, tx, us, user))
        prev = values
    hashes = _hashes(engine, {entry["tx_id"] for entry in out})
    for entry in out:
        entry["tx_hash"] = hashes.get(entry["tx_id"])
    return out


def _hashes(engine: PostgresEngine, tx_ids: set[int]) -> dict[int, str]:
    """The ledger hash (hex) of each of ``tx_ids`` that has a leaf, in one query."""
    rows = engine.conn.execute(
        f"SELECT tx_id, leaf FROM {qualified(engine.backend.schema, TRANSACTIONS)} "
        "WHERE tx_id = ANY (%s) AND leaf IS NOT NULL",
        (sorted(tx_ids),),
    ).fetchall()
    return {tx: leaf_hash(bytes(leaf)).hex() for tx, leaf in rows}


def _entry(op: str, values: Any, before: Any, after: Any, tx: int, us: int, user: str) -> dict:
    return {
        "operation": op,
        "values": values,
        "before": before,
        "after": after,
        "tx_id": tx,
        "tx_time": from_micros(us),
        "user": user,
        "tx_hash": None,
    }


@translated
def changes(engine: PostgresEngine, table: str, start: Any, end: Any) -> list[dict[str, Any]]:
    """Rows inserted, updated and deleted in ``(start, end]`` (see ``ChronoDB.changes``):
    the change feed's query (``chronodb.postgres.changes.by_transactions``) over the
    transactions of the period, each version named as the columns of its time."""
    bound = engine.horizon()
    v, shapes = _any_table(engine, table)
    lo = to_micros(0 if start is None else start)
    hi = to_micros(MAX_EPOCH if end is None else end)
    # Ids follow commit times, so the period's transactions are one range of ids.
    first, last = one(
        engine.conn.execute(
            "SELECT coalesce(max(tx_id) FILTER (WHERE tx_time <= %s), 0), "
            "coalesce(max(tx_id) FILTER (WHERE tx_time <= %s), 0) "
            f"FROM {qualified(v.schema, TRANSACTIONS)} WHERE tx_id <= %s",
            (lo, hi, bound),
        )
    )
    stored = _stored(v, shapes)
    n = len(stored)
    rows = engine.conn.execute(by_transactions(v, stored), {"lo": first, "hi": last})
    out = []
    for row in rows.fetchall():
        op, tx, us, user = row[n : n + 4]
        previous, previous_op, previous_tx = row[n + 5 : 2 * n + 5], row[2 * n + 5], row[-1]
        named = dict(zip(stored, row[:n], strict=True))
        after = None if op == "D" else _values(v, shapes, named, tx)
        before = None
        if previous_op not in (None, "D"):
            before = _values(v, shapes, dict(zip(stored, previous, strict=True)), previous_tx)
        if after is None and before is None:
            continue  # a row inserted and deleted by one transaction
        change = {
            "operation": "DELETE" if after is None else "UPDATE" if before else "INSERT",
            "tx_id": tx,
            "tx_time": us / 1e6,
            "user": user,
        }
        change.update((k, named[h]) for k, h in zip(v.keys, v.history_keys, strict=True))
        change.update(before=before, after=after)
        out.append(change)
    return out


@translated
def transactions(engine: PostgresEngine, limit: int | None) -> list[dict[str, Any]]:
    """Committed write transactions, newest first, up to the horizon, with their
    statements' kinds from their leaves (and the adoption's table count), as on SQLite."""
    conn = engine.conn
    bound = engine.horizon()
    table = qualified(engine.backend.schema, TRANSACTIONS)
    rows = conn.execute(
        f'SELECT tx_id, tx_time, "user", leaf FROM {table} '
        "WHERE tx_id <= %s ORDER BY tx_id DESC LIMIT %s",
        (bound, limit),
    ).fetchall()
    found = []
    for tx_id, us, user, leaf in rows:
        entry: dict[str, Any] = {"tx_id": tx_id, "tx_time": from_micros(us), "user": user}
        kinds = [] if leaf is None else list(Leaf.decode(bytes(leaf)).kinds)
        if kinds[:1] == ["ADOPT"]:  # the adoption's leaf also counts its tables: "TABLES n"
            counted = [k for k in kinds if k.startswith("TABLES ")]
            entry.update(kind="adopt", tables=int(counted[0].split()[1]) if counted else 0)
        if leaf is not None:
            entry["kinds"] = kinds
        found.append(entry)
    return found


@translated
def tx_hash(engine: PostgresEngine, tx_id: int) -> str | None:
    """The ledger hash (hex) of committed transaction ``tx_id`` up to the horizon, or None."""
    schema = engine.backend.schema
    row = engine.conn.execute(
        f"SELECT leaf FROM {qualified(schema, TRANSACTIONS)} WHERE tx_id = %s AND tx_id <= %s",
        (tx_id, engine.horizon()),
    ).fetchone()
    return None if row is None or row[0] is None else leaf_hash(bytes(row[0])).hex()


@translated
def tables(engine: PostgresEngine, as_of: Any) -> list[str]:
    """The versioned tables that exist now, or existed AS OF ``as_of``, sorted by name."""
    if as_of is None:
        return engine.backend.versioned_tables()
    engine.horizon()  # drops a stale cache of the shapes
    return introspect.tables(engine.shapes(), as_of)


_COLUMNS = (
    "SELECT a.attname, format_type(a.atttypid, a.atttypmod), "
    "coalesce(array_position(k.conkey, a.attnum), 0), a.attnotnull, "
    "pg_get_expr(d.adbin, d.adrelid), a.attgenerated, coalesce(co.collname, '') "
    "FROM pg_attribute a "
    "LEFT JOIN pg_constraint k ON k.conrelid = a.attrelid AND k.contype = 'p' "
    "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
    "LEFT JOIN pg_collation co ON co.oid = a.attcollation AND a.attcollation <> 100 "
    "WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped "
    "ORDER BY a.attnum"
)


@translated
def columns(engine: PostgresEngine, table: str, as_of: Any) -> list[Column]:
    """``table``'s columns now, or AS OF ``as_of`` (the names, types and key it had then,
    see ``introspect.columns``)."""
    engine.horizon()  # drops a stale cache of the tables
    if as_of is None:
        return _declared(engine, table_of(engine, table))
    shapes = engine.shapes()

    def live(shape: SchemaVersion) -> list[Column]:
        return _declared(engine, table_of(engine, shape.name))

    return introspect.columns_with(shapes, table, as_of, live)


def _declared(engine: PostgresEngine, v: Versioned) -> list[Column]:
    """The columns of ``v`` as the database declares them now."""
    rows = engine.conn.execute(_COLUMNS, (qualified(v.schema, v.table),)).fetchall()
    generated = {"s": "STORED", "": ""}
    return [
        Column(
            name,
            kind,
            int(position),
            bool(notnull),
            None if gen else default,
            generated.get(gen, gen),
            collation,
        )
        for name, kind, position, notnull, default, gen, collation in rows
    ]
