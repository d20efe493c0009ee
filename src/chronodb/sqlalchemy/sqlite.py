"""``sqlite+chronodb``: SQLAlchemy's own SQLite dialect (pysqlite's) over :mod:`chronodb.dbapi`.

Everything SQLAlchemy knows of SQLite applies; what changes is the DBAPI module, so every
write is a versioned ChronoDB transaction, and reflection, which leaves ChronoDB's own
tables (``_chrono_*``) out.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import reflection

from chronodb.layout import is_internal
from chronodb.sqlalchemy.asof import AsOfExecution, install_orm_hooks


class SQLiteDialect_chronodb(AsOfExecution, SQLiteDialect_pysqlite):
    """SQLite through ChronoDB: ``create_engine("sqlite+chronodb:///app.db")``."""

    driver = "chronodb"
    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls) -> Any:
        from chronodb import dbapi

        install_orm_hooks()
        return dbapi

    @classmethod
    def get_async_dialect_cls(cls, url: Any) -> Any:
        """``create_async_engine("sqlite+chronodb:///...")`` takes the async twin."""
        from chronodb.sqlalchemy.aio import SQLiteDialect_chronodb_async

        return SQLiteDialect_chronodb_async

    # ------------------------------------------------------------------ reflection
    @reflection.cache
    def get_table_names(
        self,
        connection: Any,
        schema: str | None = None,
        sqlite_include_internal: bool = False,
        **kw: Any,
    ) -> list[str]:
        names = super().get_table_names(connection, schema, sqlite_include_internal, **kw)
        return _users_only(names, sqlite_include_internal)

    @reflection.cache
    def get_view_names(
        self,
        connection: Any,
        schema: str | None = None,
        sqlite_include_internal: bool = False,
        **kw: Any,
    ) -> list[str]:
        names = super().get_view_names(connection, schema, sqlite_include_internal, **kw)
        return _users_only(names, sqlite_include_internal)

    @reflection.cache
    def get_temp_table_names(  # type: ignore[override]  # SQLiteDialect's own signature
        self, connection: Any, sqlite_include_internal: bool = False, **kw: Any
    ) -> list[str]:
        names = super().get_temp_table_names(connection, sqlite_include_internal, **kw)
        return _users_only(names, sqlite_include_internal)

    @reflection.cache
    def get_temp_view_names(  # type: ignore[override]  # SQLiteDialect's own signature
        self, connection: Any, sqlite_include_internal: bool = False, **kw: Any
    ) -> list[str]:
        names = super().get_temp_view_names(connection, sqlite_include_internal, **kw)
        return _users_only(names, sqlite_include_internal)


def _users_only(names: list[str], include_internal: bool) -> list[str]:
    """``names`` without ChronoDB's own tables and views (unless asked for SQLite's and
    ChronoDB's internal ones too)."""
    return names if include_internal else [n for n in names if not is_internal(n)]


dialect = SQLiteDialect_chronodb
