"""The row a query always returns (an aggregate, a function call), typed as present."""

from __future__ import annotations

from typing import Any

import psycopg

from chronodb.errors import StorageError


def one(cursor: psycopg.Cursor[Any]) -> Any:
    """The first row of ``cursor``; a missing one means the server broke its own contract."""
    row = cursor.fetchone()
    if row is None:
        raise StorageError("PostgreSQL answered no row to a query that always returns one")
    return row
