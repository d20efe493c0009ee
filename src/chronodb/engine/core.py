"""The engine object: its state, opening a file, routing statements, closing."""

from __future__ import annotations

import contextlib
import re
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from chronodb import ddl as ddl_mod
from chronodb.audit import ledger as ledger_mod
from chronodb.audit.ledger import Ledger
from chronodb.engine.catalog import CatalogFollowing
from chronodb.engine.common import Common
from chronodb.engine.sealing import Sealing
from chronodb.engine.transactions import Transactions
from chronodb.engine.writes import Writes
from chronodb.errors import (
    ChronoDBError,
    ClosedError,
    ReadOnlyError,
    SQLError,
    UnversionedTablesError,
)
from chronodb.result import Result
from chronodb.sql.classify import Route
from chronodb.storage.sqlite_errors import translate
from chronodb.versioning import adoption
from chronodb.versioning.catalog import CATALOG_STATEMENTS
from chronodb.versioning.tables import unversioned_tables
from chronodb.versioning.upgrade import FORMAT, file_format, upgrade
from chronodb.versioning.vacuum import renumbered_tables

Params = Sequence[Any] | Mapping[str, Any] | None
# The two routes of nearly every call, as plain names: they are compared on every statement,
# and a module global is found faster than an enum member on its class.
_READ, _WRITE = Route.READ, Route.WRITE
_CATALOG_OBJECTS = frozenset(re.findall(r"IF NOT EXISTS (\w+)", " ".join(CATALOG_STATEMENTS)))
_LEDGER_OBJECTS = ledger_mod.OBJECTS


class Engine(Writes, Transactions, Sealing, CatalogFollowing, Common):
    """One database's engine over one backend; see the package docstring for its API."""

    # ----------------------------------------------------------------- opening
    def open(self) -> None:
        """Make the file ready: its catalog created or upgraded, its unversioned tables
        adopted, the catalog loaded, the ledger opened."""
        self._setup()
        self.backend.on_foreign_commit = self._follow_schema
        if self._ledger_wanted:
            self.ledger = Ledger(self.conn, self.catalog)
            self._sealers.clear()  # they call the ledger they were made with

    def _setup(self) -> None:
        found = file_format(self.conn)
        if found is not None and found > FORMAT:
            raise ChronoDBError(
                f"{self.path} was written by a newer ChronoDB (file format {found}; this "
                f"version reads up to {FORMAT})"
            )
        if self.read_only:
            if found is None:
                raise ReadOnlyError(
                    f"{self.path} is not a ChronoDB file yet; open it once without read_only "
                    "to version its tables"
                )
            if found < FORMAT:
                raise ReadOnlyError(
                    f"{self.path} is in an earlier ChronoDB file format ({found}, now "
                    f"{FORMAT}); open it once without read_only to upgrade it"
                )
            self.reload_catalog()
            return
        with self.lock:
            # Opening a ready file takes no write lock: it must not wait for other writers.
            if self._setup_needed(found):
                self._create_catalog()
            self.reload_catalog()

    def _create_catalog(self) -> None:
        """Create the catalog tables and version every table not yet versioned."""
        self.backend.begin()
        try:
            for statement in CATALOG_STATEMENTS:
                self.conn.execute(statement)
            if self._ledger_wanted:
                ledger_mod.create(self.conn)
            self.catalog.load(self.conn)
            if (file_format(self.conn) or 0) < FORMAT:
                upgrade(self.conn, self.catalog)
            missing = unversioned_tables(self.conn, self.catalog)
            if missing and not self._adopt:
                raise UnversionedTablesError(self.path, missing)
            if missing:
                tx, us = self._allocate()
                adoption.version_tables(self.conn, missing, tx, us)
                adoption.record(self.conn, missing, tx)
                self.catalog.load(self.conn)
                if self._ledger_wanted:
                    self._kinds = adoption.kinds(missing)
                    self.ledger = Ledger(self.conn, self.catalog)
                    self._seal((tx, us))
            self.backend.commit()
        except BaseException:
            self.backend.rollback()
            raise
        finally:
            self.open_tx = None

    def _setup_needed(self, found: int | None) -> bool:
        """Whether the catalog is missing or in an earlier format, or a table is unversioned."""
        present = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_schema")}
        if not present.issuperset(_CATALOG_OBJECTS):
            return True
        if self._ledger_wanted and not present.issuperset(_LEDGER_OBJECTS):
            return True
        if found is None or found < FORMAT:
            return True
        self.catalog.load(self.conn)
        return bool(unversioned_tables(self.conn, self.catalog))

    # ------------------------------------------------------------------ statements
    def execute(self, sql: str, params: Params = None) -> Result:
        """Run one statement by its route; SQLite's errors leave as ChronoDBErrors."""
        if self.closed:
            raise ClosedError(self.path)
        try:
            route = self.routes.get(sql)
            if route is None:
                route = self.route(sql)
            if route is _READ:
                with self.lock:
                    return Result(self.conn.execute(sql, () if params is None else params))
            if route is _WRITE:
                return self._write_alone(sql, params)
            if route is Route.TEMPORAL:
                with self.lock:
                    try:
                        result = Result(self._temporal_read(sql, params))
                    except sqlite3.Error as err:
                        raise self._point_error(translate(err, sql), sql, params) from err
                    if not result.rows:  # only an empty answer can be the point's fault
                        self._note_empty(result, sql, params)
                    return result
            if route is Route.TEMPORAL_WRITE:
                with self.lock:
                    # Bound inside the write transaction, after it followed the schema.
                    return self.run_write(
                        lambda: Result(self.conn.execute(*self.bind(sql, params))), sql=sql
                    )
            if route is Route.DDL:
                with self.lock:
                    return self.run_write(lambda: self._ddl(sql, params), ddl=True, sql=sql)
            if route is Route.BEGIN:
                self.begin()
                return Result(None)
            if route is Route.COMMIT:
                self.commit()
                return Result(None)
            if route is Route.ROLLBACK:
                self.rollback()
                return Result(None)
            if route is Route.SAVEPOINT:
                return self._savepoint(sql)
            if route is Route.VACUUM:
                return self._vacuum(sql, params)
            with self.lock:
                self.schema_changes += 1  # CREATE INDEX, ANALYZE, ATTACH: plans may change
                self._plain_since_begin = True
                return Result(self.conn.execute(sql, () if params is None else params))
        except sqlite3.Error as err:
            self.note_abort(err)
            raise translate(err, sql) from err
        except ChronoDBError as err:
            self.note_abort(err)
            raise

    def _ddl(self, sql: str, params: Params) -> Result:
        return ddl_mod.run_ddl(self, sql, params)

    def _vacuum(self, sql: str, params: Params) -> Result:
        """VACUUM, unless it could give rows of a rowid-keyed table another row's history.

        VACUUM INTO is routed as a plain statement: it writes a copy and keeps rowids
        (tests/chronodb/versioning/test_vacuum.py holds SQLite to that).
        """
        with self.lock:
            self.schema_changes += 1
            self.refresh_catalog()
            at_risk = renumbered_tables(self.conn, self.catalog)
            if at_risk:
                raise SQLError(
                    f"VACUUM refused: it may give new rowids to the rows of "
                    f"{', '.join(repr(t) for t in at_risk)} (no INTEGER PRIMARY KEY, and "
                    "rowids no longer run 1 to n), whose history is kept by rowid. "
                    "Give such a table an INTEGER PRIMARY KEY to make its rows' identity stable",
                    sql=sql,
                )
            return Result(self.conn.execute(sql, () if params is None else params))

    # ------------------------------------------------------------------ closing
    def close(self) -> None:
        """Roll back an open transaction, index the ledger's leaves, close the backend."""
        if self.closed:
            return
        if self.explicit:
            self.rollback()
        if self.ledger is not None and not self.read_only:
            # A file at rest has its leaves indexed (readers manage without, though).
            with contextlib.suppress(sqlite3.Error, ChronoDBError):
                self.store_leaves(merkle=False)
        self.backend.close()
        self.closed = True
