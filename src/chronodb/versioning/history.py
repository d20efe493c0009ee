"""Reading and trimming history: one row's versions, changes over a period, pruning, erasure."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from chronodb.errors import ChronoDBError, SchemaError
from chronodb.layout import (
    DELETED,
    ERASURES,
    GONE,
    INSERTED,
    OP,
    ROWID_KEY,
    TX,
    UPDATED,
    keys_of,
    null_keys_of,
)
from chronodb.timepoint import from_micros, to_micros
from chronodb.versioning.catalog import Catalog, SchemaVersion
from chronodb.versioning.tables import key_list, qualified, quote
from chronodb.versioning.timeline import time_of, tx_at, user_of


def _table(catalog: Catalog, table: str) -> SchemaVersion:
    sv = catalog.current(table) or catalog.latest(table)
    if sv is None:
        raise SchemaError(f"no such table: {table}", table=table)
    return sv


def key_values(sv: SchemaVersion, pk: Any) -> list[Any]:
    """The key's values in ``sv.keys`` order, from a scalar, a sequence or a mapping."""
    if isinstance(pk, dict):
        if sv.keys == (ROWID_KEY,):
            values = [pk.get("rowid", pk.get(ROWID_KEY))]
        else:
            missing = [c.name for c in sv.key_columns if c.name not in pk]
            if missing:
                raise ChronoDBError(f"Key for {sv.name} lacks column(s) {', '.join(missing)}")
            values = [pk[c.name] for c in sv.key_columns]
    else:
        is_seq = isinstance(pk, Sequence) and not isinstance(pk, str | bytes)
        values = list(pk) if is_seq else [pk]
    if len(values) != len(sv.keys):
        raise ChronoDBError(
            f"{sv.name} is keyed by {len(sv.keys)} column(s); got {len(values)} value(s): {pk!r}"
        )
    for value in values:
        if value is not None and not isinstance(value, int | float | str | bytes):
            raise ChronoDBError(
                f"A key of {sv.name} is a number, a string, bytes or None; "
                f"got {value!r} of type {type(value).__name__}"
            )
    return values


def _match(sv: SchemaVersion, alias: str = "h") -> str:
    return " AND ".join(f"{alias}.{quote(k)} IS ?" for k in sv.keys)


def _key_tables(catalog: Catalog, hist: str) -> list[str]:
    """The tables holding ``hist``'s keys: its key set, and those holding a NULL if kept."""
    held = [qualified(null_keys_of(hist))] if hist in catalog.null_keyed else []
    return [qualified(keys_of(hist)), *held]


def _values(catalog: Catalog, sv: SchemaVersion, row: sqlite3.Row, tx: int) -> dict[str, Any]:
    shape = next((v for v in catalog.versions_of(sv.table_id) if v.covers_tx(tx)), sv)
    return {c.name: row[c.hist] for c in shape.columns}


def _describe(
    catalog: Catalog, sv: SchemaVersion, row: sqlite3.Row, prev: dict[str, Any] | None
) -> dict[str, Any] | None:
    tx = row[TX]
    alive = row[OP] != "D"
    if alive:
        after = _values(catalog, sv, row, tx)
        operation = "UPDATE" if prev is not None else "INSERT"
    else:
        if prev is None:
            return None
        after = None
        operation = "DELETE"
    return {
        "operation": operation,
        "values": after if after is not None else prev,
        "before": prev,
        "after": after,
        "tx_id": tx,
        "tx_time": from_micros(row["tx_time"]),
        "user": row["user"],
    }


def change_history(conn: sqlite3.Connection, catalog: Catalog, table: str, pk: Any) -> list[dict]:
    sv = _table(catalog, table)
    rows = conn.execute(
        f"SELECT h.*, {time_of(f'h.{TX}')} AS tx_time, {user_of(f'h.{TX}')} AS user "
        f"FROM {qualified(sv.hist)} AS h WHERE {_match(sv)} ORDER BY h.{TX}",
        key_values(sv, pk),
    ).fetchall()
    out: list[dict] = []
    prev: dict[str, Any] | None = None
    for row in rows:
        entry = _describe(catalog, sv, row, prev)
        if entry is not None:
            out.append(entry)
        prev = entry["after"] if entry is not None else None
    return out


def prune(
    conn: sqlite3.Connection,
    catalog: Catalog,
    older_than: Any,
    before: Callable[[set[int]], None] | None = None,
) -> tuple[int, set[tuple[int, int]]]:
    """Delete versions that ended at or before ``older_than``; AS OF later points is unchanged.

    Returns how many versions went, and the (tx_id, table_id) pairs whose versions changed
    (the ledger records their new digests). ``before`` is shown, ahead of any change, the
    transactions whose versions will change, and may refuse by raising.
    """
    cut_us = to_micros(older_than)
    cut_tx = tx_at(conn, cut_us)
    removed = 0
    touched: set[tuple[int, int]] = set()
    for hist in sorted({v.hist for v in catalog.versions}):
        sv = next(v for v in catalog.versions if v.hist == hist)
        h = qualified(hist)
        same = " AND ".join(f"n.{quote(k)} IS h.{quote(k)}" for k in sv.keys)
        doomed = (
            f"SELECT h.rowid, h.{TX}, {key_list(sv.keys, 'h')} FROM {h} AS h "
            f"WHERE (h.{TX} < ?1 AND EXISTS (SELECT 1 FROM "
            f"{h} AS n WHERE {same} AND n.{TX} > h.{TX} AND n.{TX} <= ?1)) "
            f"OR (h.{OP} = '{DELETED}' AND h.{TX} <= ?1)"
        )
        rows = conn.execute(doomed, (cut_tx,)).fetchall()
        if not rows:
            continue
        if before is not None:
            # The doomed versions' transactions, and each such key's oldest survivor (which
            # may be rewritten as the key's insert below).
            conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {GONE} (rid INTEGER PRIMARY KEY)")
            conn.execute(f"DELETE FROM temp.{GONE}")
            conn.executemany(f"INSERT INTO temp.{GONE} VALUES (?)", ((r[0],) for r in rows))
            match = " AND ".join(f"s.{quote(k)} IS d.{quote(k)}" for k in sv.keys)
            survivors = conn.execute(
                f"SELECT DISTINCT (SELECT min(s.{TX}) FROM {h} AS s WHERE {match} AND s.rowid "
                f"NOT IN (SELECT rid FROM temp.{GONE})) FROM {h} AS d "
                f"WHERE d.rowid IN (SELECT rid FROM temp.{GONE})"
            )
            firsts = {r[0] for r in survivors if r[0] is not None}
            conn.execute(f"DELETE FROM temp.{GONE}")
            before({r[1] for r in rows} | firsts)
        touched.update((r[1], sv.table_id) for r in rows)
        conn.executemany(f"DELETE FROM {h} WHERE rowid = ?", ((r[0],) for r in rows))
        removed += len(rows)
        # A key whose every version went leaves the key set (erase's rule too).
        numbered = " AND ".join(f"{quote(k)} IS ?{i}" for i, k in enumerate(sv.keys, 1))
        for key_table in _key_tables(catalog, hist):
            conn.executemany(
                f"DELETE FROM {key_table} WHERE {numbered} "
                f"AND NOT EXISTS (SELECT 1 FROM {h} WHERE {numbered})",
                {tuple(r)[2:] for r in rows},
            )
        # The oldest surviving version of each key must read as its insert.
        first = conn.execute(
            f"SELECT h.rowid, h.{TX} FROM {h} AS h WHERE {OP} = '{UPDATED}' AND NOT EXISTS "
            f"(SELECT 1 FROM {h} AS n WHERE {same} AND n.{TX} < h.{TX})"
        ).fetchall()
        touched.update((r[1], sv.table_id) for r in first)
        conn.executemany(
            f"UPDATE {h} SET {OP} = '{INSERTED}' WHERE rowid = ?", ((r[0],) for r in first)
        )
    return removed, touched


def erase(
    conn: sqlite3.Connection,
    catalog: Catalog,
    table: str,
    pk: Any,
    tx: int,
    user: str,
    reason: str | None,
    before: Callable[[set[int]], None] | None = None,
) -> tuple[int, set[tuple[int, int]]]:
    """Delete one row and every version of it; record that (not what) it was erased.

    Returns the number of versions removed and the (tx_id, table_id) pairs they came from.
    """
    sv = _table(catalog, table)
    keys = key_values(sv, pk)
    hists = sorted({v.hist for v in catalog.versions if v.name.lower() == table.lower()})
    # Count the versions before deleting the row: its delete trigger writes one more.
    removed = 0
    touched: set[tuple[int, int]] = set()
    for hist in hists:
        table_id = next(v.table_id for v in catalog.versions if v.hist == hist)
        txs = conn.execute(f"SELECT {TX} FROM {qualified(hist)} AS h WHERE {_match(sv)}", keys)
        touched.update((r[0], table_id) for r in txs)
    if before is not None:
        before({t for t, _ in touched})
    for hist in hists:
        removed += conn.execute(
            f"DELETE FROM {qualified(hist)} AS h WHERE {_match(sv)}", keys
        ).rowcount
        for key_table in _key_tables(catalog, hist):
            conn.execute(f"DELETE FROM {key_table} AS h WHERE {_match(sv)}", keys)
    if sv.to_tx is None:
        if sv.keys == (ROWID_KEY,):
            conn.execute(f"DELETE FROM {qualified(sv.name)} WHERE rowid = ?", keys)
        else:
            cond = " AND ".join(f"{quote(c.name)} IS ?" for c in sv.key_columns)
            conn.execute(f"DELETE FROM {qualified(sv.name)} WHERE {cond}", keys)
        conn.execute(f"DELETE FROM {qualified(sv.hist)} AS h WHERE {_match(sv)}", keys)
    conn.execute(
        f"INSERT INTO main.{ERASURES} (table_name, row_key, versions, tx_id, user, reason) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (sv.name, json.dumps(keys, default=str), removed, tx, user, reason),
    )
    touched.discard((tx, sv.table_id))  # this transaction's own versions are sealed with it
    return removed, touched
