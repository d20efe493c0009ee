"""Storage backends: where rows and their history live."""

from __future__ import annotations

from typing import Any

from chronodb.storage.base import Backend
from chronodb.storage.sqlite import SQLiteBackend
from chronodb.storage.urls import is_postgres_url


def open_backend(path: str, **options: Any) -> Any:
    """The backend for ``path``, opened with ``options``: a ``postgresql://`` or
    ``postgres://`` URL opens a :class:`~chronodb.storage.postgres.PostgresBackend`
    (``timeout``, ``read_only``), anything else a SQLite file or ``":memory:"`` (``wal``,
    ``durability``, ``timeout``, ``read_only``)."""
    if is_postgres_url(path):
        from chronodb.storage.postgres import PostgresBackend  # psycopg: the postgres extra

        return PostgresBackend(path, **options)
    return SQLiteBackend(path, **options)


__all__ = ["Backend", "SQLiteBackend", "open_backend"]
