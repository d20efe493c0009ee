"""The way back: a plain SQLite file of a ChronoDB file's tables, now or at a past point.

The export holds the user's tables with their own CREATE TABLE statements, their indexes,
views and triggers, and the rows the tables held at the point; no history, catalog, ledger,
ChronoDB trigger or write guard. Any SQLite tool reads and writes it.
"""

from __future__ import annotations

import sqlite3
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chronodb.database import ChronoDB
from chronodb.errors import ChronoDBError, ChronoDBWarning
from chronodb.versioning.tables import is_internal, quote, unversionable_tables

BATCH_ROWS = 10_000
"""Rows written to the export per executemany."""


@dataclass
class ExportReport:
    """What :func:`export` wrote: rows per table, and what it left out or could not date."""

    path: str
    as_of: Any
    rows: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _point(as_of: Any) -> tuple[str, Any]:
    """The AS OF clause and its parameter: a whole number is a transaction id, anything
    else a time, as ``AS OF`` takes them."""
    if isinstance(as_of, int) and not isinstance(as_of, bool):
        return "AS OF TRANSACTION ?", as_of
    if isinstance(as_of, str) and as_of.strip().isdigit():
        return "AS OF TRANSACTION ?", int(as_of)
    return "AS OF TIMESTAMP ?", as_of


def _schema(conn: sqlite3.Connection) -> list[tuple[str, str, str, str]]:
    """(type, name, table, sql) of the user's schema objects, in creation order."""
    skipped = {name.lower() for name, why in unversionable_tables(conn).items() if "shadow" in why}
    rows = conn.execute(
        "SELECT type, name, tbl_name, sql FROM main.sqlite_schema WHERE sql IS NOT NULL "
        "ORDER BY rowid"
    ).fetchall()
    return [
        (kind, name, table, sql)
        for kind, name, table, sql in rows
        if not is_internal(name) and not is_internal(table) and table.lower() not in skipped
    ]


def _insertable(conn: sqlite3.Connection, table: str) -> list[str]:
    """The columns of ``table`` an INSERT may name (not generated, not hidden)."""
    return [r[1] for r in conn.execute(f"PRAGMA table_xinfo({quote(table)})") if r[6] == 0]


def _copy(
    out: sqlite3.Connection, table: str, columns: list[str], rows: list[Any], names: list[str]
) -> int:
    wanted = [c for c in columns if c in names]
    at = [names.index(c) for c in wanted]
    insert = (
        f"INSERT INTO {quote(table)} ({', '.join(quote(c) for c in wanted)}) "
        f"VALUES ({', '.join('?' * len(wanted))})"
    )
    for start in range(0, len(rows), BATCH_ROWS):
        out.executemany(insert, ([row[i] for i in at] for row in rows[start : start + BATCH_ROWS]))
    return len(rows)


def _read(db: ChronoDB, table: str, as_of: Any, versioned: set[str]) -> tuple[Any, list[str]]:
    """The rows of ``table`` at the point (None: it did not exist then) and notes."""
    if as_of is None or table not in versioned:
        notes = []
        if as_of is not None:
            notes.append(f"{table}: not versioned, exported with its current rows")
        return db.execute(f"SELECT * FROM {quote(table)}"), notes
    clause, value = _point(as_of)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ChronoDBWarning)
        result = db.execute(f"SELECT * FROM {quote(table)} {clause}", [value])
    if any(issubclass(w.category, ChronoDBWarning) for w in caught) and not len(result):
        return None, [f"{table}: did not exist at {as_of}, left out"]
    return result, []


def _is_chronodb(path: str | Path) -> bool:
    conn = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
    try:
        found = "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = '_chrono_meta'"
        return conn.execute(found).fetchone() is not None
    except sqlite3.DatabaseError as err:
        raise ChronoDBError(f"{path} is not a SQLite database: {err}") from err
    finally:
        conn.close()


def export(source: str | Path, target: str | Path, *, as_of: Any = None) -> ExportReport:
    """Write a plain SQLite file at ``target`` of ``source``'s tables as they are now or, with
    ``as_of`` (a transaction id or a time), as they were then. ``target`` must not exist."""
    if not Path(source).exists():
        raise ChronoDBError(f"No such database file: {source}")
    if Path(target).exists():
        raise ChronoDBError(f"{target} exists already; export writes a new file")
    if not _is_chronodb(source):
        raise ChronoDBError(
            f"{source} is not a ChronoDB file: it is plain SQLite already "
            f"(`chronodb adopt {source}` versions it)"
        )
    report = ExportReport(str(target), as_of)
    db = ChronoDB(source, read_only=True)
    out = sqlite3.connect(target, isolation_level=None)
    try:
        conn = db.connection
        versioned = set(db.tables())
        schema = _schema(conn)
        virtual = set(unversionable_tables(conn))
        out.execute("BEGIN")
        left_out: set[str] = set()
        for kind, name, _table, sql in schema:
            if kind != "table":
                continue
            result, notes = _read(db, name, as_of, versioned)
            report.notes += notes
            if result is None:
                left_out.add(name)
                continue
            out.execute(sql)
            columns = _insertable(out, name) if name not in virtual else result.columns
            report.rows[name] = _copy(out, name, columns, list(result), result.columns)
        if as_of is None:
            _copy_sequences(conn, out)
        for kind, _name, table, sql in schema:
            if kind in ("index", "view", "trigger") and table not in left_out:
                out.execute(sql)
        out.execute("COMMIT")
    except BaseException:
        out.close()
        Path(target).unlink(missing_ok=True)
        db.close()
        raise
    out.close()
    db.close()
    return report


def _copy_sequences(conn: sqlite3.Connection, out: sqlite3.Connection) -> None:
    """AUTOINCREMENT's counters, so the export never reuses an id the source handed out."""
    has = "SELECT 1 FROM {}.sqlite_schema WHERE name = 'sqlite_sequence'"
    if conn.execute(has.format("main")).fetchone() is None:
        return
    if out.execute(has.format("main")).fetchone() is None:
        return
    for name, seq in conn.execute("SELECT name, seq FROM main.sqlite_sequence"):
        if not is_internal(name):
            out.execute(
                "INSERT INTO sqlite_sequence (name, seq) SELECT ?1, 0 "
                "WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = ?1)",
                (name,),
            )
            out.execute("UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = ?", (seq, name))
