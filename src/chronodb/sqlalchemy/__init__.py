"""ChronoDB under SQLAlchemy 2.0: a driver of SQLAlchemy's own SQLite and PostgreSQL dialects,
and time travel for Core and ORM.

``create_engine("sqlite+chronodb:///app.db")`` and
``create_engine("postgresql+chronodb://user@host/db")`` (entry points in
``sqlalchemy.dialects``) run SQLAlchemy's SQLite and PostgreSQL dialects over
:mod:`chronodb.dbapi`: every write, Core, ORM or bulk, is a versioned ChronoDB transaction,
and ``MetaData.create_all`` makes versioned tables. Time travel:

- :func:`for_system_time` (a table or mapped class, read as of a point, over a range, or
  all versions) in ``select()`` and joins;
- the execution option ``chronodb_as_of`` (on an engine, a connection, a session's bind or
  one statement): every table the statements read is read as of that point, and so are the
  relationships the ORM loads, lazily or eagerly, for objects loaded that way;
- :func:`history`: one row's versions as objects of the model, with tx metadata.
"""

from chronodb.sqlalchemy.asof import AS_OF_OPTION
from chronodb.sqlalchemy.history import Version, history
from chronodb.sqlalchemy.temporal import TemporalAlias, for_system_time, transaction

__all__ = [
    "AS_OF_OPTION",
    "TemporalAlias",
    "Version",
    "for_system_time",
    "history",
    "transaction",
]
