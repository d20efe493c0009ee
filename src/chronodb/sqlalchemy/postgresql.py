"""``postgresql+chronodb``: SQLAlchemy's own psycopg dialect over :mod:`chronodb.dbapi`.

The SQL, types and reflection are SQLAlchemy's PostgreSQL dialect's; statements run through
ChronoDB's PostgreSQL engine, so writes are versioned by its triggers and temporal SQL works.
Each DBAPI connection is a ChronoDB connection in PEP 249's mode (a transaction always
open, as psycopg's), whose transactions are ChronoDB's; AUTOCOMMIT runs each statement on
its own. Server-side cursors, hstore registration and psycopg's notice handlers are not
offered (the psycopg connection is ChronoDB's).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql.base import PGDialect
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.engine import reflection
from sqlalchemy.engine.interfaces import IsolationLevel

from chronodb.errors import ConnectionLostError, NotSupportedError
from chronodb.layout import is_internal
from chronodb.sqlalchemy.asof import AsOfExecution, install_orm_hooks

_LEVELS: tuple[IsolationLevel, ...] = (
    "READ COMMITTED",
    "READ UNCOMMITTED",
    "REPEATABLE READ",
    "SERIALIZABLE",
)


def _database(connection: Any) -> Any:
    """The ChronoDB under a DB-API connection (the async adapter's too)."""
    return getattr(connection, "driver_connection", connection).db


class PGDialect_chronodb(AsOfExecution, PGDialect_psycopg):
    """PostgreSQL through ChronoDB: ``create_engine("postgresql+chronodb://user@host/db")``."""

    driver = "chronodb"
    chronodb_backend = "postgresql"
    supports_statement_cache = True
    supports_server_side_cursors = False

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("use_native_hstore", False)
        super().__init__(**kwargs)

    @classmethod
    def import_dbapi(cls) -> Any:
        from chronodb.sqlalchemy import pgdbapi

        install_orm_hooks()
        return pgdbapi

    @classmethod
    def get_async_dialect_cls(cls, url: Any) -> Any:
        """``create_async_engine("postgresql+chronodb://...")`` takes the async twin (never
        psycopg's own async dialect, which would bypass ChronoDB)."""
        from chronodb.sqlalchemy.aio import PGDialect_chronodb_async

        return PGDialect_chronodb_async

    def create_connect_args(self, url: Any) -> Any:
        location = url.set(drivername="postgresql").render_as_string(hide_password=False)
        return [location], {}

    # ------------------------------------------------------------------ transactions
    @property
    def _isolation_lookup(self) -> dict[str, str]:  # type: ignore[override]
        return {level: level for level in _LEVELS}

    def get_isolation_level_values(self, dbapi_connection: Any) -> list[IsolationLevel]:
        return [*_LEVELS, "AUTOCOMMIT"]

    def get_isolation_level(self, dbapi_connection: Any) -> IsolationLevel:
        was_open = dbapi_connection.in_transaction
        level = PGDialect.get_isolation_level(self, dbapi_connection)
        if not was_open:
            dbapi_connection.rollback()
        return level

    def set_isolation_level(self, dbapi_connection: Any, level: str) -> None:
        if level == "AUTOCOMMIT":
            dbapi_connection.autocommit = True
            return
        dbapi_connection.autocommit = False
        dbapi_connection.begin_statement = (
            "BEGIN" if level == "READ COMMITTED" else f"BEGIN ISOLATION LEVEL {level}"
        )

    def detect_autocommit_setting(self, dbapi_connection: Any) -> bool:
        return dbapi_connection.autocommit is True

    def _do_autocommit(self, connection: Any, value: bool) -> None:
        connection.autocommit = bool(value)

    def set_readonly(self, connection: Any, value: bool) -> None:
        if bool(value) != self.get_readonly(connection):
            raise NotSupportedError(
                "postgresql_readonly per transaction",
                "postgresql+chronodb",
                "open the database read-only (ChronoDB's read_only option) instead",
            )

    def get_readonly(self, connection: Any) -> bool:
        return bool(_database(connection).read_only)

    def set_deferrable(self, connection: Any, value: bool) -> None:
        if value:
            raise NotSupportedError("postgresql_deferrable transactions", "postgresql+chronodb")

    def get_deferrable(self, connection: Any) -> bool:
        return False

    def on_connect(self) -> Any:
        level = self.isolation_level

        def connect(conn: Any) -> None:
            # PEP 249's mode, as psycopg's: SQLAlchemy ends every transaction itself.
            conn.autocommit = False
            if level is not None:
                self.set_isolation_level(conn, level)

        return connect

    def do_ping(self, dbapi_connection: Any) -> bool:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT 1")
        finally:
            cursor.close()
        return True

    def is_disconnect(self, e: Any, connection: Any, cursor: Any) -> bool:
        if isinstance(e, ConnectionLostError):
            return True
        return connection is not None and getattr(connection, "closed", False) is True

    def _twophase_idle_check(self, dbapi_conn: Any) -> bool:
        return not dbapi_conn.in_transaction

    # ------------------------------------------------------------------ statements
    def do_execute(self, cursor: Any, statement: str, parameters: Any, context: Any = None) -> None:
        if not parameters and "%%" in statement:
            # The compiler doubled each % for psycopg, which undoes it only when given
            # parameters; ChronoDB passes none for an empty set, so undo it here.
            statement = statement.replace("%%", "%")
        super().do_execute(cursor, statement, parameters, context)

    # ------------------------------------------------------------------ reflection
    @reflection.cache
    def get_table_names(self, connection: Any, schema: str | None = None, **kw: Any) -> list[str]:
        names = super().get_table_names(connection, schema, **kw)
        return [n for n in names if not is_internal(n)]

    @reflection.cache
    def get_view_names(self, connection: Any, schema: str | None = None, **kw: Any) -> list[str]:
        names = super().get_view_names(connection, schema, **kw)
        return [n for n in names if not is_internal(n)]

    @reflection.cache
    def get_sequence_names(
        self, connection: Any, schema: str | None = None, **kw: Any
    ) -> list[str]:
        names = super().get_sequence_names(connection, schema, **kw)
        return [n for n in names if not is_internal(n)]


dialect = PGDialect_chronodb
