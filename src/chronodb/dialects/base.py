"""What a backend's dialect provides: the seam between ChronoDB's facade and a backend.

Everything that differs between SQLite and PostgreSQL is reached through a :class:`Dialect`:
how a database is opened (connection, options, errors translated by the backend), which
engine runs its statements (the layout's DDL and versioning, how a write transaction gets
its id, the temporal rewrite's snapshot SQL, parameter conversion), and which of the
facade's features the backend offers yet.
"""

from __future__ import annotations

from typing import Any, Protocol


class Dialect(Protocol):
    name: str  # "sqlite", "postgresql": sqlglot's dialect name in chronodb.sql.dialect
    title: str  # for messages: "SQLite", "PostgreSQL"
    # Facade features not offered on this backend yet: method name -> what to call it.
    unsupported: dict[str, str]

    def open_backend(self, location: str, **options: Any) -> Any:
        """Connect to ``location`` (a file, or a server URL) with the facade's options."""

    def engine(self, backend: Any, **options: Any) -> Any:
        """The engine that runs statements on ``backend``."""

    def planner(self, engine: Any) -> Any:
        """The learned optimizer's access to ``engine``'s planner (``optimizer/planner.py``)."""

    def health(self, engine: Any) -> Any:
        """What the health report reads from ``engine``'s database (``optimizer/health.py``)."""
