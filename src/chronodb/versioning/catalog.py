"""The catalog: every table's name, columns and history table, over time.

Each row of ``_chrono_schema`` is one *schema version* of one table, valid over the
transactions ``[from_tx, to_tx)``. A DDL statement closes the table's open version and
opens the next, so ``AS OF`` any point finds the name and columns the table had then.
History columns (``hist``) never change name: a renamed column keeps its history column.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from chronodb.errors import CorruptDatabaseError
from chronodb.layout import (
    ERASURES,
    META,
    NULL_KEYS,
    ROWID_KEY,
    SCHEMA,
    TRANSACTIONS,
    history_of,
)
from chronodb.versioning import timeline, views
from chronodb.versioning.columns import BINARY

CATALOG_DDL = f"""
CREATE TABLE IF NOT EXISTS {META} (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS {TRANSACTIONS} (
    tx_id   INTEGER PRIMARY KEY,
    tx_time INTEGER NOT NULL,          -- microseconds since the epoch, strictly increasing
    user    TEXT,
    leaf_index INTEGER,                -- the audit ledger's leaf (audit/ledger.py), kept in
    leaf    BLOB,                      -- the transaction's own row: sealing then writes no
    leaf_hash BLOB                     -- page the transaction did not already write
);
CREATE TABLE IF NOT EXISTS {SCHEMA} (
    id       INTEGER PRIMARY KEY,
    table_id INTEGER NOT NULL,
    name     TEXT NOT NULL,
    hist     TEXT NOT NULL,            -- the history table
    keys     TEXT NOT NULL,            -- JSON list of the history columns that identify a row
    columns  TEXT NOT NULL,            -- JSON list of [name, hist column, declared type,
                                       -- collation] (before format 9, no collation)
    from_tx  INTEGER NOT NULL,
    from_us  INTEGER NOT NULL,
    to_tx    INTEGER,
    to_us    INTEGER
);
CREATE TABLE IF NOT EXISTS {ERASURES} (
    id       INTEGER PRIMARY KEY,
    table_name TEXT NOT NULL,
    row_key  TEXT NOT NULL,            -- JSON of the erased key
    versions INTEGER NOT NULL,
    tx_id    INTEGER NOT NULL,
    user     TEXT,
    reason   TEXT
);
"""

CATALOG_STATEMENTS: tuple[str, ...] = (
    *(s.strip() for s in CATALOG_DDL.split(";") if s.strip()),
    *timeline.DDL,
    views.DDL,
)
"""Every statement that sets up the catalog; each creates one object, IF NOT EXISTS."""


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    hist: str
    decl_type: str
    collation: str = BINARY  # as declared (``versioning/columns.py``)

    @property
    def collated(self) -> bool:
        """Whether the column compares other than byte by byte (BINARY)."""
        return self.collation.upper() != BINARY


@dataclass(frozen=True, slots=True)
class SchemaVersion:
    """One table's shape over a span of transactions."""

    id: int
    table_id: int
    name: str
    hist: str
    keys: tuple[str, ...]
    columns: tuple[Column, ...]
    from_tx: int
    from_us: int
    to_tx: int | None
    to_us: int | None

    def column(self, name: str) -> Column | None:
        lowered = name.lower()
        for col in self.columns:
            if col.name.lower() == lowered:
                return col
        return None

    @property
    def key_columns(self) -> tuple[Column, ...]:
        """The visible columns that form the key, or () when the key is the rowid."""
        by_hist = {c.hist: c for c in self.columns}
        if self.keys == (ROWID_KEY,):
            return ()
        return tuple(by_hist[h] for h in self.keys if h in by_hist)

    def covers_tx(self, tx: int) -> bool:
        return self.from_tx <= tx and (self.to_tx is None or tx < self.to_tx)

    def covers_us(self, us: int) -> bool:
        return self.from_us <= us and (self.to_us is None or us < self.to_us)


def _row_to_version(row: Iterable) -> SchemaVersion:
    """One ``_chrono_schema`` row; a row that cannot be read is a damaged file."""
    values = tuple(row)
    try:
        version = _read_row(values)
    except (ValueError, TypeError, RecursionError) as err:
        raise CorruptDatabaseError(
            f"ChronoDB's metadata is damaged: {SCHEMA} row {values[0]!r} cannot be "
            f"read ({type(err).__name__}: {err})"
        ) from err
    return version


def _read_row(row: Iterable) -> SchemaVersion:
    id_, table_id, name, hist, keys, columns, from_tx, from_us, to_tx, to_us = row
    ints = (id_, table_id, from_tx, from_us)
    if not all(isinstance(v, int) for v in ints) or not all(
        v is None or isinstance(v, int) for v in (to_tx, to_us)
    ):
        raise ValueError("an id, transaction or time is not an integer")
    if not isinstance(name, str) or not isinstance(hist, str) or not name or not hist:
        raise ValueError("the table or history name is not a name")
    keys, columns = json.loads(keys), json.loads(columns)
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys) or not keys:
        raise ValueError("keys is not a list of column names")
    if (
        not isinstance(columns, list)
        or not all(
            isinstance(c, list)
            and len(c) in (3, 4)  # the collation since format 9
            and all(isinstance(x, str | None) for x in c[:3])
            and all(isinstance(x, str) and x for x in c[3:])
            for c in columns
        )
    ):
        raise ValueError("columns is not a list of [name, history column, type, collation]")
    return SchemaVersion(
        id=id_,
        table_id=table_id,
        name=name,
        hist=hist,
        keys=tuple(keys),
        columns=tuple(Column(*c) for c in columns),
        from_tx=from_tx,
        from_us=from_us,
        to_tx=to_tx,
        to_us=to_us,
    )


class Catalog:
    """An in-memory copy of ``_chrono_schema``, reloaded when the schema changes."""

    def __init__(self) -> None:
        self.versions: list[SchemaVersion] = []
        self._by_name: dict[str, list[SchemaVersion]] = {}
        self.schema_cookie: int | None = None
        # Where the file's transaction ids start (see timeline).
        self.epoch = timeline.Epoch(0, 0)
        # History tables whose keys may hold a NULL, kept apart (tables.create_null_keys).
        self.null_keyed: frozenset[str] = frozenset()
        # Every view's definitions over time (see views).
        self.views = views.ViewHistory()

    def load(self, conn: sqlite3.Connection) -> None:
        # The cookie first: outside a transaction, a change committed while this reads makes
        # the catalog newer than its cookie, never older, so the next check loads it again.
        cookie = conn.execute("PRAGMA schema_version").fetchone()[0]
        rows = conn.execute(
            "SELECT id, table_id, name, hist, keys, columns, from_tx, from_us, to_tx, to_us "
            f"FROM main.{SCHEMA} ORDER BY id"
        ).fetchall()
        self._hold([_row_to_version(r) for r in rows])
        self.epoch = timeline.epoch(conn)
        held = conn.execute(
            f"SELECT name FROM main.sqlite_schema WHERE type = 'table' AND name GLOB '{NULL_KEYS}*'"
        )
        self.null_keyed = frozenset(history_of(r[0]) for r in held)
        self.views.load(conn)
        self.schema_cookie = cookie

    @classmethod
    def of(cls, versions: Iterable[SchemaVersion]) -> Catalog:
        """A catalog of ``versions`` (in the order they were made), read from elsewhere than
        a SQLite file (PostgreSQL's ``_chrono_schema``, ``chronodb/postgres/shapes.py``)."""
        catalog = cls()
        catalog._hold(list(versions))
        return catalog

    def _hold(self, versions: list[SchemaVersion]) -> None:
        by_name: dict[str, list[SchemaVersion]] = {}
        for v in versions:
            by_name.setdefault(v.name.lower(), []).append(v)
        self.versions = versions
        self._by_name = by_name

    def current(self, name: str) -> SchemaVersion | None:
        for v in reversed(self._by_name.get(name.lower(), ())):
            if v.to_tx is None:
                return v
        return None

    def known(self, name: str) -> bool:
        return name.lower() in self._by_name

    def at_tx(self, name: str, tx: int) -> SchemaVersion | None:
        for v in self._by_name.get(name.lower(), ()):
            if v.covers_tx(tx):
                return v
        return None

    def at_us(self, name: str, us: int) -> SchemaVersion | None:
        for v in self._by_name.get(name.lower(), ()):
            if v.covers_us(us):
                return v
        return None

    def latest(self, name: str) -> SchemaVersion | None:
        """The newest version under this name, open or closed (a dropped table's last shape)."""
        found = self._by_name.get(name.lower())
        return found[-1] if found else None

    def earliest(self, name: str) -> SchemaVersion | None:
        found = self._by_name.get(name.lower())
        return found[0] if found else None

    def has_column(self, table: str, column: str) -> bool:
        """Whether ``table``, in any of its shapes, has a column named ``column``."""
        return any(v.column(column) is not None for v in self._by_name.get(table.lower(), ()))

    def versions_of(self, table_id: int) -> list[SchemaVersion]:
        return [v for v in self.versions if v.table_id == table_id]

    def live_tables(self) -> list[SchemaVersion]:
        return [v for v in self.versions if v.to_tx is None]
