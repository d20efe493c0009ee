"""Adoption: versioning the tables a file already holds, their rows as first versions.

All of a file's unversioned tables are versioned in the one SQLite transaction that opening
it runs (``Engine._create_catalog``), so a process killed midway leaves the file as it was.
Whoever wants to watch the copy (the CLI's progress bar) sets :data:`PROGRESS` around
opening the file; the copy then runs in batches and reports each batch's rows.

Each adoption leaves a row in ``_chrono_meta`` (key ``adopt <tx_id>``, value the JSON list of
the tables it versioned), ledger or not, so the transaction can be told apart from the
writes after it (:func:`recorded`, ``ChronoDB.transactions()``).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from contextvars import ContextVar

from chronodb.layout import META
from chronodb.versioning.tables import register_table

PROGRESS: ContextVar[Callable[[int], None] | None] = ContextVar("adoption_progress", default=None)
"""Called with the number of rows each batch of an adoption copied (None: not watched)."""


def kinds(tables: Sequence[str]) -> list[str]:
    """The ledger's statement kinds for the transaction that adopts ``tables``."""
    return ["ADOPT", f"TABLES {len(tables)}"]


_KEY = "adopt "
"""The start of an adoption's key in ``_chrono_meta``; the transaction id follows."""


def record(conn: sqlite3.Connection, tables: Sequence[str], tx: int) -> None:
    """Note in the open transaction ``tx`` that it is the adoption of ``tables``."""
    conn.execute(
        f"INSERT INTO main.{META} (key, value) VALUES (?, ?)",
        (f"{_KEY}{tx}", json.dumps(list(tables))),
    )


def recorded(conn: sqlite3.Connection) -> dict[int, list[str]]:
    """The file's adoptions: transaction id -> the tables it versioned."""
    rows = conn.execute(
        f"SELECT key, value FROM main.{META} WHERE substr(key, 1, ?) = ?",
        (len(_KEY), _KEY),
    )
    return {int(key[len(_KEY) :]): json.loads(value) for key, value in rows}


def version_tables(conn: sqlite3.Connection, tables: Sequence[str], tx: int, us: int) -> None:
    """Version each of ``tables`` in the open transaction ``(tx, us)``, rows included."""
    on_rows = PROGRESS.get()
    for name in tables:
        register_table(conn, name, tx, us, on_rows)
