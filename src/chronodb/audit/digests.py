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
from chronodb.versioning.tables import OP, TX, quote

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


def seal_statement(catalog: Catalog, tx: int) -> str | None:
    """One statement giving (table_id, versions, json) for every table ``tx`` wrote."""
    parts = []
    for table_id in sorted({v.table_id for v in catalog.versions}):
        sv = shape_at(catalog, table_id, tx)
        if sv is None:
            continue
        parts.append(
            f"SELECT {table_id}, count(*), json_group_array({row_json(sv)}) "
            f"FROM {quote(sv.hist)} INDEXED BY {quote(sv.hist + '_tx')} WHERE {TX} = ?1"
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
            state = (versions, edge, seal_statement(catalog, edge + 1))
            self.state = state
        return state[2] if tx > state[1] else seal_statement(catalog, tx)


_latest = _NewTxStatement()


def table_digests(
    conn: sqlite3.Connection, catalog: Catalog, tx: int
) -> list[tuple[int, int, bytes]]:
    """(table_id, versions, digest) for each table that ``tx`` wrote versions to."""
    sql = _latest.get(catalog, tx)
    if sql is None:
        return []
    out = []
    for table_id, count, text in conn.execute(sql, (tx,)):
        if count:
            out.append((table_id, count, digest_of(text)))
    return out


def scan(conn: sqlite3.Connection, catalog: Catalog) -> Iterator[tuple[int, int, int, bytes]]:
    """(tx_id, table_id, versions, digest) for every transaction of every history table.

    Grouping follows the ``_chrono_tx`` index, so each group's versions arrive in history
    order; each table's shapes are read span by span.
    """
    for table_id in sorted({v.table_id for v in catalog.versions}):
        shapes = catalog.versions_of(table_id)
        hist = quote(shapes[0].hist)
        for i, sv in enumerate(shapes):
            lo = 0 if i == 0 else sv.from_tx
            hi = shapes[i + 1].from_tx if i + 1 < len(shapes) else None
            if sv.to_tx is not None and i + 1 == len(shapes):
                hi = sv.to_tx + 1  # rows of the dropping transaction itself
            cond = f"{TX} >= ?" + (" AND " + f"{TX} < ?" if hi is not None else "")
            args = (lo,) if hi is None else (lo, hi)
            sql = (
                f"SELECT {TX}, count(*), json_group_array({row_json(sv)}) FROM {hist} "
                f"INDEXED BY {quote(sv.hist + '_tx')} WHERE {cond} GROUP BY {TX}"
            )
            for tx, count, text in conn.execute(sql, args):
                yield tx, table_id, count, digest_of(text)
