"""Loading history written elsewhere into a new file, verbatim (``chronodb copy``).

A copy keeps every transaction's id, time, user and ledger leaf, so it cannot go through the
write path, which hands out new ids. The loader writes the layout's rows directly, on a
plain connection to a file no one else has open yet (the copy's temporary file):

- a table's current rows go in before its guard triggers, which would refuse them;
- history keeps the versions in the order they were written, with their transactions;
- every transaction gets a record (its time and user are not its id's), the counted era of
  ``timeline.py``, with its marks; new ids then go on after the last one copied;
- every leaf is indexed in its record, and the Merkle tree's nodes stored.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence

from chronodb.audit.ledger import Ledger
from chronodb.audit.proofs import leaf_hash
from chronodb.layout import DIGESTS, ERASURES, META, OP, SCHEMA, TRANSACTIONS, TX, VIEWS
from chronodb.versioning import timeline
from chronodb.versioning.catalog import Catalog, SchemaVersion
from chronodb.versioning.tables import (
    create_guard,
    create_key_set,
    create_table_sql,
    key_types,
    qualified,
    quote,
)


def create_table(conn: sqlite3.Connection, shape: SchemaVersion) -> None:
    """The user's table of ``shape``: its columns, declared types and key."""
    conn.execute(create_table_sql(shape))


def insert_rows(
    conn: sqlite3.Connection, table: str, columns: Sequence[str], rows: Iterable[Sequence[object]]
) -> int:
    """Insert ``rows`` into ``table``'s ``columns``; how many."""
    names = ", ".join(quote(c) for c in columns)
    marks = ", ".join("?" * len(columns))
    cursor = conn.executemany(f"INSERT INTO {qualified(table)} ({names}) VALUES ({marks})", rows)
    return cursor.rowcount


def history_columns(columns: Sequence[str]) -> list[str]:
    """The columns a loaded version is written to: its transaction, op, values."""
    return [TX, OP, *columns]


def finish_table(conn: sqlite3.Connection, shape: SchemaVersion, *, live: bool) -> None:
    """After its versions: the key set of ``shape``'s history, and a live table's guards."""
    create_key_set(conn, shape.hist, shape.keys, key_types(shape))
    if live:
        create_guard(conn, shape)


def record_shape(conn: sqlite3.Connection, shape: SchemaVersion) -> None:
    """One row of ``_chrono_schema``, as ``shape`` says (its id too)."""
    conn.execute(
        f"INSERT INTO main.{SCHEMA} (id, table_id, name, hist, keys, columns, from_tx, from_us, "
        "to_tx, to_us) VALUES (?, ?, ?, ?, json(?), json(?), ?, ?, ?, ?)",
        (
            shape.id,
            shape.table_id,
            shape.name,
            shape.hist,
            json.dumps(list(shape.keys)),
            json.dumps([[c.name, c.hist, c.decl_type, c.collation] for c in shape.columns]),
            shape.from_tx,
            shape.from_us,
            shape.to_tx,
            shape.to_us,
        ),
    )


def record_transactions(
    conn: sqlite3.Connection, rows: Sequence[tuple[int, int, str, bytes | None]], now_us: int
) -> None:
    """A record per transaction (tx_id, tx_time, user, leaf), in id order, each leaf indexed;
    the marks of the counted era; the origin after the last one (``timeline.set_origin``)."""
    index = 0
    records: list[tuple[int, int, str, int | None, bytes | None, bytes | None]] = []
    for tx_id, tx_time, user, leaf in rows:
        if leaf is None:
            records.append((tx_id, tx_time, user, None, None, None))
            continue
        records.append((tx_id, tx_time, user, index, leaf, leaf_hash(leaf)))
        index += 1
    conn.executemany(
        f"INSERT INTO main.{TRANSACTIONS} (tx_id, tx_time, user, leaf_index, leaf, leaf_hash) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        records,
    )
    conn.execute(timeline.FILL)
    conn.execute(f"DELETE FROM main.{META} WHERE key IN ('origin', 'counted')")
    timeline.set_origin(conn, now_us)


def store_tree(conn: sqlite3.Connection, catalog: Catalog) -> None:
    """Store the Merkle tree's nodes and the leaf hash index over every indexed leaf."""
    Ledger(conn, catalog).catch_up()


def record_view(
    conn: sqlite3.Connection,
    name: str,
    sql: str,
    from_tx: int,
    from_us: int,
    to_tx: int | None,
    to_us: int | None,
) -> None:
    """One row of ``_chrono_views``: a view's CREATE VIEW statement over a span."""
    conn.execute(
        f"INSERT INTO main.{VIEWS} (name, sql, from_tx, from_us, to_tx, to_us) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (name, sql, from_tx, from_us, to_tx, to_us),
    )


def view_sql(conn: sqlite3.Connection, name: str) -> str:
    """The CREATE VIEW statement SQLite keeps for ``name`` (what ``_chrono_views`` holds)."""
    row = conn.execute(
        "SELECT sql FROM main.sqlite_schema WHERE type = 'view' AND name = ?", (name,)
    ).fetchone()
    return str(row[0])


def record_erasure(
    conn: sqlite3.Connection,
    table: str,
    key: str,
    versions: int,
    tx_id: int,
    user: str | None,
    reason: str | None,
) -> None:
    conn.execute(
        f"INSERT INTO main.{ERASURES} (table_name, row_key, versions, tx_id, user, reason) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (table, key, versions, tx_id, user, reason),
    )


def record_digest(
    conn: sqlite3.Connection, digest: tuple[int, bytes, float, bytes | None, bytes | None]
) -> None:
    conn.execute(f"INSERT INTO main.{DIGESTS} VALUES (?, ?, ?, ?, ?)", digest)
