"""Adopting a SQLite file other tools made: what it will do, then doing it.

:func:`plan_adoption` reads the file (never writes it) and says which tables will be
versioned, with how many rows, which are left unversioned and why, and about how much
history their first versions take. :func:`adopt` opens the file with ChronoDB, which versions
them all in one transaction (``versioning/adoption.py``), reporting progress as it copies.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from chronodb.database import ChronoDB
from chronodb.errors import ChronoDBError
from chronodb.layout import SCHEMA
from chronodb.storage.sqlite_errors import about_the_file
from chronodb.versioning.adoption import PROGRESS
from chronodb.versioning.catalog import Catalog
from chronodb.versioning.tables import (
    quote,
    table_shape,
    unversionable_tables,
    unversioned_tables,
    user_tables,
)

SAMPLE_ROWS = 1000
"""Rows of each table whose size is measured to estimate the history adoption writes."""
VERSION_OVERHEAD = 40
"""Bytes a version takes beyond its values: its sequence, transaction, operation, the
history index entry and the key set entry (keys counted once more, roughly)."""


@dataclass(frozen=True)
class TablePlan:
    """One table adoption versions: its rows become their first versions."""

    name: str
    rows: int
    key: str
    """What identifies a row in history: "primary key (a, b)" or "rowid"."""
    history_bytes: int
    """About how many bytes of history the first versions take."""


@dataclass(frozen=True)
class AdoptionPlan:
    """What adopting the file at ``path`` does."""

    path: str
    tables: tuple[TablePlan, ...]
    skipped: tuple[tuple[str, str], ...]
    """(table, why) of each table left unversioned."""
    versioned: tuple[str, ...]
    """Tables ChronoDB versions already."""

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)

    @property
    def history_bytes(self) -> int:
        return sum(t.history_bytes for t in self.tables)

    def describe(self) -> list[str]:
        """The plan as lines a person reads before it runs."""
        if not self.tables:
            lines = [f"{self.path}: nothing to adopt, every table is versioned already"]
        else:
            lines = [
                f"{self.path}: {len(self.tables)} table(s) to version, {self.rows} row(s) "
                f"as their first versions, about {human_size(self.history_bytes)} of history, "
                "in one transaction:"
            ]
            lines += [f"  version {t.name}: {t.rows} row(s), by {t.key}" for t in self.tables]
        lines += [f"  skip {name}: {why}" for name, why in self.skipped]
        if self.versioned and self.tables:
            lines.append(f"  already versioned: {', '.join(self.versioned)}")
        return lines


def human_size(n: int) -> str:
    """``n`` bytes as a person reads it: 512 B, 3.1 KB, 4.0 MB."""
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


def _read_only(path: str) -> sqlite3.Connection:
    if not Path(path).exists():
        raise ChronoDBError(f"No such database file: {path}")
    try:
        conn = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
        conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()
    except sqlite3.DatabaseError as err:
        raise about_the_file(err, str(path)) or ChronoDBError(f"{path}: {err}") from err
    return conn


def _unversioned(conn: sqlite3.Connection) -> tuple[list[str], list[str]]:
    """(tables to version, tables versioned already) of the file."""
    has_catalog = conn.execute(
        f"SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = '{SCHEMA}'"
    ).fetchone()
    if has_catalog is None:
        return user_tables(conn), []
    catalog = Catalog()
    catalog.load(conn)
    missing = unversioned_tables(conn, catalog)
    return missing, [t for t in user_tables(conn) if t not in missing]


def _table_plan(conn: sqlite3.Connection, name: str) -> TablePlan:
    cols, pk = table_shape(conn, name)
    rows = conn.execute(f"SELECT count(*) FROM {quote(name)}").fetchone()[0]
    sizes = " + ".join(f"length(quote({quote(c)}))" for c, _type in cols) or "0"
    average = conn.execute(
        f"SELECT avg({sizes}) FROM (SELECT * FROM {quote(name)} LIMIT {SAMPLE_ROWS})"
    ).fetchone()[0]
    key = f"primary key ({', '.join(pk)})" if pk else "rowid"
    return TablePlan(name, rows, key, int(rows * ((average or 0) + VERSION_OVERHEAD)))


def plan_adoption(path: str | Path) -> AdoptionPlan:
    """What adopting the file at ``path`` will do; reads the file, writes nothing."""
    conn = _read_only(str(path))
    try:
        missing, versioned = _unversioned(conn)
        tables = tuple(_table_plan(conn, name) for name in missing)
        skipped = tuple(unversionable_tables(conn).items())
    finally:
        conn.close()
    return AdoptionPlan(str(path), tables, skipped, tuple(versioned))


def adopt(
    path: str | Path,
    *,
    user: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> AdoptionPlan:
    """Version every unversioned table of the file at ``path`` in one transaction.

    ``progress`` is called with the number of rows each batch copied. Returns the plan it
    carried out. A process killed midway leaves the file as it was.
    """
    plan = plan_adoption(path)
    token = PROGRESS.set(progress)
    try:
        ChronoDB(path, user=user).close()
    finally:
        PROGRESS.reset(token)
    return plan
