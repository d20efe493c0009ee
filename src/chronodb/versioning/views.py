"""Every view's definition over time, so a view read AS OF a point is the view it was then.

Each row of ``_chrono_views`` is one definition of one view, valid over the transactions
``[from_tx, to_tx)``. :func:`record` compares the views in ``sqlite_schema`` with the open
rows after each statement that may change them: CREATE and DROP VIEW, and ALTER TABLE,
whose renames SQLite writes into the views that name the table or column. A view found
when a file is first upgraded (or made by another program) has no known beginning: its
definition counts from the file's first transaction.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from chronodb.layout import INTERNAL_LIKE, VIEWS

DDL = (
    f"CREATE TABLE IF NOT EXISTS {VIEWS} (id INTEGER PRIMARY KEY, name TEXT NOT NULL, "
    "sql TEXT NOT NULL, from_tx INTEGER NOT NULL, from_us INTEGER NOT NULL, to_tx INTEGER, "
    "to_us INTEGER)"
)

_CURRENT = (  # the user's views (not ChronoDB's own, such as _chrono_ledger)
    "SELECT name, sql FROM main.sqlite_schema WHERE type = 'view' AND sql IS NOT NULL "
    f"AND name NOT LIKE {INTERNAL_LIKE}"
)


@dataclass(frozen=True, slots=True)
class ViewDefinition:
    """One view's CREATE VIEW statement over a span of transactions."""

    name: str
    sql: str
    from_tx: int
    from_us: int
    to_tx: int | None
    to_us: int | None

    def covers(self, unit: str, value: int) -> bool:
        """Whether the definition held at transaction (``unit`` "TRANSACTION") or time
        (microseconds) ``value``."""
        start, end = (
            (self.from_tx, self.to_tx) if unit == "TRANSACTION" else (self.from_us, self.to_us)
        )
        return start <= value and (end is None or value < end)


class ViewHistory:
    """An in-memory copy of ``_chrono_views`` and of the views the file holds now."""

    def __init__(self) -> None:
        self._by_name: dict[str, list[ViewDefinition]] = {}
        self._now: dict[str, str] = {}

    @classmethod
    def of(cls, definitions: list[ViewDefinition], now: dict[str, str]) -> ViewHistory:
        """A history of ``definitions`` (in the order they were made) and of the views
        ``now`` (name -> definition), read from elsewhere than a SQLite file (PostgreSQL's
        ``_chrono_views``, ``chronodb/postgres/views.py``)."""
        history = cls()
        for definition in definitions:
            history._by_name.setdefault(definition.name.lower(), []).append(definition)
        history._now = {name.lower(): sql for name, sql in now.items()}
        return history

    def load(self, conn: sqlite3.Connection) -> None:
        by_name: dict[str, list[ViewDefinition]] = {}
        rows = conn.execute(
            f"SELECT name, sql, from_tx, from_us, to_tx, to_us FROM main.{VIEWS} ORDER BY id"
        )
        for row in rows:
            by_name.setdefault(row[0].lower(), []).append(ViewDefinition(*row))
        self._by_name = by_name
        self._now = {name.lower(): sql for name, sql in conn.execute(_CURRENT)}

    def known(self, name: str) -> bool:
        """Whether ``name`` is, or ever was, a view."""
        lowered = name.lower()
        return lowered in self._by_name or lowered in self._now

    def at(self, name: str, unit: str, value: int) -> str | None:
        """The CREATE VIEW statement of ``name`` at a point, or None if it was no view then.

        A view no definition was recorded for (made by another program since) is taken as
        it is now, at every point.
        """
        lowered = name.lower()
        recorded = self._by_name.get(lowered)
        if recorded is None:
            return self._now.get(lowered)
        for definition in recorded:
            if definition.covers(unit, value):
                return definition.sql
        return None

    def all_at(self, unit: str, value: int) -> dict[str, str]:
        """Every view at a point: its name (lower case) -> its CREATE VIEW statement."""
        names = [*self._by_name, *(n for n in self._now if n not in self._by_name)]
        found = {name: self.at(name, unit, value) for name in names}
        return {name: sql for name, sql in found.items() if sql is not None}

    def latest(self, name: str) -> str | None:
        """The view's definition now, or its last one if it was dropped."""
        lowered = name.lower()
        recorded = self._by_name.get(lowered)
        return self._now.get(lowered) or (recorded[-1].sql if recorded else None)


def record(conn: sqlite3.Connection, tx: int, us: int) -> None:
    """Close the definitions of views changed or dropped and open those of views made or
    changed, as of transaction ``tx`` at ``us``; nothing if the views are as recorded."""
    now = {name: sql for name, sql in conn.execute(_CURRENT)}
    open_rows = conn.execute(
        f"SELECT id, name, sql FROM main.{VIEWS} WHERE to_tx IS NULL"
    ).fetchall()
    recorded = {name: (id_, sql) for id_, name, sql in open_rows}
    gone = [id_ for name, (id_, sql) in recorded.items() if now.get(name) != sql]
    conn.executemany(
        f"UPDATE main.{VIEWS} SET to_tx = ?, to_us = ? WHERE id = ?",
        [(tx, us, id_) for id_ in gone],
    )
    conn.executemany(
        f"INSERT INTO main.{VIEWS} (name, sql, from_tx, from_us) VALUES (?, ?, ?, ?)",
        [
            (name, sql, tx, us)
            for name, sql in now.items()
            if name not in recorded or recorded[name][1] != sql
        ],
    )
