"""Writing a :class:`~chronodb.copy.model.Dump` into a new SQLite file.

The file is made at a temporary path by ChronoDB itself (its catalog, format and ledger
tables), then filled in one transaction on a plain connection by the layout's loader
(``versioning/load.py``); the caller moves it into place once it verifies.

Types: a column of a PostgreSQL source declares the SQLite type whose affinity keeps the
values its ledger digested (``postgres_source.py`` decodes them so): integers and booleans
INTEGER, floats REAL, bytea BLOB, and every other type TEXT (a timestamp, a numeric, a uuid
keep their text). A column of a SQLite source keeps its declared type.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import replace

import sqlglot
from sqlglot import exp

from chronodb import layout
from chronodb.copy.model import Dump, Progress, Refused, Table, Version, reporting
from chronodb.database import ChronoDB
from chronodb.sql.rules.flat_joins import flat_joins
from chronodb.versioning import load
from chronodb.versioning.catalog import Catalog, Column, SchemaVersion
from chronodb.versioning.columns import BINARY
from chronodb.versioning.tables import create_history

_INTEGERS = {"smallint", "integer", "bigint", "boolean"}
_REALS = {"real", "double precision"}


def _declared(native: str) -> str:
    """The SQLite type for a PostgreSQL type (``format_type``'s spelling)."""
    base = " ".join(re.sub(r"\([^)]*\)", "", native).split())
    if native.endswith("[]"):
        return "TEXT"
    if base in _INTEGERS:
        return "INTEGER"
    if base in _REALS:
        return "REAL"
    if base == "bytea":
        return "BLOB"
    return "TEXT"


def _shapes(table: Table) -> list[SchemaVersion]:
    """``table``'s shapes with SQLite's types and history name."""
    hist = layout.history(table.table_id, table.shapes[0].name)
    out = []
    for shape in table.shapes:
        columns = tuple(
            Column(
                c.name,
                c.hist,
                _declared(c.decl_type) if table.native else c.decl_type,
                c.collation if not table.native else BINARY,
            )
            for c in shape.columns
        )
        out.append(replace(shape, hist=hist, columns=columns))
    return out


def _view(name: str, query: str) -> str:
    """A CREATE VIEW statement in SQLite's SQL for a PostgreSQL view's query."""
    try:
        parsed = sqlglot.parse_one(query, read="postgres")
    except sqlglot.errors.SqlglotError as err:
        raise Refused(f"view {name} cannot be written in SQLite's SQL: {err}") from err
    parsed = parsed.transform(flat_joins)
    create = exp.Create(this=exp.to_identifier(name, quoted=True), kind="VIEW", expression=parsed)
    return create.sql(dialect="sqlite")


def write(path: str, dump: Dump, progress: Progress | None = None) -> None:
    """Fill the new file at ``path`` with ``dump``."""
    ChronoDB(path).close()  # ChronoDB's own tables, format and ledger
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN")
        done, total = 0, dump.total_versions
        all_shapes: list[SchemaVersion] = []
        for table in dump.tables:
            made = _shapes(table)
            all_shapes += made
            versions = reporting(dump.versions(table), done, total, progress)
            done += _write_table(conn, dump, table, made, versions)
            if progress is not None:
                progress(done, total)
        for shape in sorted(all_shapes, key=lambda s: s.id):
            load.record_shape(conn, shape)
        load.record_transactions(
            conn,
            [(t.tx_id, t.tx_time, t.user, t.leaf) for t in dump.transactions],
            time.time_ns() // 1000,
        )
        _write_views(conn, dump)
        for erasure in dump.erasures:
            load.record_erasure(conn, *erasure)
        for digest in dump.digests:
            load.record_digest(conn, digest)
        catalog = Catalog()
        catalog.load(conn)
        load.store_tree(conn, catalog)
        conn.execute("COMMIT")
    finally:
        conn.close()


def _write_table(
    conn: sqlite3.Connection,
    dump: Dump,
    table: Table,
    shapes: list[SchemaVersion],
    versions: Iterator[Version],
) -> int:
    last = shapes[-1]
    live = last if last.to_tx is None else None
    if live is not None:
        load.create_table(conn, live)
        load.insert_rows(conn, live.name, [c.name for c in live.columns], dump.current(table))
    declared: dict[str, str] = {}
    for shape in shapes:
        for column in shape.columns:
            declared[column.hist] = column.decl_type
    columns = list(declared)
    create_history(conn, last.hist, last.keys, list(declared.items()))
    try:
        written = load.insert_rows(
            conn, last.hist, load.history_columns(columns), _rows(versions, columns)
        )
    except sqlite3.IntegrityError as err:
        raise Refused(
            f"table {last.name} has a transaction that wrote one row in several statements; "
            f"SQLite keeps one version of a row per transaction ({err})"
        ) from err
    load.finish_table(conn, last, live=live is not None)
    return written


def _rows(versions: Iterator[Version], columns: list[str]) -> Iterator[tuple[object, ...]]:
    for version in versions:
        yield (version.tx_id, version.op, *(version.values.get(c) for c in columns))


def _write_views(conn: sqlite3.Connection, dump: Dump) -> None:
    """The views now, and every definition over time, in SQLite's SQL."""
    now = {name.lower() for name in dump.views_now}
    for d in dump.views:
        sql = d.sql if d.sql.lstrip().upper().startswith("CREATE") else _view(d.name, d.sql)
        if d.to_tx is None and d.name.lower() in now:
            conn.execute(sql)
            sql = load.view_sql(conn, d.name)
        load.record_view(conn, d.name, sql, d.from_tx, d.from_us, d.to_tx, d.to_us)
