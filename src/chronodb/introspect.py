"""What a database holds: its tables, their columns (now or AS OF a point), foreign keys, views.

The one description the CLI, the HTTP API, GraphQL and the web UI read, so they agree.
Generated columns are listed like any other, since a query reads them; ``generated`` says
which they are ("VIRTUAL" or "STORED"), so a writer knows to leave them out. The columns
of a virtual table's hidden kind are not listed (a versioned table is never virtual).

A table's columns AS OF a point come from the catalog (``_chrono_schema``): the names, types,
collations and key it had then. History does not record NOT NULL, DEFAULT or GENERATED:
for a column still in the table they are read from the file (SQLite's ALTER TABLE cannot
change them), for one dropped since, or of a table dropped since, they are None.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from chronodb.errors import ChronoDBError, SchemaError, TemporalError, TimestampError
from chronodb.formatting import iso_time
from chronodb.layout import is_internal
from chronodb.timepoint import from_micros, to_micros
from chronodb.versioning.catalog import Catalog, SchemaVersion
from chronodb.versioning.columns import BINARY
from chronodb.versioning.tables import quote

# PRAGMA table_xinfo's ``hidden``: 1 a virtual table's hidden column, 2 and 3 generated.
_GENERATED = {2: "VIRTUAL", 3: "STORED"}
_DIGITS = re.compile(r"\s*[0-9]{1,19}\s*")  # a transaction id (64-bit) as text
_VIEWS = "SELECT name, sql FROM main.sqlite_schema WHERE type = 'view' ORDER BY name"


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a table, in the table's order.

    ``primary_key`` is its 1-based position in the primary key, 0 outside it. ``generated``
    is "VIRTUAL" or "STORED" for a generated column, "" for an ordinary one. ``notnull``,
    ``default`` (the DEFAULT expression's SQL) and ``generated`` are None for a column
    known only from history (see the module's docstring).
    """

    name: str
    type: str
    primary_key: int
    notnull: bool | None
    default: str | None
    generated: str | None
    collation: str


@dataclass(frozen=True, slots=True)
class ForeignKey:
    """``table``'s ``columns`` reference ``other_table``'s ``other_columns`` (its primary
    key when the REFERENCES clause names none and the table exists, else empty)."""

    table: str
    columns: tuple[str, ...]
    other_table: str
    other_columns: tuple[str, ...]
    on_update: str
    on_delete: str


@dataclass(frozen=True, slots=True)
class View:
    """A view and its CREATE VIEW statement."""

    name: str
    sql: str


def tables(catalog: Catalog, as_of: Any = None) -> list[str]:
    """The versioned tables that exist now, or existed AS OF ``as_of``, sorted by name."""
    if as_of is None:
        return sorted(v.name for v in catalog.live_tables())
    kind, value = point(as_of)
    covers = SchemaVersion.covers_tx if kind == "TRANSACTION" else SchemaVersion.covers_us
    return sorted(v.name for v in catalog.versions if covers(v, value))


def point(as_of: Any) -> tuple[str, int]:
    """("TRANSACTION", id) for a transaction id (an int, or a string of digits), else
    ("TIMESTAMP", microseconds) for a time (epoch seconds as a float, an ISO-8601 string,
    a datetime), as ``chronodb export --as-of`` and ``chronodb schema --as-of`` read them."""
    if isinstance(as_of, str) and _DIGITS.fullmatch(as_of):
        as_of = int(as_of)
    if isinstance(as_of, int) and not isinstance(as_of, bool):
        if as_of < 0:
            raise TimestampError(f"Invalid transaction id {as_of!r}: negative", value=as_of)
        return "TRANSACTION", as_of
    if isinstance(as_of, float | str | date):
        return "TIMESTAMP", to_micros(as_of)
    raise TimestampError(
        f"Invalid point {as_of!r} of type {type(as_of).__name__}: expected a transaction id "
        "(int) or a time (epoch seconds as a float, an ISO-8601 string, a datetime)",
        value=as_of,
    )


def columns(
    conn: sqlite3.Connection, catalog: Catalog, table: str, as_of: Any = None
) -> list[Column]:
    """``table``'s columns now, or AS OF ``as_of``; SchemaError if there never was such a
    table, TemporalError if there was no table of that name at the point."""
    return columns_with(catalog, table, as_of, lambda version: _live(conn, version))


def columns_with(
    catalog: Catalog,
    table: str,
    as_of: Any,
    live: Callable[[SchemaVersion], list[Column]],
) -> list[Column]:
    """:func:`columns` for any backend: ``catalog`` holds the tables' shapes over time,
    ``live`` gives the columns the database declares now for a table's open shape."""
    current = catalog.current(table)
    if as_of is None:
        if current is None:
            raise _unknown(catalog, table)
        return live(current)
    kind, value = point(as_of)
    then = catalog.at_tx(table, value) if kind == "TRANSACTION" else catalog.at_us(table, value)
    if then is None:
        raise _absent(catalog, table, kind, value)
    now: dict[str, Column] = {}
    if current is not None and current.table_id == then.table_id:
        # The same table: a column still in it has the constraints it had then.
        declared = {c.name.lower(): c for c in live(current)}
        now = {
            c.hist: declared[c.name.lower()] for c in current.columns if c.name.lower() in declared
        }
    return [
        Column(
            name=c.name,
            type=c.decl_type or "",
            primary_key=then.keys.index(c.hist) + 1 if c.hist in then.keys else 0,
            notnull=now[c.hist].notnull if c.hist in now else None,
            default=now[c.hist].default if c.hist in now else None,
            generated=now[c.hist].generated if c.hist in now else None,
            collation=c.collation,
        )
        for c in then.columns
    ]


def _live(conn: sqlite3.Connection, version: SchemaVersion) -> list[Column]:
    """The columns of the table ``version`` describes, as the file declares them now."""
    return [
        Column(
            name=r[1],
            type=r[2] or "",
            primary_key=r[5],
            notnull=bool(r[3]),
            default=r[4],
            generated=_GENERATED.get(r[6], ""),
            collation=_collation(version, r[1]),
        )
        for r in conn.execute(f"PRAGMA main.table_xinfo({quote(version.name)})")
        if r[6] != 1
    ]


def _collation(version: SchemaVersion, name: str) -> str:
    column = version.column(name)
    return BINARY if column is None else column.collation


def _unknown(catalog: Catalog, table: str) -> SchemaError:
    if catalog.known(table):
        return SchemaError(f"no such table: {table} (it was dropped)", table=table)
    return SchemaError(f"no such table: {table}", table=table)


def _absent(catalog: Catalog, table: str, kind: str, value: int) -> ChronoDBError:
    """The error for a table that had no shape of that name at the point."""
    versions = [v for v in catalog.versions if v.name.lower() == table.lower()]
    if not versions:
        return _unknown(catalog, table)
    lives: list[list[SchemaVersion]] = []
    for v in versions:  # a DDL statement ends one shape where the next starts
        if lives and lives[-1][-1].to_tx == v.from_tx:
            lives[-1].append(v)
        else:
            lives.append([v])
    spans = " and ".join(
        f"from transaction {life[0].from_tx} ({_when(life[0].from_us)})"
        + (
            " on"
            if life[-1].to_tx is None
            else f" until {life[-1].to_tx} ({_when(life[-1].to_us or 0)})"
        )
        for life in lives
    )
    at = f"TRANSACTION {value}" if kind == "TRANSACTION" else f"TIMESTAMP '{_when(value)}'"
    return TemporalError(f"{table} did not exist AS OF {at}: it existed {spans}")


def _when(us: int) -> str:
    return iso_time(from_micros(us))


def foreign_keys(conn: sqlite3.Connection, catalog: Catalog, table: str) -> list[ForeignKey]:
    """``table``'s foreign keys now, in the order its CREATE TABLE declares them."""
    current = catalog.current(table)
    if current is None:
        raise _unknown(catalog, table)
    groups: dict[int, list[Any]] = {}
    for row in conn.execute(f"PRAGMA main.foreign_key_list({quote(current.name)})"):
        groups.setdefault(row[0], []).append(row)
    found = []
    for _id, rows in sorted(groups.items(), reverse=True):  # SQLite numbers them backwards
        rows.sort(key=lambda r: r[1])
        other = rows[0][2]
        if rows[0][4] is None:  # REFERENCES t without columns: t's primary key
            target = catalog.current(other)
            others = () if target is None else tuple(c.name for c in target.key_columns)
        else:
            others = tuple(r[4] for r in rows)
        found.append(
            ForeignKey(
                current.name, tuple(r[3] for r in rows), other, others, rows[0][5], rows[0][6]
            )
        )
    return found


def views(conn: sqlite3.Connection) -> list[View]:
    """The user's views now (not ChronoDB's own), sorted by name."""
    return [View(r[0], r[1]) for r in conn.execute(_VIEWS) if not is_internal(r[0])]
