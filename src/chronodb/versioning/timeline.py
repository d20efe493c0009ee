"""From a point in time to the last transaction committed by then, with no index on tx_time.

An index on ``_chrono_tx.tx_time`` made every commit write a page of its own: about an
eighth of an autocommit UPDATE (``benchmarks/performance_test.py``). ``tx_id`` and
``tx_time`` increase together, so a sparse index serves: ``_chrono_tx_mark`` holds the time
of every :data:`MARK_EVERY`-th transaction. A point resolves to the last mark at or before
it, then a walk forward by ``tx_id`` (at most :data:`MARK_EVERY` rows) to the first
transaction after the point; the answer is the transaction before that one.

Why the walk may start at a mark: every transaction with a smaller id was committed earlier,
so at or before the mark's time. Ids are never reused below the newest (a transaction that
wrote nothing deletes its own record, the newest, and its mark with it).

The allocator (``storage/sqlite.py``), the only writer of ``_chrono_tx``, writes and deletes
the marks with :data:`MARK` and :data:`UNMARK`. Triggers did that until file format 4: a
trigger on ``_chrono_tx`` cost every transaction about 0.8 µs to skip 31 times in 32.
"""

from __future__ import annotations

import sqlite3

MARK_EVERY = 32

DDL = (
    "CREATE TABLE IF NOT EXISTS _chrono_tx_mark ("
    "tx_time INTEGER PRIMARY KEY, tx_id INTEGER NOT NULL)",
)
MARK = "INSERT OR REPLACE INTO _chrono_tx_mark (tx_time, tx_id) VALUES (?, ?)"
"""Mark transaction ``tx_id`` (when ``is_marked``), given its (final) time."""
UNMARK = "DELETE FROM _chrono_tx_mark WHERE tx_time = ?"
"""Drop the mark of a transaction record being deleted, given its time."""
OLD_TRIGGERS = ("_chrono_tx_mark_ai", "_chrono_tx_mark_ad")
"""The triggers that kept the marks in file format 3."""


def is_marked(tx_id: int) -> bool:
    return tx_id % MARK_EVERY == 0


def marked(tx_id: str) -> str:
    """:func:`is_marked` in SQL, of the expression ``tx_id``."""
    return f"{tx_id} % {MARK_EVERY} = 0"


FILL = (
    "INSERT OR REPLACE INTO _chrono_tx_mark (tx_time, tx_id) "
    f"SELECT tx_time, tx_id FROM _chrono_tx WHERE {marked('tx_id')}"
)
"""Marks for transactions recorded before the marks table existed (a file's upgrade)."""


def tx_at_micros(ref: str) -> str:
    """SQL for the last transaction at or before ``ref`` (microseconds; 0 if none).

    ``ref`` is an SQL expression (a parameter or a literal), used twice: it must not be a
    costly subquery.
    """
    start = (
        f"coalesce((SELECT m.tx_id FROM _chrono_tx_mark AS m WHERE m.tx_time <= {ref} "
        "ORDER BY m.tx_time DESC LIMIT 1), 0)"
    )
    after = (
        f"(SELECT t.tx_id FROM _chrono_tx AS t WHERE t.tx_id >= {start} "
        f"AND t.tx_time > {ref} ORDER BY t.tx_id LIMIT 1)"
    )
    # One scalar subquery: SQLite runs it once per statement and keeps the value, where a
    # bare expression would be worked out again at every use (each key's seek in AS OF).
    return (
        f"(SELECT CASE WHEN {ref} IS NULL THEN 0 ELSE coalesce({after} - 1, "
        "(SELECT max(tx_id) FROM _chrono_tx), 0) END)"
    )


def tx_at(conn: sqlite3.Connection, micros: int) -> int:
    """The last transaction at or before ``micros`` (0 if none), as one query."""
    return conn.execute(f"SELECT {tx_at_micros('?1')}", (micros,)).fetchone()[0]
