"""Reading a SQLite file's history, ledger and schema over time for a copy (``model.Dump``).

Everything is read in one read transaction of the engine's connection, held while the
destination is written, so a commit by another process during the copy is either wholly in
it or not at all.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from chronodb.audit.leaf import header
from chronodb.copy.model import Dump, Table, Transaction, Version
from chronodb.database import ChronoDB, engine_of
from chronodb.layout import DIGESTS, ERASURES, INTERNAL_LIKE, OP, SEQ, TX, VIEWS
from chronodb.versioning import timeline
from chronodb.versioning.tables import qualified, quote
from chronodb.versioning.views import ViewDefinition

_VIEWS_NOW = (
    "SELECT name, sql FROM main.sqlite_schema WHERE type = 'view' AND sql IS NOT NULL "
    f"AND name NOT LIKE {INTERNAL_LIKE}"
)


@contextmanager
def read(db: ChronoDB) -> Iterator[Dump]:
    """The file ``db`` has open, as a :class:`Dump` readable until the block ends."""
    engine = engine_of(db)
    with engine.lock, engine.snapshot():
        engine.refresh_catalog()
        conn = engine.conn
        leaves: dict[int, bytes] = {}
        if engine.ledger is not None:
            engine.ledger.refresh()
            for blob in engine.ledger.leaves_after(0):
                leaves[header(blob)[0]] = blob
        transactions = []
        for row in reversed(timeline.transactions(conn)):
            tx_id, tx_time, user = row[0], row[1], row[2]
            leaf = leaves.get(tx_id)
            if leaf is not None:  # the leaf says who, as sealed
                _, tx_time, user = header(leaf)
            transactions.append(Transaction(tx_id, tx_time, user or "", leaf))
        by_id: dict[int, Table] = {}
        for shape in engine.catalog.versions:
            by_id.setdefault(shape.table_id, Table(shape.table_id, [])).shapes.append(shape)
        tables = [by_id[n] for n in sorted(by_id)]
        for table in tables:
            _describe(conn, table)
        views = [
            ViewDefinition(*row)
            for row in conn.execute(
                f"SELECT name, sql, from_tx, from_us, to_tx, to_us FROM main.{VIEWS} ORDER BY id"
            )
        ]
        erasures = conn.execute(
            f"SELECT table_name, row_key, versions, tx_id, user, reason FROM main.{ERASURES} "
            "ORDER BY id"
        ).fetchall()
        digests = conn.execute(
            f"SELECT tree_size, root, created, signature, public_key FROM main.{DIGESTS} "
            "ORDER BY tree_size"
        ).fetchall()

        def versions(table: Table) -> Iterator[Version]:
            columns = table.history_columns
            hist = table.shapes[-1].hist
            select = ", ".join([SEQ, TX, OP, *(quote(c) for c in columns)])
            cursor = conn.execute(f"SELECT {select} FROM {qualified(hist)} ORDER BY {SEQ}")
            for row in cursor:
                yield Version(row[1], row[2], dict(zip(columns, row[3:], strict=True)))

        def current(table: Table) -> Iterator[tuple[object, ...]]:
            live = table.live
            assert live is not None
            names = ", ".join(quote(c.name) for c in live.columns)
            yield from conn.execute(f"SELECT {names} FROM {qualified(live.name)}")

        yield Dump(
            transactions=transactions,
            tables=tables,
            views=views,
            views_now=dict(conn.execute(_VIEWS_NOW).fetchall()),
            erasures=[tuple(r) for r in erasures],
            digests=[tuple(r) for r in digests],
            versions=versions,
            current=current,
        )


def _describe(conn: sqlite3.Connection, table: Table) -> None:
    """Fill in ``table``'s versions per transaction and each history column's storage class
    and declared type."""
    hist = qualified(table.shapes[-1].hist)
    table.counts = dict(conn.execute(f"SELECT {TX}, count(*) FROM {hist} GROUP BY {TX}"))
    for shape in table.shapes:
        for column in shape.columns:
            table.affinity[column.hist] = column.decl_type or ""
    for name in table.history_columns:
        c = quote(name)
        found = conn.execute(
            f"SELECT group_concat(DISTINCT typeof({c})) FROM {hist} WHERE {c} IS NOT NULL"
        ).fetchone()[0]
        table.kinds[name] = found or ""
