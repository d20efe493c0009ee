"""Reading and trimming history: one row's versions, changes over a period, pruning, erasure.

The statements naming a table or its columns are built as sqlglot expressions
(``chronodb/sql/build.py``) and rendered with its SQLite dialect; one row's versions are
rendered once per history table and key. The fixed statements on the layout's own TEMP
table and erasure record name nothing of the user's and stay text.
"""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from sqlglot import exp

from chronodb.errors import ChronoDBError, SchemaError
from chronodb.layout import (
    AT,
    DELETED,
    ERASURES,
    GONE,
    INSERTED,
    OP,
    ROWID_KEY,
    TX,
    UPDATED,
    WHO,
    keys_of,
    null_keys_of,
)
from chronodb.sql.build import SQLITE, col, render, star, string, tree
from chronodb.sql.build import table as _named
from chronodb.timepoint import from_micros, to_micros
from chronodb.versioning.catalog import Catalog, SchemaVersion
from chronodb.versioning.timeline import time_of, tx_at, user_of


def _table_of(catalog: Catalog, table: str) -> SchemaVersion:
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


def _table(name: str, alias: str | None = None) -> exp.Table:
    """Table ``name`` of the file (``main``), as ``alias``: a TEMP table of the same name,
    which SQLite would otherwise look in first, cannot stand in for it."""
    return _named("main", name, alias, quoted_schema=False)


def _layout(alias: str | None, column: str) -> exp.Column:
    """Column ``column`` of the layout (unquoted: ``rowid``, ``_chrono_tx``…) of ``alias``."""
    return col(alias, column, quoted=False)


def _match(keys: Sequence[str], alias: str | None = "h") -> list[exp.Expr]:
    """``alias.k IS ?`` for each key column ``k`` (a NULL key matches a NULL)."""
    return [exp.Is(this=col(alias, k), expression=exp.Placeholder()) for k in keys]


def _same(keys: Sequence[str], alias: str, other: str) -> list[exp.Expr]:
    """``alias.k IS other.k`` for each key column ``k``: the same key."""
    return [exp.Is(this=col(alias, k), expression=col(other, k)) for k in keys]


def _exists(query: exp.Select) -> exp.Exists:
    return exp.Exists(this=query)


def _one(hist: str, alias: str | None = None) -> exp.Select:
    """``SELECT 1 FROM hist AS alias``, the body of an EXISTS."""
    return exp.select(exp.Literal.number(1), copy=False).from_(_table(hist, alias), copy=False)


def _delete(target: exp.Table, where: Sequence[exp.Expr]) -> str:
    """``DELETE FROM target WHERE …`` as SQLite text."""
    condition = exp.and_(*where, copy=False)
    return render(exp.Delete(this=target, where=exp.Where(this=condition)), SQLITE)


def _key_tables(catalog: Catalog, hist: str) -> list[str]:
    """The tables holding ``hist``'s keys: its key set, and those holding a NULL if kept."""
    held = [null_keys_of(hist)] if hist in catalog.null_keyed else []
    return [keys_of(hist), *held]


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
        "tx_time": from_micros(row[AT]),
        "user": row[WHO],
    }


@functools.lru_cache(maxsize=256)
def versions_sql(hist: str, keys: tuple[str, ...]) -> str:
    """SQL: the versions in ``hist`` of the key given as parameters (``?``, one per column of
    ``keys``), oldest first, each with its transaction's time (µs) and user as ``AT`` and
    ``WHO``: names of the layout, which no user's column (say, ``user``) can shadow."""
    tx = f"h.{TX}"  # timeline's time and user of a transaction, whose SQL is text
    query = (
        exp.select(
            star("h"),
            exp.alias_(tree(time_of(tx), SQLITE), AT, copy=False),
            exp.alias_(tree(user_of(tx), SQLITE), WHO, copy=False),
            copy=False,
        )
        .from_(_table(hist, "h"), copy=False)
        .where(*_match(keys), copy=False)
        .order_by(_layout("h", TX), copy=False)
    )
    return render(query, SQLITE)


def change_history(conn: sqlite3.Connection, catalog: Catalog, table: str, pk: Any) -> list[dict]:
    sv = _table_of(catalog, table)
    rows = conn.execute(versions_sql(sv.hist, sv.keys), key_values(sv, pk)).fetchall()
    out: list[dict] = []
    prev: dict[str, Any] | None = None
    for row in rows:
        entry = _describe(catalog, sv, row, prev)
        if entry is not None:
            out.append(entry)
        prev = entry["after"] if entry is not None else None
    return out


def doomed_sql(hist: str, keys: Sequence[str]) -> str:
    """SQL: the versions in ``hist`` that ended at or before transaction ``?`` (given three
    times): replaced by a version of the same key by then, or tombstones by then; each with
    its rowid, transaction and key."""
    tx, later = _layout("h", TX), _layout("n", TX)
    replaced = _one(hist, "n").where(
        *_same(keys, "n", "h"),
        exp.GT(this=later, expression=tx.copy()),
        exp.LTE(this=later.copy(), expression=exp.Placeholder()),
        copy=False,
    )
    ended = exp.and_(
        exp.LT(this=tx.copy(), expression=exp.Placeholder()), _exists(replaced), copy=False
    )
    tombstone = exp.and_(
        exp.EQ(this=_layout("h", OP), expression=string(DELETED)),
        exp.LTE(this=tx.copy(), expression=exp.Placeholder()),
        copy=False,
    )
    query = (
        exp.select(_layout("h", "rowid"), tx, *[col("h", k) for k in keys], copy=False)
        .from_(_table(hist, "h"), copy=False)
        .where(
            exp.or_(exp.paren(ended, copy=False), exp.paren(tombstone, copy=False), copy=False),
            copy=False,
        )
    )
    return render(query, SQLITE)


def survivors_sql(hist: str, keys: Sequence[str]) -> str:
    """SQL: the oldest surviving transaction of each key with a version listed in
    ``temp._chrono_gone`` (by rowid), the versions about to go."""

    def gone() -> exp.Subquery:
        table = exp.Table(this=exp.to_identifier(GONE), db=exp.to_identifier("temp"))
        return exp.select(col(None, "rid", quoted=False), copy=False).from_(table).subquery()

    oldest = (
        exp.select(exp.func("min", _layout("s", TX)), copy=False)
        .from_(_table(hist, "s"), copy=False)
        .where(
            *_same(keys, "s", "d"),
            exp.not_(exp.In(this=_layout("s", "rowid"), query=gone()), copy=False),
            copy=False,
        )
        .subquery(copy=False)
    )
    query = (
        exp.select(oldest, copy=False)
        .distinct(copy=False)
        .from_(_table(hist, "d"), copy=False)
        .where(exp.In(this=_layout("d", "rowid"), query=gone()), copy=False)
    )
    return render(query, SQLITE)


def firsts_sql(hist: str, keys: Sequence[str]) -> str:
    """SQL: the updates in ``hist`` that are their key's oldest version, by rowid and
    transaction."""
    older = _one(hist, "n").where(
        *_same(keys, "n", "h"), exp.LT(this=_layout("n", TX), expression=_layout("h", TX))
    )
    query = (
        exp.select(_layout("h", "rowid"), _layout("h", TX), copy=False)
        .from_(_table(hist, "h"), copy=False)
        .where(
            exp.EQ(this=_layout(None, OP), expression=string(UPDATED)),
            exp.not_(_exists(older), copy=False),
            copy=False,
        )
    )
    return render(query, SQLITE)


def _by_rowid() -> exp.Expr:
    return exp.EQ(this=_layout(None, "rowid"), expression=exp.Placeholder())


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
        rows = conn.execute(doomed_sql(hist, sv.keys), (cut_tx,) * 3).fetchall()
        if not rows:
            continue
        if before is not None:
            # The doomed versions' transactions, and each such key's oldest survivor (which
            # may be rewritten as the key's insert below).
            conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {GONE} (rid INTEGER PRIMARY KEY)")
            conn.execute(f"DELETE FROM temp.{GONE}")
            conn.executemany(f"INSERT INTO temp.{GONE} VALUES (?)", ((r[0],) for r in rows))
            survivors = conn.execute(survivors_sql(hist, sv.keys))
            firsts = {r[0] for r in survivors if r[0] is not None}
            conn.execute(f"DELETE FROM temp.{GONE}")
            before({r[1] for r in rows} | firsts)
        touched.update((r[1], sv.table_id) for r in rows)
        conn.executemany(_delete(_table(hist), [_by_rowid()]), ((r[0],) for r in rows))
        removed += len(rows)
        # A key whose every version went leaves the key set (erase's rule too): its key is
        # given twice, once for the key set and once for history.
        kept = _exists(_one(hist).where(*_match(sv.keys, None), copy=False))
        gone_keys = [k * 2 for k in {tuple(r)[2:] for r in rows}]
        for key_table in _key_tables(catalog, hist):
            where = [*_match(sv.keys, None), exp.not_(kept.copy(), copy=False)]
            conn.executemany(_delete(_table(key_table), where), gone_keys)
        # The oldest surviving version of each key must read as its insert.
        first = conn.execute(firsts_sql(hist, sv.keys)).fetchall()
        touched.update((r[1], sv.table_id) for r in first)
        insert = exp.update(_table(hist), {OP: string(INSERTED)}, where=_by_rowid(), dialect=SQLITE)
        conn.executemany(render(insert, SQLITE), ((r[0],) for r in first))
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
    sv = _table_of(catalog, table)
    keys = key_values(sv, pk)
    hists = sorted({v.hist for v in catalog.versions if v.name.lower() == table.lower()})
    # Count the versions before deleting the row: its delete trigger writes one more.
    removed = 0
    touched: set[tuple[int, int]] = set()
    for hist in hists:
        table_id = next(v.table_id for v in catalog.versions if v.hist == hist)
        versions = exp.select(_layout(None, TX), copy=False).from_(_table(hist, "h"), copy=False)
        txs = conn.execute(render(versions.where(*_match(sv.keys)), SQLITE), keys)
        touched.update((r[0], table_id) for r in txs)
    if before is not None:
        before({t for t, _ in touched})
    for hist in hists:
        removed += conn.execute(_delete(_table(hist, "h"), _match(sv.keys)), keys).rowcount
        for key_table in _key_tables(catalog, hist):
            conn.execute(_delete(_table(key_table, "h"), _match(sv.keys)), keys)
    if sv.to_tx is None:
        if sv.keys == (ROWID_KEY,):
            conn.execute(_delete(_table(sv.name), [_by_rowid()]), keys)
        else:
            named = [c.name for c in sv.key_columns]
            conn.execute(_delete(_table(sv.name), _match(named, None)), keys)
        conn.execute(_delete(_table(sv.hist, "h"), _match(sv.keys)), keys)
    conn.execute(
        f"INSERT INTO main.{ERASURES} (table_name, row_key, versions, tx_id, user, reason) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (sv.name, json.dumps(keys, default=str), removed, tx, user, reason),
    )
    touched.discard((tx, sv.table_id))  # this transaction's own versions are sealed with it
    return removed, touched
