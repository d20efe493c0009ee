"""The way back: a plain SQLite file of a ChronoDB file's tables, now or at a past point.

The export holds the user's tables with their own CREATE TABLE statements, their indexes,
views and triggers, and the rows the tables held at the point; no history, catalog, ledger,
ChronoDB trigger or write guard. Any SQLite tool reads and writes it.

At a past point each table is written as it was then: the tables that existed then (dropped
ones too, renamed ones under their name of then), with the columns they had then, and the
views of then. A table whose shape changed since has no CREATE TABLE statement of then on
record: it is made from the catalog's columns (declared types, collations) and key, without
its other constraints, indexes and triggers, and a note says so. Tables ChronoDB does not
version (FTS5 and other virtual tables) have no past: they are written with their current
rows, and a note says so.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chronodb.database import ChronoDB
from chronodb.errors import ChronoDBError
from chronodb.introspect import point
from chronodb.layout import META, is_internal
from chronodb.storage.sqlite_errors import about_the_file
from chronodb.versioning import timeline
from chronodb.versioning.catalog import Catalog
from chronodb.versioning.tables import create_table_sql, quote, unversionable_tables

BATCH_ROWS = 10_000
"""Rows written to the export per executemany."""


@dataclass
class ExportReport:
    """What :func:`export` wrote: rows per table, and what it left out or wrote differently."""

    path: str
    as_of: Any
    rows: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Table:
    """One table of the export: how it is made and where its rows come from."""

    name: str
    sql: str
    select: str
    params: tuple[int, ...] = ()
    virtual: bool = False
    own: bool = True
    """Whether ``sql`` is the table's own statement: its indexes and triggers go with it."""


def _bound(conn: sqlite3.Connection, as_of: Any) -> int:
    """The point as a transaction bound: a transaction id, or the last transaction at or
    before a time (``introspect.point`` reads which)."""
    kind, value = point(as_of)
    return value if kind == "TRANSACTION" else timeline.tx_at(conn, value)


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


def _now(schema: list[tuple[str, str, str, str]], virtual: set[str]) -> list[_Table]:
    return [
        _Table(name, sql, f"SELECT * FROM {quote(name)}", virtual=name in virtual)
        for kind, name, _table, sql in schema
        if kind == "table"
    ]


def _then(
    catalog: Catalog,
    schema: list[tuple[str, str, str, str]],
    virtual: set[str],
    tx: int,
    report: ExportReport,
) -> list[_Table]:
    """The tables at transaction ``tx``, each with its columns of then; notes what differs."""
    made = {name.lower(): sql for kind, name, _table, sql in schema if kind == "table"}
    found: list[_Table] = []
    for then in sorted((v for v in catalog.versions if v.covers_tx(tx)), key=lambda v: v.table_id):
        now = next((v for v in catalog.versions_of(then.table_id) if v.to_tx is None), None)
        own = (
            now is not None
            and (now.name, now.keys, now.columns) == (then.name, then.keys, then.columns)
            and then.name.lower() in made
        )
        if not own:
            since = "dropped" if now is None else "renamed" if now.name != then.name else "changed"
            report.notes.append(
                f"{then.name}: {since} since {report.as_of}, whose CREATE TABLE is not stored; "
                "made from its columns and key, without its other constraints, indexes and "
                "triggers"
            )
        select = f"SELECT * FROM {quote(then.name)} AS OF TRANSACTION ?"
        sql = made[then.name.lower()] if own else create_table_sql(then)
        found.append(_Table(then.name, sql, select, (tx,), own=own))
    at_point = {t.name.lower() for t in found}
    for kind, name, _table, sql in schema:
        if kind != "table" or name.lower() in at_point:
            continue
        if catalog.current(name) is None:
            report.notes.append(
                f"{name}: not versioned, exported with its current rows, not those of "
                f"{report.as_of}"
            )
            select = f"SELECT * FROM {quote(name)}"
            found.append(_Table(name, sql, select, virtual=name in virtual))
        else:
            report.notes.append(f"{name}: did not exist at {report.as_of}, left out")
    return found


def _dependents(
    schema: list[tuple[str, str, str, str]], tables: list[_Table], views: dict[str, str]
) -> list[tuple[str, str]]:
    """(name, sql) of the views, then of the indexes and triggers of the tables written
    with their own SQL."""
    own = {t.name.lower() for t in tables if t.own}
    on = own | set(views)
    return [*views.items()] + [
        (name, sql)
        for kind, name, table, sql in schema
        if kind in ("index", "trigger") and table.lower() in on
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


def _is_chronodb(path: str | Path) -> bool:
    conn = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
    try:
        found = f"SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = '{META}'"
        return conn.execute(found).fetchone() is not None
    except sqlite3.DatabaseError as err:
        raise about_the_file(err, str(path)) or ChronoDBError(f"{path}: {err}") from err
    finally:
        conn.close()


def export(source: str | Path, target: str | Path, *, as_of: Any = None) -> ExportReport:
    """Write a plain SQLite file at ``target`` of ``source``'s tables as they are now or, with
    ``as_of`` (a transaction id or a time), as they were then. ``target`` must not exist.

    At a past point the tables, their columns and the views are those of then; the report's
    notes name each table made from its catalog columns (its shape changed since: other
    constraints, indexes and triggers are not kept), each table that did not exist then,
    each unversioned table (FTS5), written with its current rows, and each UNIQUE index
    made since that the rows of then break, left out.
    """
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
    # The file's own schema and catalog, read beside ``db`` on a connection that cannot write.
    conn = sqlite3.connect(f"{Path(source).absolute().as_uri()}?mode=ro", uri=True)
    try:
        schema = _schema(conn)
        virtual = set(unversionable_tables(conn))
        if as_of is None:
            tables = _now(schema, virtual)
            views = {name.lower(): sql for kind, name, _t, sql in schema if kind == "view"}
        else:
            tx = _bound(conn, as_of)
            catalog = Catalog()
            catalog.load(conn)
            tables = _then(catalog, schema, virtual, tx, report)
            views = catalog.views.all_at("TRANSACTION", tx)
        out.execute("BEGIN")
        for table in tables:
            out.execute(table.sql)
            result = db.execute(table.select, list(table.params))
            columns = result.columns if table.virtual else _insertable(out, table.name)
            report.rows[table.name] = _copy(out, table.name, columns, list(result), result.columns)
        if as_of is None:
            _copy_sequences(conn, out)
        for name, sql in _dependents(schema, tables, views):
            try:
                out.execute(sql)
            except sqlite3.IntegrityError as err:
                if as_of is None:
                    raise
                # A UNIQUE index made since the point: the rows of then may break it.
                report.notes.append(f"{name}: left out, the rows of {as_of} break it ({err})")
        out.execute("COMMIT")
    except BaseException:
        out.close()
        conn.close()
        Path(target).unlink(missing_ok=True)
        db.close()
        raise
    out.close()
    conn.close()
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
