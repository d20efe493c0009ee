"""Following the schema: the catalog, this connection's triggers and plans, kept in step with
the file, and temporal statements bound against them."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from chronodb import notes
from chronodb.engine.state import EngineState
from chronodb.errors import ChronoDBError
from chronodb.result import Result
from chronodb.sql import pointnotes, temporal
from chronodb.versioning.tables import install_triggers

if TYPE_CHECKING:
    from chronodb.engine.core import Params

_EXPLAIN = re.compile(r"\s*EXPLAIN(?:\s+QUERY\s+PLAN)?\s", re.I)


class CatalogFollowing(EngineState):
    """The part of :class:`~chronodb.engine.Engine` that follows the schema."""

    def reload_catalog(self) -> None:
        """Load the catalog and remake this connection's history triggers, from one snapshot
        of the file: outside a transaction each statement would see the file as another
        process left it just then, and the triggers could follow a schema newer than the
        catalog's cookie says (the next write would then not remake them)."""
        with self.snapshot():
            self._load_catalog()

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Read one state of the file throughout: a read transaction, unless one is open."""
        if self.conn.in_transaction:
            yield
            return
        conn = self.conn
        conn.execute("BEGIN")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        try:
            conn.execute("COMMIT")  # keeps the TEMP triggers a catalog load made meanwhile
        except sqlite3.Error:
            # On a damaged file sqlite3 can report a read's earlier error at COMMIT, which
            # still ends the transaction; one that did not end is undone, and the catalog
            # loaded in it is forgotten so that the next check loads it again.
            if not conn.in_transaction:
                return
            conn.execute("ROLLBACK")
            self.catalog.schema_cookie = None
            raise

    def _load_catalog(self) -> None:
        self.schema_changes += 1
        self.catalog.load(self.conn)
        self.plans.clear()
        if not self.read_only:
            install_triggers(self.conn, self.catalog)

    def _follow_schema(self) -> None:
        """Another connection committed: take in its schema changes before this one writes.

        The versioning triggers are this connection's own (``tables.CURRENT_TX``), so a table
        another process created or altered is versioned here only once they are made again.
        """
        if self.backend.schema_cookie() != self.catalog.schema_cookie:
            self.reload_catalog()

    def refresh_catalog(self) -> bool:
        """Reload the catalog if any connection, in any process, changed the schema since.

        Returns whether it did.
        """
        self.backend.compiled = False
        if self.backend.schema_cookie() == self.catalog.schema_cookie:
            return False
        self.reload_catalog()
        return True

    def _temporal_read(self, sql: str, params: Params) -> sqlite3.Cursor:
        """Run a temporal query, checking the schema only when SQLite compiled something.

        Another process's DDL makes SQLite recompile our cached statements (see
        ``SQLiteBackend._on_compile``); a statement compiled from a stale catalog is run again.
        """
        if self.backend.compiled:
            self.refresh_catalog()
        final, bound = self.bind_current(sql, params)
        try:
            cursor = self.conn.execute(final, bound)
        except sqlite3.OperationalError:
            if not self.refresh_catalog():
                raise
            final, bound = self.bind_current(sql, params)
            return self.conn.execute(final, bound)
        if self.backend.compiled and self.refresh_catalog():
            final, bound = self.bind_current(sql, params)
            cursor = self.conn.execute(final, bound)
        return cursor

    def bind(self, sql: str, params: Params) -> tuple[str, Any]:
        """The SQL and parameters for a temporal statement, after checking the schema."""
        self.refresh_catalog()
        return self.bind_current(sql, params)

    def bind_current(self, sql: str, params: Params) -> tuple[str, Any]:
        """The SQL and parameters for a temporal statement, trusting the loaded catalog."""
        planned = self.plans.get(sql)
        if planned is None:
            explain = _EXPLAIN.match(sql)
            if explain is not None:
                # EXPLAIN [QUERY PLAN] of a temporal statement: plan the statement (blanked
                # prefix, so error positions stay those of the text given), explain the rewrite.
                head = explain.group(0)
                final, bound = self.bind_current(" " * len(head) + sql[len(head) :], params)
                return head + final.lstrip(), bound
            planned = temporal.plan(sql, self.catalog)
            self.plans[sql] = planned
        return temporal.bind(planned, params, self.catalog, self._evaluate)

    def _point_values(self, sql: str, params: Params) -> tuple[temporal.Plan, list[int]] | None:
        """The plan of temporal ``sql`` and its points for ``params``, if it was planned."""
        planned = self.plans.get(sql)
        if planned is None:
            return None
        try:
            return planned, temporal.point_values(planned, params, self._evaluate)
        except (ChronoDBError, sqlite3.Error):
            return None

    def _note_empty(self, result: Result, sql: str, params: Params) -> None:
        """Warn, and note on ``result``, when a point alone makes a read empty."""
        found = self._point_values(sql, params)
        if found is None:
            return
        result.notes = pointnotes.empty_notes(*found, self.catalog)
        for note in result.notes:
            notes.warn(note)

    def _point_error(self, error: ChronoDBError, sql: str, params: Params) -> ChronoDBError:
        """``error``, naming the point and the column's arrival if the point lacked it."""
        found = self._point_values(sql, params)
        if found is None:
            return error
        return pointnotes.column_error(error, *found, self.catalog)

    def _evaluate(self, expression: str) -> Any:
        return self.conn.execute(f"SELECT {expression}").fetchone()[0]
