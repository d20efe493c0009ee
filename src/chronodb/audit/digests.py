"""Digests of history rows, computed inside SQLite so that sealing a transaction is cheap.

A version's canonical form is ``json_array(op, key..., columns...)`` over the history
columns the table had at that transaction (BLOBs as ``[hex]``, so no value of one type
can read as another); a transaction's digest for a table is SHA-256 over the JSON array
of its versions in history order (``_chrono_seq``, the history table's rowid alias).
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator

from chronodb.versioning.catalog import ROWID_KEY, Catalog, SchemaVersion
from chronodb.versioning.tables import OP, SEQ, TX, quote, seq_after

EMPTY = hashlib.sha256(b"[]").digest()


def _value(column: str) -> str:
    c = quote(column)
    return f"iif(typeof({c}) = 'blob', json_array(hex({c})), {c})"


def row_json(sv: SchemaVersion) -> str:
    """SQL for one version's canonical JSON, with the columns ``sv`` had."""
    cols = [OP] + ([ROWID_KEY] if sv.keys == (ROWID_KEY,) else [])
    cols += [c.hist for c in sv.columns]
    return "json_array(" + ", ".join(_value(c) for c in cols) + ")"


def digest_of(text: str | None) -> bytes:
    return hashlib.sha256((text or "[]").encode()).digest()


def shape_at(catalog: Catalog, table_id: int, tx: int) -> SchemaVersion | None:
    """The shape whose columns encode ``table_id``'s versions written by ``tx``."""
    versions = catalog.versions_of(table_id)
    for v in versions:
        if v.covers_tx(tx):
            return v
    for v in versions:  # dropped by this very transaction
        if v.to_tx == tx:
            return v
    return None


def seal_statement(catalog: Catalog, tx: int, *, newest: bool = False) -> str | None:
    """One statement giving (table_id, versions, json) for every table ``tx`` wrote.

    Its versions are one range of history rows (history order is transaction order). For
    the transaction being sealed (``newest``) that range is the tail of each table, within
    the last ``?2`` rows (?2: rows the transaction changed, which bounds the versions it
    wrote); for an earlier one it is found by binary search.
    """
    parts = []
    for table_id in sorted({v.table_id for v in catalog.versions}):
        sv = shape_at(catalog, table_id, tx)
        if sv is None:
            continue
        h = quote(sv.hist)
        if newest:
            where = (
                f"(SELECT {TX} FROM {h} ORDER BY {SEQ} DESC LIMIT 1) = ?1 "
                f"AND {SEQ} > (SELECT max({SEQ}) FROM {h}) - ?2 AND {TX} = ?1"
            )
        else:
            where = (
                f"{SEQ} >= {seq_after(h, '?1 - 1')} AND {SEQ} < {seq_after(h, '?1')} AND {TX} = ?1"
            )
        parts.append(
            f"SELECT {table_id}, count(*), json_group_array({row_json(sv)}) FROM {h} WHERE {where}"
        )
    return " UNION ALL ".join(parts) if parts else None


class _NewTxStatement:
    """:func:`seal_statement` for transactions newer than every catalog boundary.

    Such a transaction sees each table's open shape, so the statement is the same for all
    of them until the catalog is reloaded (a new ``catalog.versions`` list): building it
    costs more than running it, and every autocommit write seals one transaction. The
    state is one tuple, swapped whole, so databases on other threads cannot mix it up.
    """

    state: tuple[list[SchemaVersion], int, str | None] | None = None

    def get(self, catalog: Catalog, tx: int) -> str | None:
        state = self.state
        if state is None or state[0] is not catalog.versions:
            versions = catalog.versions
            edge = max((max(v.from_tx, v.to_tx or 0) for v in versions), default=0)
            state = (versions, edge, seal_statement(catalog, edge + 1, newest=True))
            self.state = state
        return state[2] if tx > state[1] else seal_statement(catalog, tx, newest=True)


_latest = _NewTxStatement()


def table_digests(
    conn: sqlite3.Connection, catalog: Catalog, tx: int, written: int | None = None
) -> list[tuple[int, int, bytes]]:
    """(table_id, versions, digest) for each table that ``tx`` wrote versions to.

    ``written`` is given when ``tx`` is the open transaction being sealed: the number of
    rows it changed so far (``total_changes`` since it began).
    """
    if written is not None:
        sql, args = _latest.get(catalog, tx), (tx, written)
    else:
        sql, args = seal_statement(catalog, tx), (tx,)
    if sql is None:
        return []
    out = []
    for table_id, count, text in conn.execute(sql, args):
        if count:
            out.append((table_id, count, digest_of(text)))
    return out


def scan(conn: sqlite3.Connection, catalog: Catalog) -> Iterator[tuple[int, int, int, bytes]]:
    """(tx_id, table_id, versions, digest) for every transaction of every history table.

    Rows are read in history order, one span of each table's shapes at a time, and grouped
    here: a transaction whose versions are not contiguous (rows moved or inserted behind
    ChronoDB's back) yields more than one group, which verification reports.
    """
    for table_id in sorted({v.table_id for v in catalog.versions}):
        shapes = catalog.versions_of(table_id)
        hist = quote(shapes[0].hist)
        for i, sv in enumerate(shapes):
            lo = 0 if i == 0 else sv.from_tx
            hi = shapes[i + 1].from_tx if i + 1 < len(shapes) else None
            if sv.to_tx is not None and i + 1 == len(shapes):
                hi = sv.to_tx + 1  # rows of the dropping transaction itself
            # Every row falls in exactly one span's range, whatever its _chrono_tx says.
            bounds, args = [], []
            if i > 0:
                bounds.append(f"{SEQ} >= {seq_after(hist, f'?{len(args) + 1}')}")
                args.append(lo - 1)
            if hi is not None and i + 1 < len(shapes):
                bounds.append(f"{SEQ} < {seq_after(hist, f'?{len(args) + 1}')}")
                args.append(hi - 1)
            where = ("WHERE " + " AND ".join(bounds)) if bounds else ""
            sql = f"SELECT {TX}, {row_json(sv)} FROM {hist} {where} ORDER BY {SEQ}"
            yield from _grouped(conn.execute(sql, args), table_id)


def _grouped(
    rows: Iterator[tuple[int, str]], table_id: int
) -> Iterator[tuple[int, int, int, bytes]]:
    """Consecutive versions of one transaction, as (tx_id, table_id, versions, digest)."""
    current: int | None = None
    texts: list[str] = []
    for tx, text in rows:
        if tx != current:
            if texts and current is not None:
                yield current, table_id, len(texts), digest_of("[" + ",".join(texts) + "]")
            current, texts = tx, []
        texts.append(text)
    if texts and current is not None:
        yield current, table_id, len(texts), digest_of("[" + ",".join(texts) + "]")
