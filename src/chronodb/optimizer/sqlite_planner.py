"""SQLite's planner for the optimizer (see ``planner.py``).

Plans are EXPLAIN QUERY PLAN; statistics ``sqlite_stat1`` (else ``count(*)``). A candidate
is tried the way SQLite's ``.expert`` does it: the schema (``sqlite_schema`` DDL) and the
real ``sqlite_stat1`` rows, plus statistics for the candidate measured on the real data, go
into an in-memory database; the candidate is created there and EXPLAIN QUERY PLAN says
whether the planner would use it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from chronodb.layout import INTERNAL_LIKE
from chronodb.optimizer import plan as sqlite_plan
from chronodb.optimizer.plan import Step, TableStats, quote
from chronodb.optimizer.planner import Candidate, UserIndex
from chronodb.sql.classify import Route, classify
from chronodb.versioning.tables import qualified

if TYPE_CHECKING:
    from chronodb.engine import Engine

_TEMPORAL = (Route.TEMPORAL, Route.TEMPORAL_WRITE)


def candidate_stat(conn: sqlite3.Connection, candidate: Candidate, rows: int) -> str:
    """The ``sqlite_stat1`` line the candidate would get: rows, then rows per key prefix."""
    numbers = [str(rows)]
    table = qualified(candidate.table)
    for k in range(1, len(candidate.columns) + 1):
        cols = ", ".join(quote(c) for c in candidate.columns[:k])
        distinct = conn.execute(f"SELECT count(*) FROM (SELECT DISTINCT {cols} FROM {table})")
        keys = max(int(distinct.fetchone()[0]), 1)
        numbers.append(str(max(1, -(-rows // keys))))
    return " ".join(numbers)


def _ddl(candidate: Candidate) -> str:
    cols = ", ".join(quote(c) for c in candidate.columns)
    return f"CREATE INDEX {quote(candidate.name)} ON {quote(candidate.table)} ({cols})"


class SQLiteWhatIf:
    """An in-memory copy of the schema and statistics in which candidates are tried."""

    def __init__(self, conn: sqlite3.Connection, stats: TableStats) -> None:
        self.conn = sqlite3.connect(":memory:")
        self._source = conn
        self._stats = stats
        schema = conn.execute(
            "SELECT type, sql FROM sqlite_schema WHERE sql IS NOT NULL "
            "AND name NOT LIKE 'sqlite_%' AND type IN ('table', 'index', 'view') "
            "ORDER BY type = 'table' DESC, type = 'index' DESC"
        ).fetchall()
        for _kind, ddl in schema:
            try:
                self.conn.execute(ddl)
            except sqlite3.Error:
                continue  # virtual tables and the like: the planner does not need them
        self.conn.execute("ANALYZE")  # creates sqlite_stat1 here
        self.conn.execute("DELETE FROM sqlite_stat1")
        self._base: list[tuple[str, str | None, str]] = []
        has_stat1 = conn.execute("SELECT 1 FROM sqlite_schema WHERE name = 'sqlite_stat1'")
        if has_stat1.fetchone():
            self._base = [tuple(r) for r in conn.execute("SELECT tbl, idx, stat FROM sqlite_stat1")]
        known = {r[0] for r in self._base}
        self._base += [(t, None, str(n)) for t, n in stats.rows.items() if t not in known]
        self._load(self._base)

    def _load(self, rows: list[tuple[str, str | None, str]]) -> None:
        self.conn.execute("DELETE FROM sqlite_stat1")
        self.conn.executemany("INSERT INTO sqlite_stat1 VALUES (?, ?, ?)", rows)
        self.conn.execute("ANALYZE sqlite_schema")  # makes the planner read the rows again

    def plan_with(
        self, candidate: Candidate, statements: list[tuple[str, Any]]
    ) -> tuple[list[list[Step]], TableStats, str] | None:
        try:
            self.conn.execute(_ddl(candidate))
        except sqlite3.Error:
            return None
        try:
            stat = candidate_stat(self._source, candidate, self._stats.rows.get(candidate.table, 0))
            self._load([*self._base, (candidate.table, candidate.name, stat)])
            plans = []
            for sql, params in statements:
                try:
                    plans.append(sqlite_plan.explain(self.conn, sql, params))
                except sqlite3.Error:
                    plans.append([])
            stats = self._stats
            with_stats = TableStats(
                rows=stats.rows,
                indexes={**stats.indexes, candidate.name: [int(x) for x in stat.split()]},
                index_table=stats.index_table,
                index_columns=stats.index_columns,
            )
            return plans, with_stats, candidate.name
        finally:
            self.conn.execute(f"DROP INDEX {quote(candidate.name)}")

    def close(self) -> None:
        self.conn.close()


class SQLitePlanner:
    """The optimizer's access to one SQLite database (an :class:`Engine`'s connection)."""

    backend = "sqlite"
    how = {
        "workload": "ChronoDB's statement capture",
        "what_if": "an in-memory copy of the schema and sqlite_stat1",
        "create": "CREATE INDEX, ANALYZE",
    }

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._file_cookie: int | None = None  # the file's schema_version check_schema read

    def schema_cookie(self) -> Any:
        """The engine's count of schema changes (its catalog loads, which follow other
        connections' changes at their next write, plain statements, rollbacks, the
        optimizer's index builds): asked about every timed statement, it runs no SQL."""
        return self._engine.schema_changes

    def check_schema(self) -> None:
        """Read the file's ``PRAGMA schema_version``: an index another connection created or
        dropped moves it, and then the engine's count, so plans are read again.

        The connection takes in another's schema change only when it next reads a table
        (EXPLAIN QUERY PLAN reads none), so a read of ``sqlite_schema`` makes it do so.
        """
        engine = self._engine
        cookie = engine.backend.schema_cookie()
        if cookie != self._file_cookie:
            engine.conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()
            self._file_cookie = cookie
            engine.schema_changes += 1

    def table_stats(self) -> TableStats:
        return TableStats.read(self._engine.conn)

    def columns(self, tables: Sequence[str]) -> dict[str, set[str]]:
        conn = self._engine.conn
        return {
            t: {r[1] for r in conn.execute(f"PRAGMA main.table_info({quote(t)})")} for t in tables
        }

    def executed_sql(self, sql: str, params: Any) -> tuple[str, Any]:
        if classify(sql) in _TEMPORAL:
            return self._engine.bind_current(sql, params)
        return sql, () if params is None else params

    def explain(self, sql: str, params: Any) -> list[Step]:
        """EXPLAIN QUERY PLAN, its text naming the file's schema as last checked: a cached
        EXPLAIN never notices another connection's schema change (it reads no table), so
        after one it is prepared anew."""
        tagged = f"/* schema {self._file_cookie} */ {sql}"
        return sqlite_plan.explain(self._engine.conn, tagged, params)

    def indexes_used(self, plan: Sequence[Step]) -> set[str]:
        return sqlite_plan.indexes_used(plan)

    features = staticmethod(sqlite_plan.plan_features)

    def cost(self, plan: Sequence[Step]) -> None:
        """None: EXPLAIN QUERY PLAN gives no costs."""
        return None

    def aliases(self, sql: str) -> dict[str, str]:
        return sqlite_plan.aliases(sql)

    def whatif(self, stats: TableStats) -> SQLiteWhatIf:
        return SQLiteWhatIf(self._engine.conn, stats)

    def what_if_is_cheap(self) -> bool:
        """True: the what-if schema is an in-memory copy with statistics only."""
        return True

    def is_key(self, candidate: Candidate) -> bool:
        """The table's INTEGER PRIMARY KEY (already the rowid)."""
        if len(candidate.columns) != 1:
            return False
        info = self._engine.conn.execute(
            f"PRAGMA main.table_info({quote(candidate.table)})"
        ).fetchall()
        pk = [r for r in info if r[5]]
        return len(pk) == 1 and pk[0][1] == candidate.columns[0] and pk[0][2].upper() == "INTEGER"

    def ddl(self, candidate: Candidate) -> str:
        return _ddl(candidate)

    def run_read(self, sql: str, params: Any) -> None:
        self._engine.conn.execute(sql, params).fetchall()

    def run_write_undone(self, sql: str, params: Any) -> None:
        conn = self._engine.conn
        conn.execute("SAVEPOINT chrono_measure")
        try:
            conn.execute(sql, params)
        finally:
            conn.execute("ROLLBACK TO chrono_measure")
            conn.execute("RELEASE chrono_measure")

    def create_index(self, ddl: str, table: str, index: str) -> None:
        engine = self._engine
        conn = engine.conn
        try:
            conn.execute(ddl)
        finally:
            engine.schema_changes += 1
        analyzed = (
            conn.execute("SELECT 1 FROM sqlite_schema WHERE name = 'sqlite_stat1'").fetchone()
            and conn.execute("SELECT 1 FROM sqlite_stat1 WHERE tbl = ?", (table,)).fetchone()
        )
        if analyzed:  # keep the planner's statistics complete for this table
            conn.execute(f"ANALYZE {quote(index)}")

    def drop_index(self, index: str) -> None:
        engine = self._engine
        try:
            engine.conn.execute(f"DROP INDEX IF EXISTS {quote(index)}")
        finally:
            engine.schema_changes += 1

    def drop_ddl(self, index: str) -> str:
        return f"DROP INDEX {quote(index)}"

    def user_indexes(self) -> list[UserIndex]:
        conn = self._engine.conn
        rows = conn.execute(
            "SELECT name, tbl_name, sql FROM sqlite_schema WHERE type = 'index' "
            f"AND sql IS NOT NULL AND tbl_name NOT LIKE {INTERNAL_LIKE}"
        ).fetchall()
        out = []
        for name, table, sql in rows:
            columns = tuple(r[2] for r in conn.execute(f"PRAGMA index_info({quote(name)})"))
            unique = "UNIQUE" in str(sql).upper().split("INDEX")[0]
            out.append(UserIndex(name, table, columns, unique))
        return out
