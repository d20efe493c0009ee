"""Reading history on PostgreSQL for the facade: one row's versions, changes over a period,
the transactions, and the tables and columns now.

The answers have the shapes of the SQLite ones (``versioning/history.py``,
``sql/snapshots.changes``, ``introspect``). Every read is bounded by the reader's horizon,
so a transaction still becoming visible is not half seen.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import psycopg

from chronodb.audit.proofs import leaf_hash
from chronodb.errors import ChronoDBError, NotSupportedError, SchemaError, TransactionError
from chronodb.introspect import Column
from chronodb.layout import TRANSACTIONS
from chronodb.pgengine.core import BACKEND, PostgresEngine
from chronodb.postgres import Versioned
from chronodb.postgres.install import qualified
from chronodb.postgres.names import OP, SEQ, XID, quote
from chronodb.postgres.verify import verify as ledger_verify
from chronodb.timepoint import MAX_EPOCH, from_micros, to_micros

F = TypeVar("F", bound=Callable[..., Any])


def _translated(fn: F) -> F:
    """psycopg's errors in ``fn(engine, ...)`` leave as the ChronoDBErrors naming the server."""

    @functools.wraps(fn)
    def wrapper(engine: PostgresEngine, *args: Any) -> Any:
        if engine.conn.closed:
            engine.reconnect()
        try:
            return fn(engine, *args)
        except psycopg.Error as err:
            if engine.conn.closed:
                engine.lost()
            raise engine.backend.translate(err) from err

    return wrapper  # type: ignore[return-value]


def _table(engine: PostgresEngine, table: str) -> Versioned:
    found = engine.versioned(table)
    if found is None:
        raise SchemaError(f"no such table: {table}", table=table)
    return found


def _key_values(v: Versioned, pk: Any) -> list[Any]:
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


def _versions(engine: PostgresEngine, v: Versioned, where: str = "true", params: Any = ()) -> list:
    """``v``'s committed versions matching ``where`` (on alias ``h``), in history order, the
    last of each transaction per key only (as SQLite keeps one per transaction)."""
    conn = engine.conn
    bound = engine.horizon()
    keys = ", ".join(f"h.{quote(k)}" for k in v.keys)
    cols = ", ".join(f"h.{quote(c)}" for c in v.columns)
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
    return [tuple(r) for r in rows]


@_translated
def change_history(engine: PostgresEngine, table: str, pk: Any) -> list[dict[str, Any]]:
    """Every version of one row, oldest first (see ``ChronoDB.get_change_history``)."""
    v = _table(engine, table)
    match = " AND ".join(f"h.{quote(k)} = %s" for k in v.keys)
    out: list[dict[str, Any]] = []
    prev: dict[str, Any] | None = None
    n = len(v.columns)
    for row in _versions(engine, v, match, _key_values(v, pk)):
        values = dict(zip(v.columns, row[:n], strict=True))
        op, tx, us, user = row[n:]
        if op == "D":
            if prev is not None:
                out.append(_entry("DELETE", prev, prev, None, tx, us, user))
            prev = None
            continue
        out.append(_entry("UPDATE" if prev else "INSERT", values, prev, values, tx, us, user))
        prev = values
    return out


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


@_translated
def changes(engine: PostgresEngine, table: str, start: Any, end: Any) -> list[dict[str, Any]]:
    """Rows inserted, updated and deleted in ``(start, end]`` (see ``ChronoDB.changes``)."""
    v = _table(engine, table)
    lo = to_micros(0 if start is None else start)
    hi = to_micros(MAX_EPOCH if end is None else end)
    n = len(v.columns)
    previous: dict[tuple, dict[str, Any] | None] = {}
    out = []
    for row in _versions(engine, v):
        values = dict(zip(v.columns, row[:n], strict=True))
        op, tx, us, user = row[n:]
        key = tuple(values[k] for k in v.keys)
        before = previous.get(key)
        after = None if op == "D" else values
        previous[key] = after
        if not lo < us <= hi or (after is None and before is None):
            continue
        change = {
            "operation": "DELETE" if after is None else "UPDATE" if before else "INSERT",
            "tx_id": tx,
            "tx_time": us / 1e6,
            "user": user,
        }
        change.update((k, values[k]) for k in v.keys)
        change.update(before=before, after=after)
        out.append(change)
    return out


@_translated
def transactions(engine: PostgresEngine, limit: int | None) -> list[dict[str, Any]]:
    """Committed write transactions, newest first, up to the horizon."""
    conn = engine.conn
    bound = engine.horizon()
    rows = conn.execute(
        f'SELECT tx_id, tx_time, "user" FROM {qualified(engine.backend.schema, TRANSACTIONS)} '
        "WHERE tx_id <= %s ORDER BY tx_id DESC LIMIT %s",
        (bound, limit),
    ).fetchall()
    return [{"tx_id": r[0], "tx_time": from_micros(r[1]), "user": r[2]} for r in rows]


@_translated
def tx_hash(engine: PostgresEngine, tx_id: int) -> str | None:
    """The ledger hash (hex) of committed transaction ``tx_id`` up to the horizon, or None."""
    schema = engine.backend.schema
    row = engine.conn.execute(
        f"SELECT leaf FROM {qualified(schema, TRANSACTIONS)} WHERE tx_id = %s AND tx_id <= %s",
        (tx_id, engine.horizon()),
    ).fetchone()
    return None if row is None or row[0] is None else leaf_hash(bytes(row[0])).hex()


@_translated
def verify(engine: PostgresEngine) -> bool:
    """Whether the ledger matches every stored version (``chronodb.postgres.verify``)."""
    if engine.explicit:
        raise TransactionError("verify the ledger outside a transaction (COMMIT or ROLLBACK)")
    return ledger_verify(engine.conn, engine.backend.schema).ok


@_translated
def tables(engine: PostgresEngine, as_of: Any) -> list[str]:
    """The versioned tables that exist now."""
    if as_of is not None:
        raise NotSupportedError("tables(as_of=...)", BACKEND)
    return engine.backend.versioned_tables()


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


@_translated
def columns(engine: PostgresEngine, table: str, as_of: Any) -> list[Column]:
    """``table``'s columns now."""
    if as_of is not None:
        raise NotSupportedError("columns(as_of=...)", BACKEND)
    v = _table(engine, table)
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
