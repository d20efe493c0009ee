"""ChronoDB's history layout on PostgreSQL: versioning done by the database itself.

``install`` creates the shared objects (transactions, the commit step), ``version_table``
versions a table with PL/pgSQL triggers, and ``snapshots`` builds the SQL that reads a
table AS OF a point. Transaction ids follow commit order even with concurrent writers.
"""

from chronodb.postgres.install import horizon, installed
from chronodb.postgres.tables import Versioned, install, lookup, version_table

__all__ = ["Versioned", "horizon", "install", "installed", "lookup", "version_table"]
