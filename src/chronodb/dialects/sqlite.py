"""The SQLite dialect: an embedded file, versioned by this connection's TEMP triggers, each
write transaction's id allocated at BEGIN (``chronodb.engine``)."""

from __future__ import annotations

from typing import Any

from chronodb.engine import Engine
from chronodb.optimizer.sqlite_health import SQLiteHealth
from chronodb.optimizer.sqlite_planner import SQLitePlanner
from chronodb.storage.sqlite import SQLiteBackend


class SQLiteDialect:
    name = "sqlite"
    title = "SQLite"
    unsupported: dict[str, str] = {}

    def open_backend(self, location: str, **options: Any) -> SQLiteBackend:
        return SQLiteBackend(location, **options)

    def engine(self, backend: Any, **options: Any) -> Engine:
        return Engine(backend, **options)

    def planner(self, engine: Engine) -> SQLitePlanner:
        return SQLitePlanner(engine)

    def health(self, engine: Engine) -> SQLiteHealth:
        return SQLiteHealth(engine)


SQLITE = SQLiteDialect()
