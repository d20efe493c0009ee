"""``history(session, Model, pk)``: one row's versions as objects of its model.

The versions come from ChronoDB's own change history (``ChronoDB.get_change_history``), so
they hold every write, ORM, Core, bulk or plain SQL alike; each one's values pass through
the model's column types, as a query's would.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import inspect
from sqlalchemy.orm import Session

from chronodb.errors import ArgumentError

M = TypeVar("M")


@dataclass(frozen=True)
class Version(Generic[M]):
    """One version of a row: the object as it was, and the transaction that wrote it.

    ``obj`` is a transient instance of the model (not in any session) holding the row's
    values after the write; for a delete, the values the row had. ``operation`` is
    "INSERT", "UPDATE" or "DELETE".
    """

    obj: M
    operation: str
    tx_id: int
    tx_time: datetime
    user: str | None


def _chronodb_of(session: Session, model: type) -> Any:
    """The ChronoDB under the session's connection for ``model``."""
    connection = session.connection(bind_arguments={"mapper": inspect(model)})
    dbapi_connection = connection.connection.dbapi_connection
    db = getattr(dbapi_connection, "db", None)
    if db is None:
        raise ArgumentError(
            f"history() needs a session bound to a chronodb engine (sqlite+chronodb or "
            f"postgresql+chronodb), not {connection.engine.url.drivername}",
            argument="session",
            value=connection.engine.url.drivername,
        )
    return db


def history(session: Session, model: type[M], pk: Any) -> list[Version[M]]:
    """Every version of the ``model`` row whose primary key is ``pk``, oldest first.

    ``pk`` is the key's value (a tuple for a composite key). Writes the session has not
    committed are not in history yet.
    """
    mapper = inspect(model)
    table = mapper.local_table
    db = _chronodb_of(session, model)
    dialect = session.connection(bind_arguments={"mapper": mapper}).dialect
    entries = db.get_change_history(table.name, pk)
    processors = {
        column.name: column.type._cached_result_processor(dialect, None) for column in table.columns
    }
    by_column = {
        prop.columns[0].name: prop.key
        for prop in mapper.column_attrs
        if prop.columns[0].table is table
    }
    versions = []
    for entry in entries:
        values = entry["values"] if entry["operation"] != "DELETE" else entry.get("before")
        values = values or entry["values"]
        obj = mapper.class_manager.new_instance()
        for name, value in values.items():
            key = by_column.get(name)
            if key is None:
                continue
            process = processors.get(name)
            setattr(
                obj, key, process(value) if process is not None and value is not None else value
            )
        tx_time = entry["tx_time"]
        when = tx_time if isinstance(tx_time, datetime) else datetime.fromtimestamp(tx_time, UTC)
        versions.append(Version(obj, entry["operation"], entry["tx_id"], when, entry.get("user")))
    return versions
