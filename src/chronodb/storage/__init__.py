"""Storage backends: where rows and their history live."""

from __future__ import annotations

from typing import Any

from chronodb.storage.base import Backend
from chronodb.storage.sqlite import SQLiteBackend


def open_backend(path: str, **options: Any) -> Backend:
    """The backend for ``path`` (a file or ``":memory:"``: SQLite), opened with ``options``
    (``wal``, ``durability``, ``timeout``, ``read_only``)."""
    return SQLiteBackend(path, **options)


__all__ = ["Backend", "SQLiteBackend", "open_backend"]
