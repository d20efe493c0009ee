""":mod:`chronodb.dbapi` as SQLAlchemy's psycopg dialect expects its DBAPI module to look.

The connection underneath is psycopg's, so the dialect's psycopg-specific parameter
wrappers (``Json``, ``Range``) reach psycopg unchanged; this module adds the names the
dialect reads from ``psycopg`` itself (``adapters``, ``IsolationLevel``, ``__version__``)
and psycopg's ``pyformat`` parameter style, which ChronoDB's PostgreSQL engine takes too.
"""

from __future__ import annotations

from psycopg import IsolationLevel, adapters
from psycopg import __version__ as __version__

from chronodb import dbapi as _dbapi
from chronodb.dbapi import *  # noqa: F403  (the module this one stands for)

paramstyle = "pyformat"

__all__ = [*_dbapi.__all__, "IsolationLevel", "adapters"]
