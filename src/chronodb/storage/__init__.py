"""Storage backends: where rows and their history live."""

from chronodb.storage.base import Backend
from chronodb.storage.sqlite import SQLiteBackend

__all__ = ["Backend", "SQLiteBackend"]
