"""PostgreSQL's planner for the learned optimizer (see ``optimizer/planner.py``).

Plans are ``EXPLAIN (FORMAT JSON)`` of the statement as the server runs it (temporal ones
after rewriting, so AS OF reads propose indexes on history tables), with the statement's
parameters bound, so the planner plans for the values that ran. Statistics are the
server's (``pg_class.reltuples``, ``count(*)`` for a table never analyzed; indexes from
``pg_index``). A candidate is tried with hypopg's hypothetical indexes when the extension is
installed in the database (``CREATE EXTENSION hypopg``): nothing is built. Without it the
candidate is built in a transaction that is rolled back, and its plans read there: exact,
but the build costs a scan of the table and blocks its writers meanwhile. An index kept is
built with ``CREATE INDEX CONCURRENTLY`` (writers go on), one dropped with ``DROP INDEX
CONCURRENTLY``; both need the connection outside a transaction, as verify-and-revert is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg

from chronodb.errors import ChronoDBError
from chronodb.layout import PREFIX
from chronodb.optimizer.plan import Step, TableStats, aliases, feature_vector
from chronodb.optimizer.planner import Candidate, UserIndex
from chronodb.postgres.names import qualified, quote
from chronodb.postgres.rows import one
from chronodb.sql.classify import Route, classify
from chronodb.sql.paramstyle import for_psycopg

if TYPE_CHECKING:
    from chronodb.pgengine.core import PostgresEngine

_TEMPORAL = (Route.TEMPORAL, Route.TEMPORAL_WRITE)
_SCANS = {"Seq Scan", "Sample Scan"}
_SEARCHES = {"Index Scan", "Index Only Scan", "Bitmap Index Scan", "Tid Scan"}
_SORTS = {"Sort", "Incremental Sort"}
_BUILT = {"Hash", "Materialize", "Memoize"}  # the executor's own lookup structures


@dataclass(frozen=True, slots=True)
class PgStep(Step):
    """One node of a PostgreSQL plan, with the planner's estimates."""

    node: str = ""
    relation: str | None = None
    index: str | None = None
    rows: float = 0.0  # estimated rows the node returns per loop
    loops: float = 1.0  # estimated times the node runs (rows of the outer side, for a join)
    cost: float = 0.0  # the planner's estimated total cost of the node


def _detail(node: dict[str, Any]) -> str:
    text = node["Node Type"]
    if node.get("Index Name"):
        text += f" using {node['Index Name']}"
    if node.get("Relation Name"):
        text += f" on {node['Relation Name']}"
    cond = node.get("Index Cond") or node.get("Recheck Cond") or node.get("Filter")
    if cond:
        text += f" ({cond})"
    return text


def _walk(node: dict[str, Any], parent: int, loops: float, out: list[PgStep]) -> None:
    """Flatten a plan tree; the inner side of a nested loop runs once per outer row."""
    step = PgStep(
        len(out),
        parent,
        _detail(node),
        node["Node Type"],
        node.get("Relation Name"),
        node.get("Index Name"),
        float(node.get("Plan Rows", 0)),
        loops,
        float(node.get("Total Cost", 0.0)),
    )
    out.append(step)
    children = node.get("Plans") or []
    if node["Node Type"] == "Nested Loop" and len(children) == 2:
        outer, inner = children
        _walk(outer, step.id, loops, out)
        _walk(inner, step.id, loops * max(float(outer.get("Plan Rows", 1)), 1.0), out)
        return
    for child in children:
        _walk(child, step.id, loops, out)


def plan_steps(document: Any) -> list[PgStep]:
    """The steps of one ``EXPLAIN (FORMAT JSON)`` answer."""
    out: list[PgStep] = []
    _walk(document[0]["Plan"], -1, 1.0, out)
    return out


def _internal(table: str) -> bool:
    return table.lower().startswith(PREFIX)


class _WhatIf:
    """Candidates as hypopg's hypothetical indexes (the planner sees them, nothing is
    built), or without hypopg built for real in a transaction that is rolled back."""

    def __init__(self, planner: PostgresPlanner, stats: TableStats, hypothetical: bool) -> None:
        self._planner = planner
        self._stats = stats
        self._hypothetical = hypothetical

    def plan_with(
        self, candidate: Candidate, statements: list[tuple[str, Any]]
    ) -> tuple[list[list[Step]], TableStats, str] | None:
        planner = self._planner
        conn = planner.conn
        try:
            with conn.transaction(force_rollback=not self._hypothetical):
                if not self._hypothetical:
                    conn.execute(planner.plain_ddl(candidate))
                    return self._plans(statements), self._stats, candidate.name
                oid, name = one(
                    conn.execute(
                        "SELECT indexrelid, indexname FROM hypopg_create_index(%s)",
                        (planner.plain_ddl(candidate),),
                    )
                )
                try:
                    return self._plans(statements), self._stats, name
                finally:
                    conn.execute("SELECT hypopg_drop_index(%s)", (oid,))
        except psycopg.Error:
            return None

    def _plans(self, statements: list[tuple[str, Any]]) -> list[list[Step]]:
        return [self._planner.explain_or_empty(sql, params) for sql, params in statements]

    def close(self) -> None:
        return None


class PostgresPlanner:
    """The optimizer's access to one PostgreSQL database (a :class:`PostgresEngine`)."""

    backend = "postgresql"

    def __init__(self, engine: PostgresEngine) -> None:
        self._engine = engine
        self._catalog: tuple[int, int | None] | None = None  # check_schema's last reading

    @property
    def conn(self) -> psycopg.Connection[Any]:
        return self._engine.conn

    @property
    def schema(self) -> str:
        return self._engine.backend.schema

    @property
    def how(self) -> dict[str, str]:
        return {
            "workload": "ChronoDB's statement capture",
            "what_if": (
                "hypopg hypothetical indexes"
                if self.hypopg()
                else "indexes built in a rolled-back transaction (hypopg is not installed)"
            ),
            "create": "CREATE INDEX CONCURRENTLY",
        }

    def hypopg(self) -> bool:
        """Whether hypopg is installed in this database."""
        row = self.conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'hypopg'").fetchone()
        return row is not None

    def schema_cookie(self) -> Any:
        """The engine's count of schema changes it ran or noticed, and the catalog's cookie
        :meth:`check_schema` last read: no round trip, since it is asked about every timed
        statement."""
        return self._engine.schema_changes, self._catalog

    def check_schema(self) -> None:
        """Read ``pg_class``'s count and newest oid in the schema: tables and indexes that
        other clients created or dropped change them."""
        with self._engine.translating() as conn:
            self._catalog = conn.execute(
                "SELECT count(*), max(oid::int8) FROM pg_class "
                "WHERE relnamespace = %s::regnamespace",
                (quote(self.schema),),
            ).fetchone()

    def table_stats(self) -> TableStats:
        stats = TableStats()
        conn = self.conn
        tables = conn.execute(
            "SELECT c.relname, c.reltuples FROM pg_class AS c "
            "WHERE c.relnamespace = %s::regnamespace AND c.relkind IN ('r', 'p')",
            (quote(self.schema),),
        ).fetchall()
        for name, reltuples in tables:
            if reltuples is None or reltuples < 0:  # never analyzed: count
                count = conn.execute(f"SELECT count(*) FROM {qualified(self.schema, name)}")
                reltuples = one(count)[0]
            stats.rows[name] = int(reltuples)
        for index, table, columns in conn.execute(
            "SELECT i.relname, t.relname, array_agg(a.attname ORDER BY k.n) "
            "FROM pg_index AS x JOIN pg_class AS i ON i.oid = x.indexrelid "
            "JOIN pg_class AS t ON t.oid = x.indrelid "
            "CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, n) "
            "LEFT JOIN pg_attribute AS a ON a.attrelid = t.oid AND a.attnum = k.attnum "
            "WHERE t.relnamespace = %s::regnamespace GROUP BY i.relname, t.relname",
            (quote(self.schema),),
        ):
            stats.index_table[index] = table
            stats.index_columns[index] = [c for c in columns if c is not None]
        return stats

    def columns(self, tables: Sequence[str]) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {t: set() for t in tables}
        for table, column in self.conn.execute(
            "SELECT c.relname, a.attname FROM pg_attribute AS a "
            "JOIN pg_class AS c ON c.oid = a.attrelid "
            "WHERE c.relnamespace = %s::regnamespace AND c.relname = ANY(%s) "
            "AND a.attnum > 0 AND NOT a.attisdropped",
            (quote(self.schema), list(tables)),
        ):
            out[table].add(column)
        return out

    def executed_sql(self, sql: str, params: Any) -> tuple[str, Any]:
        if classify(sql) in _TEMPORAL:
            return self._engine.bind_current(sql, params)
        return for_psycopg(sql, params)

    def explain(self, sql: str, params: Any) -> list[Step]:
        with self._engine.translating() as conn, conn.transaction():
            row = one(conn.execute("EXPLAIN (FORMAT JSON) " + sql, params))
        return list(plan_steps(row[0]))

    def explain_or_empty(self, sql: str, params: Any) -> list[Step]:
        try:
            with self.conn.transaction():
                row = one(self.conn.execute("EXPLAIN (FORMAT JSON) " + sql, params))
        except psycopg.Error:
            return []
        return list(plan_steps(row[0]))

    def indexes_used(self, plan: Sequence[Step]) -> set[str]:
        return {s.index for s in plan if isinstance(s, PgStep) and s.index}

    def features(
        self,
        plan: Sequence[Step],
        stats: TableStats,
        names: dict[str, str],
        rows_returned: float,
        write: bool,
    ) -> tuple[float, ...]:
        """``plan.FEATURES`` from the planner's own estimates: a sequential scan reads the
        whole table each time it runs, an index search the rows it finds."""
        scanned = searched = 0.0
        scans = searches = sorts = built = tables = 0
        for step in plan:
            if not isinstance(step, PgStep):
                continue
            if step.node in _SORTS:
                sorts += 1
            elif step.node in _BUILT:
                built += 1
            elif step.node in _SCANS:
                scans += 1
                tables += 1
                table_rows = stats.rows.get(step.relation or "", step.rows)
                scanned += step.loops * max(float(table_rows), step.rows)
            elif step.node in _SEARCHES:
                searches += 1
                tables += step.relation is not None
                searched += step.loops * max(step.rows, 1.0)
        counts = (scans, searches, sorts, built, tables)
        return feature_vector(scanned, searched, counts, rows_returned, write)

    def cost(self, plan: Sequence[Step]) -> float | None:
        """The root node's estimated total cost."""
        return plan[0].cost if plan and isinstance(plan[0], PgStep) else None

    def aliases(self, sql: str) -> dict[str, str]:
        return aliases(sql, self.backend)

    def whatif(self, stats: TableStats) -> _WhatIf:
        return _WhatIf(self, stats, self.hypopg())

    def what_if_is_cheap(self) -> bool:
        """With hypopg only: without it each candidate is built (and rolled back)."""
        return self.hypopg()

    def is_key(self, candidate: Candidate) -> bool:
        """Never: a key's index is one of the table's indexes, which the advisor checks."""
        return False

    def plain_ddl(self, candidate: Candidate) -> str:
        cols = ", ".join(quote(c) for c in candidate.columns)
        table = qualified(self.schema, candidate.table)
        return f"CREATE INDEX {quote(candidate.name)} ON {table} ({cols})"

    def ddl(self, candidate: Candidate) -> str:
        return self.plain_ddl(candidate).replace("CREATE INDEX", "CREATE INDEX CONCURRENTLY", 1)

    def run_read(self, sql: str, params: Any) -> None:
        self.conn.execute(sql, params).fetchall()

    def run_write_undone(self, sql: str, params: Any) -> None:
        with self.conn.transaction(force_rollback=True):
            self.conn.execute(sql, params)

    def create_index(self, ddl: str, table: str, index: str) -> None:
        """Run ``ddl`` (CREATE INDEX CONCURRENTLY) outside a transaction; a failed build
        leaves an invalid index behind, which is dropped."""
        engine = self._engine
        if engine.explicit:
            raise ChronoDBError(
                "CREATE INDEX CONCURRENTLY runs outside a transaction: COMMIT or ROLLBACK first"
            )
        with engine.translating() as conn:
            try:
                conn.execute(ddl)
            except psycopg.Error:
                self.drop_index(index)
                raise
            finally:
                engine.schema_changes += 1

    def drop_index(self, index: str) -> None:
        engine = self._engine
        with engine.translating() as conn:
            try:
                conn.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {qualified(self.schema, index)}")
            finally:
                engine.schema_changes += 1

    def drop_ddl(self, index: str) -> str:
        return f"DROP INDEX CONCURRENTLY {qualified(self.schema, index)}"

    def user_indexes(self) -> list[UserIndex]:
        rows = self.conn.execute(
            "SELECT i.relname, t.relname, x.indisunique OR x.indisprimary, "
            "array_agg(a.attname ORDER BY k.n) "
            "FROM pg_index AS x JOIN pg_class AS i ON i.oid = x.indexrelid "
            "JOIN pg_class AS t ON t.oid = x.indrelid "
            "CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, n) "
            "LEFT JOIN pg_attribute AS a ON a.attrelid = t.oid AND a.attnum = k.attnum "
            "WHERE t.relnamespace = %s::regnamespace "
            "GROUP BY i.relname, t.relname, x.indisunique, x.indisprimary",
            (quote(self.schema),),
        ).fetchall()
        return [
            UserIndex(name, table, tuple(c for c in cols if c is not None), unique)
            for name, table, unique, cols in rows
            if not _internal(table) and not _internal(name)
        ]
