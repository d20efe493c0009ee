"""Adoption: versioning the tables a file already holds, their rows as first versions.

All of a file's unversioned tables are versioned in the one SQLite transaction that opening
it runs (``ChronoDB._create_catalog``), so a process killed midway leaves the file as it was.
Whoever wants to watch the copy (the CLI's progress bar) sets :data:`PROGRESS` around
opening the file; the copy then runs in batches and reports each batch's rows.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from contextvars import ContextVar

from chronodb.versioning.tables import register_table

PROGRESS: ContextVar[Callable[[int], None] | None] = ContextVar("adoption_progress", default=None)
"""Called with the number of rows each batch of an adoption copied (None: not watched)."""


def kinds(tables: Sequence[str]) -> list[str]:
    """The ledger's statement kinds for the transaction that adopts ``tables``."""
    return ["ADOPT", f"TABLES {len(tables)}"]


def version_tables(conn: sqlite3.Connection, tables: Sequence[str], tx: int, us: int) -> None:
    """Version each of ``tables`` in the open transaction ``(tx, us)``, rows included."""
    on_rows = PROGRESS.get()
    for name in tables:
        register_table(conn, name, tx, us, on_rows)
