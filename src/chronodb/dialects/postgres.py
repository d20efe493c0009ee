"""The PostgreSQL dialect: a server reached with psycopg 3, versioned by PL/pgSQL triggers
(``chronodb.postgres``), each write transaction's id given at COMMIT in commit order
(``chronodb.pgengine``)."""

from __future__ import annotations

from typing import Any

from chronodb.errors import ConfigError


class PostgresDialect:
    name = "postgresql"
    title = "PostgreSQL"
    unsupported: dict[str, str] = {
        "prune_history": "pruning history (prune_history, retention_days)",
        "apply_retention": "pruning history (prune_history, retention_days)",
        "erase": "erasing a row's history (erase)",
        "check_history": "checking history against the tables (check_history)",
        "get_health_report": "the health report (get_health_report)",
        "foreign_keys": "foreign_keys()",
        "views": "views()",
    }

    def open_backend(self, location: str, **options: Any) -> Any:
        from chronodb.storage.postgres import PostgresBackend  # psycopg: the postgres extra

        if options.pop("durability", "normal") != "normal":
            raise ConfigError(
                "durability is a SQLite option; on PostgreSQL set synchronous_commit instead"
            )
        options.pop("wal", None)
        return PostgresBackend(location, **options)

    def engine(self, backend: Any, **options: Any) -> Any:
        from chronodb.pgengine import PostgresEngine

        return PostgresEngine(backend, **options)


POSTGRES = PostgresDialect()
