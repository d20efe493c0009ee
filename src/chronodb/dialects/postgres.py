"""The PostgreSQL dialect: a server reached with psycopg 3, versioned by PL/pgSQL triggers
(``chronodb.postgres``), each write transaction's id given at COMMIT in commit order
(``chronodb.pgengine``)."""

from __future__ import annotations

from typing import Any

from chronodb.errors import ConfigError


class PostgresDialect:
    name = "postgresql"
    title = "PostgreSQL"
    unsupported: dict[str, str] = {}

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

    def planner(self, engine: Any) -> Any:
        from chronodb.pgengine.planner import PostgresPlanner

        return PostgresPlanner(engine)

    def health(self, engine: Any) -> Any:
        from chronodb.pgengine.health import PostgresHealth

        return PostgresHealth(engine)


POSTGRES = PostgresDialect()
