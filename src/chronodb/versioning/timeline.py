"""Transactions in time: a transaction's id is its commit time, counted from the file's origin.

Since file format 8 the allocator (``storage/sqlite.py``) gives each transaction the id
``max(now - origin, last + 1)``, in microseconds: ids increase strictly, a transaction's
time is ``origin + id``, and a point in time *is* a transaction bound (the last transaction at
or before ``t`` has an id <= ``t - origin``). So a transaction needs no record to be placed in
time, and most write none: a record in ``_chrono_tx`` is written when the writing user
differs from the user of the last record (a transaction's user is the last record's at or
before it), and when the audit ledger indexes the transaction's leaf (``audit/ledger.py``).
That took a page out of every autocommit (``benchmarks/performance_test.py``). The origin
is the file's creation, not the Unix epoch, so that for four and a half years an id fits
SQLite's 6-byte integer instead of its 8-byte one; it is stored in every history row and
index entry, and the two bytes were measured at about 5% of a batched versioned UPDATE's
pages.

Files from earlier formats numbered transactions 1, 2, 3... with their time in the record.
Those ids stay (ledger leaves name them), and the origin is put so that ids go on after
them: the :class:`Epoch` knows the last counted one. A point before the new ids resolves as
it did then: ``_chrono_tx_mark`` holds the time of every :data:`MARK_EVERY`-th counted
transaction, the point goes to the last mark at or before it, then walks at most
:data:`MARK_EVERY` records by id to the first one after the point; the answer is the id
before that one.
"""

from __future__ import annotations

import sqlite3
from typing import NamedTuple

from chronodb.errors import CorruptDatabaseError
from chronodb.layout import (
    ERASURES,
    HISTORY,
    META,
    SCHEMA,
    SEQ,
    TRANSACTIONS,
    TX,
    TX_MARKS,
    VIEWS,
)

MARK_EVERY = 32

DDL = (
    f"CREATE TABLE IF NOT EXISTS {TX_MARKS} (tx_time INTEGER PRIMARY KEY, tx_id INTEGER NOT NULL)",
)


class Epoch(NamedTuple):
    """Where a file's transaction ids start: ``origin`` (µs since the Unix epoch; a
    transaction's time is ``origin + id``) and ``counted``, the last id numbered by counting
    in a file from before format 8 (0 if none)."""

    origin: int
    counted: int

    @property
    def start(self) -> int:
        """The first time a new id can stand for: every point from here on is ``t - origin``."""
        return self.origin + self.counted


def marked(tx_id: str) -> str:
    """Whether the transaction ``tx_id`` (an SQL expression) of a counted era has a mark."""
    return f"{tx_id} % {MARK_EVERY} = 0"


FILL = (
    f"INSERT OR REPLACE INTO main.{TX_MARKS} (tx_time, tx_id) "
    f"SELECT tx_time, tx_id FROM main.{TRANSACTIONS} WHERE {marked('tx_id')}"
)
"""Marks for transactions recorded before the marks table existed (a file's upgrade)."""

ORIGIN = f"(SELECT CAST(value AS INTEGER) FROM main.{META} WHERE key = 'origin')"
"""The file's origin, in SQL (a constant subquery: SQLite works it out once a statement)."""


def set_origin(conn: sqlite3.Connection, now_us: int) -> None:
    """Give a file its origin, once: new ids start after any counted ones, at ``now_us`` or
    after the last counted transaction's time, whichever is later."""
    last_id, last_time = conn.execute(
        f"SELECT coalesce(max(tx_id), 0), coalesce(max(tx_time), 0) FROM main.{TRANSACTIONS}"
    ).fetchone()
    origin = max(now_us, last_time + 1) - last_id - 1
    conn.execute(
        f"INSERT OR IGNORE INTO main.{META} (key, value) VALUES ('origin', ?), ('counted', ?)",
        (str(origin), str(last_id)),
    )


def epoch(conn: sqlite3.Connection) -> Epoch:
    values = dict(
        conn.execute(f"SELECT key, value FROM main.{META} WHERE key IN ('origin', 'counted')")
    )
    try:
        return Epoch(int(values.get("origin", 0)), int(values.get("counted", 0)))
    except (ValueError, TypeError) as err:
        raise CorruptDatabaseError(
            f"ChronoDB's metadata is damaged: {META}'s origin or counted is not a number ({err})"
        ) from err


def tx_at_micros(ref: str, at: Epoch) -> str:
    """SQL for the bound of the transactions at or before ``ref`` (microseconds; 0 if none).

    ``ref`` is an SQL expression (a parameter or a literal), used several times: it must not
    be a costly subquery.
    """
    if not at.counted:
        return f"coalesce({ref} - {at.origin}, 0)"
    start = (
        f"coalesce((SELECT m.tx_id FROM main.{TX_MARKS} AS m WHERE m.tx_time <= {ref} "
        "ORDER BY m.tx_time DESC LIMIT 1), 0)"
    )
    after = (
        f"(SELECT t.tx_id FROM main.{TRANSACTIONS} AS t WHERE t.tx_id >= {start} "
        f"AND t.tx_time > {ref} ORDER BY t.tx_id LIMIT 1)"
    )
    # One scalar subquery: SQLite runs it once per statement and keeps the value, where a
    # bare expression would be worked out again at every use (each key's seek in AS OF).
    return (
        f"(SELECT CASE WHEN {ref} IS NULL THEN 0 WHEN {ref} >= {at.start} THEN {ref} - "
        f"{at.origin} ELSE coalesce({after} - 1, {at.counted}) END)"
    )


def tx_at(conn: sqlite3.Connection, micros: int) -> int:
    """The bound of the transactions at or before ``micros`` (0 if none), as one query."""
    return conn.execute(f"SELECT {tx_at_micros('?1', epoch(conn))}", (micros,)).fetchone()[0]


def time_of(tx: str) -> str:
    """SQL for the commit time (µs) of transaction ``tx`` (an SQL expression; NULL stays NULL)."""
    record = f"(SELECT t.tx_time FROM main.{TRANSACTIONS} AS t WHERE t.tx_id = {tx})"
    return f"coalesce({record}, {tx} + {ORIGIN})"


def user_of(tx: str) -> str:
    """SQL for the user of transaction ``tx``: that of the last record at or before it."""
    return (
        f"(SELECT t.user FROM main.{TRANSACTIONS} AS t WHERE t.tx_id <= {tx} "
        "ORDER BY t.tx_id DESC LIMIT 1)"
    )


LAST_USER = f"SELECT user FROM main.{TRANSACTIONS} ORDER BY tx_id DESC LIMIT 1"


def _history_tables(conn: sqlite3.Connection) -> list[str]:
    return [
        'main."' + r[0].replace('"', '""') + '"'
        for r in conn.execute(
            f"SELECT name FROM sqlite_schema WHERE type = 'table' AND name GLOB '{HISTORY}[0-9]*'"
        )
    ]


# Where a committed transaction leaves its id: records, the catalog (DDL, views), erasures;
# and history, for the transactions with no record (most of them).
_NAMED = (
    f"SELECT tx_id AS x FROM main.{TRANSACTIONS}",
    f"SELECT from_tx FROM main.{SCHEMA}",
    f"SELECT to_tx FROM main.{SCHEMA} WHERE to_tx IS NOT NULL",
    f"SELECT from_tx FROM main.{VIEWS}",
    f"SELECT to_tx FROM main.{VIEWS} WHERE to_tx IS NOT NULL",
    f"SELECT tx_id FROM main.{ERASURES}",
)


def last_tx(conn: sqlite3.Connection) -> int:
    """The newest transaction id anything in the file names (0 for none).

    Each place's newest is its last row (history by position: history order is transaction
    order), so this is a few seeks per table, not a scan.
    """
    parts = [
        f"SELECT max(tx_id) AS x FROM main.{TRANSACTIONS}",
        f"SELECT max(max(from_tx), coalesce(max(to_tx), 0)) FROM main.{SCHEMA}",
        f"SELECT max(max(from_tx), coalesce(max(to_tx), 0)) FROM main.{VIEWS}",
        f"SELECT max(tx_id) FROM main.{ERASURES}",
    ]
    parts += [
        f"SELECT * FROM (SELECT {TX} FROM {h} ORDER BY {SEQ} DESC LIMIT 1)"
        for h in _history_tables(conn)
    ]
    sql = f"SELECT coalesce(max(x), 0) FROM ({' UNION ALL '.join(parts)})"
    return conn.execute(sql).fetchone()[0]


def transactions(conn: sqlite3.Connection, limit: int | None = None) -> list[sqlite3.Row]:
    """Committed transactions, newest first: (tx_id, tx_time µs, user).

    All of them reads all history; the newest ``limit`` are found from each table's tail,
    one transaction at a time (a binary search each), so their cost does not grow with it.
    """
    from chronodb.versioning.tables import seq_after  # tables needs the catalog, which needs us

    if limit is None:
        parts = [*_NAMED, *(f"SELECT {TX} FROM {h}" for h in _history_tables(conn))]
        listing = (
            f"SELECT DISTINCT x FROM ({' UNION ALL '.join(parts)}) WHERE x > 0 ORDER BY x DESC"
        )
        return conn.execute(_DESCRIBED.format(ids=listing)).fetchall()
    found: set[int] = set()
    for named in _NAMED:
        rows = conn.execute(f"SELECT * FROM ({named}) ORDER BY 1 DESC LIMIT ?", (limit,))
        found.update(r[0] for r in rows if r[0] > 0)
    for h in _history_tables(conn):
        newest = f"SELECT {TX} FROM {h} WHERE {SEQ} < ?1 ORDER BY {SEQ} DESC LIMIT 1"
        start = f"SELECT {seq_after(h, '?1 - 1')}"
        bound: int | None = None
        for _ in range(limit):
            row = conn.execute(newest, ((1 << 62) if bound is None else bound,)).fetchone()
            if row is None:
                break
            found.add(row[0])
            bound = conn.execute(start, (row[0],)).fetchone()[0]
    ids = sorted(found, reverse=True)[:limit]
    if not ids:
        return []
    values = ", ".join(f"({int(x)})" for x in ids)
    return conn.execute(
        _DESCRIBED.format(ids=f"SELECT column1 AS x FROM (VALUES {values}) ORDER BY x DESC")
    ).fetchall()


_DESCRIBED = f"SELECT x AS tx_id, {time_of('x')} AS tx_time, {user_of('x')} AS user FROM ({{ids}})"
