"""Every versioned PostgreSQL table's shapes over time: the catalog ``_chrono_schema``.

Each row is one shape of one versioned table (its number in ``_chrono_versioned``): the
name it had, its key, and its columns as ``[name, history column, type]``, from the
transaction that made the shape (CREATE TABLE, adoption, ALTER TABLE) to the one that
changed it or dropped the table. A transaction gets its id only when it commits, so a row
names both by xid (``from_xid``, ``to_xid``) and ``_chrono_tx`` gives their ids and times;
a row made before shapes were recorded has no ``from_xid`` and counts from the start.

:func:`load` reads them as a :class:`~chronodb.versioning.catalog.Catalog`, the class the
SQLite catalog is read into, so the two backends answer ``tables(as_of=...)``,
``columns(..., as_of=...)`` and AS OF reads from one description. History columns keep
their names when a column is renamed; a column added (or retyped) gets a fresh one, so a
past shape's columns stay in history with the values and types they had.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from json import dumps

import psycopg

from chronodb.postgres.install import queue_commit
from chronodb.postgres.ledger import note_kind
from chronodb.postgres.names import (
    SEQ_NEXT,
    SHAPES,
    TX_TABLE,
    qualified,
)
from chronodb.versioning.catalog import Catalog, Column, SchemaVersion

PENDING = 2**62
"""The id and time (µs) standing for the reader's own open transaction, which has none
yet: a shape it made covers no past point, and one it ended still covers them."""


def open_shape(
    conn: psycopg.Connection,
    schema: str,
    number: int,
    name: str,
    hist: str,
    keys: Sequence[str],
    columns: Sequence[tuple[str, str, str]],
) -> None:
    """Record table ``number``'s new shape, made by the open transaction: ``keys`` are
    history columns, ``columns`` (name, history column, type) in table order. (ChronoDB
    gives the transaction an id even if it writes no version, :func:`queue`; one that got
    none, such as a library call versioning an empty table, counts from the start.)"""
    conn.execute(
        f"INSERT INTO {qualified(schema, SHAPES)} "
        "(number, name, hist, keys, columns, from_xid) "
        "VALUES (%s, %s, %s, %s, %s::jsonb, pg_current_xact_id())",
        (number, name, hist, list(keys), dumps([list(c) for c in columns])),
    )


def close_shape(conn: psycopg.Connection, schema: str, number: int) -> None:
    """End table ``number``'s open shape at the open transaction (an ALTER or a DROP)."""
    conn.execute(
        f"UPDATE {qualified(schema, SHAPES)} SET to_xid = pg_current_xact_id() "
        "WHERE number = %s AND to_xid IS NULL",
        (number,),
    )


def queue(conn: psycopg.Connection, schema: str, kind: str | None = None) -> None:
    """Give the open transaction an id at commit (once), noting ``kind`` (a statement's
    first keyword) among the ledger's kinds if given: DDL writes no version, yet it is a
    transaction of its own, as on SQLite."""
    note = f"{note_kind(_literal(kind))}; " if kind else ""
    first = f"nextval('{qualified(schema, SEQ_NEXT)}')"
    conn.execute(
        f"DO $queue$ DECLARE queued text; kinds text; BEGIN {note}"
        f"{queue_commit(schema, 'queued', first)}; END $queue$"
    )


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def load(conn: psycopg.Connection, schema: str) -> Catalog:
    """Every shape of every versioned table, with the ids and times of the transactions
    that began and ended it (:data:`PENDING` for the reader's own open transaction, and for
    an end without an id)."""
    # A shape begun by a committed transaction without an id (it wrote nothing, and was not
    # ChronoDB's) counts from the start; one begun by the reader's own, from no past point.
    own = "s.from_xid = pg_current_xact_id_if_assigned()"
    rows = conn.execute(
        "SELECT s.id, s.number, s.name, s.hist, s.keys, s.columns, "
        f"CASE WHEN f.tx_id IS NOT NULL THEN f.tx_id WHEN {own} THEN NULL ELSE 0 END, "
        f"CASE WHEN f.tx_id IS NOT NULL THEN f.tx_time WHEN {own} THEN NULL ELSE 0 END, "
        "t.tx_id, t.tx_time, s.to_xid IS NOT NULL "
        f"FROM {qualified(schema, SHAPES)} AS s "
        f"LEFT JOIN {qualified(schema, TX_TABLE)} AS f ON f.xid = s.from_xid "
        f"LEFT JOIN {qualified(schema, TX_TABLE)} AS t ON t.xid = s.to_xid ORDER BY s.id"
    ).fetchall()
    shapes = []
    for id_, number, name, hist, keys, columns, from_tx, from_us, to_tx, to_us, ended in rows:
        if ended and to_tx is None:
            to_tx = to_us = PENDING
        shapes.append(
            SchemaVersion(
                id=id_,
                table_id=number,
                name=name,
                hist=hist,
                keys=tuple(keys),
                columns=tuple(Column(c, h, kind) for c, h, kind in columns),
                from_tx=PENDING if from_tx is None else from_tx,
                from_us=PENDING if from_us is None else from_us,
                to_tx=to_tx,
                to_us=to_us,
            )
        )
    return Catalog.of(shapes)


def live(conn: psycopg.Connection, schema: str, number: int) -> list[tuple[str, str, str]]:
    """Table ``number``'s open shape's columns (name, history column, type); empty when it
    has none recorded (or the layout records no shapes: an older one, opened read-only)."""
    held = conn.execute("SELECT to_regclass(%s)", (qualified(schema, SHAPES),)).fetchone()
    if held is None or held[0] is None:
        return []
    row = conn.execute(
        f"SELECT columns FROM {qualified(schema, SHAPES)} "
        "WHERE number = %s AND to_xid IS NULL ORDER BY id DESC LIMIT 1",
        (number,),
    ).fetchone()
    return [] if row is None else [tuple(c) for c in row[0]]


def scans(book: Catalog, number: int) -> Iterator[tuple[str, list[tuple[str, str]], str | None]]:
    """How the ledger digests table ``number``'s versions: for each of its shapes, the
    history table, the shape's history columns (name, type), and the condition on a
    transaction's id (``t.tx_id``, NULL for a transaction without a record) that picks the
    transactions it encodes: from the shape's first transaction to the next shape's; the
    last shape also takes the transaction dropping the table, and versions of no recorded
    transaction (reported apart)."""
    spans = book.versions_of(number)
    hist = spans[-1].hist
    for i, shape in enumerate(spans):
        columns = [(c.hist, c.decl_type) for c in shape.columns]
        conditions = [f"t.tx_id >= {shape.from_tx}"] if i > 0 else []
        if i + 1 < len(spans):
            conditions.append(f"t.tx_id < {spans[i + 1].from_tx}")
            yield hist, columns, " AND ".join(conditions)
        else:
            yield hist, columns, f"t.tx_id IS NULL OR {conditions[0]}" if conditions else None
