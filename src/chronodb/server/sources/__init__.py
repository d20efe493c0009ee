"""Where the change feed's changes come from: one source per backend, behind one interface.

A :class:`ChangeSource` gives the feed two things. A :class:`Doorbell` says that something
may have been committed (SQLite: ``PRAGMA data_version`` checked every few milliseconds;
PostgreSQL: a NOTIFY sent by the commit step, heard on a connection of its own). A
:class:`Reader` then reads what was committed from history, on a connection of its own:
history stays the source of truth, so a client resuming with ``since_tx`` gets exactly what
it missed, whichever process wrote it.

    sqlite.py    SqliteSource: the file's history tables and its data_version
    postgres.py  PostgresSource: the server's history tables, LISTEN/NOTIFY, the horizon
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from chronodb.server.events import Change
from chronodb.storage.urls import is_postgres_url

if TYPE_CHECKING:
    from chronodb.database import ChronoDB


@dataclass(frozen=True)
class TableShape:
    """A table as a subscription sees it: its name, its columns, and which shape this is
    (``era`` differs when the columns change, so filters compiled for one are not shared
    with another)."""

    name: str
    columns: tuple[str, ...]
    era: str


class Reader(Protocol):
    """Reads committed changes from history on a connection of its own (one thread at a
    time). Every answer is bounded by :meth:`last_tx`'s kind of point: no transaction up to
    it is missing or half seen."""

    def last_tx(self) -> int:
        """The last transaction every reader can see whole (0 if none)."""

    def tx_at(self, point: Any) -> int:
        """The last transaction committed at or before a point in time (0 if none)."""

    def resolve(self, table: str) -> TableShape | None:
        """The table as it is now, or None if there is no such versioned table."""

    def step_after(self, table: str, lo: int, versions: int) -> int | None:
        """A transaction ``hi`` such that ``(lo, hi]`` holds about ``versions`` of
        ``table``'s row versions (at least one transaction's), or None if fewer are left."""

    def changes(self, tables: Iterable[str], lo: int, hi: int) -> list[Change]:
        """Row changes of ``tables`` (lower-cased names) made by transactions ``(lo, hi]``,
        in commit order."""

    def close(self) -> None: ...


class Doorbell(Protocol):
    """Tells the feed when to read: never misses a commit, may ring when there was none."""

    async def start(self) -> None:
        """Begin listening; commits from now on ring (call before the first read)."""

    async def wait(self) -> None:
        """Return once something may have been committed since :meth:`rang` last said so."""

    def rang(self) -> bool:
        """Whether something may have been committed since the last call (non-blocking)."""

    async def close(self) -> None: ...


class ChangeSource(Protocol):
    location: str  # what was served, for messages (a URL without its password)

    def reader(self) -> Reader:
        """A new reader on a connection of its own."""

    def doorbell(self) -> Doorbell:
        """A new doorbell for one feed."""

    def schema_version(self, db: ChronoDB) -> Hashable:
        """A value that changes whenever ``db``'s tables or columns do (GraphQL's schema
        is rebuilt then)."""


def change_source(location: str, *, interval: float = 0.005) -> ChangeSource:
    """The change source for a database file or a ``postgresql://`` URL.

    ``interval``: seconds between checks of a SQLite file (PostgreSQL needs none).
    """
    if is_postgres_url(location):
        from chronodb.server.sources.postgres import PostgresSource  # psycopg

        return PostgresSource(location)
    from chronodb.server.sources.sqlite import SqliteSource

    return SqliteSource(location, interval)


__all__ = ["ChangeSource", "Doorbell", "Reader", "TableShape", "change_source"]
