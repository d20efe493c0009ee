"""What the optimizer asks of a backend's planner: the seam between the optimizer and SQL.

The optimizer (workload capture, the advisor, verify-and-revert) is the same on every
backend; each backend's :class:`Planner` reads its plans and statistics, tries a candidate
index without building it, and creates and drops indexes the way that backend does it.
``optimizer/sqlite_planner.py`` is SQLite's (EXPLAIN QUERY PLAN, an in-memory what-if
schema), ``pgengine/planner.py`` PostgreSQL's (EXPLAIN (FORMAT JSON), hypopg, CREATE INDEX
CONCURRENTLY). A dialect hands out its planner (``Dialect.planner``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from chronodb.optimizer.plan import Step, TableStats


@dataclass(frozen=True, slots=True)
class Candidate:
    """An index the advisor may recommend: a table and its columns, in order."""

    table: str
    columns: tuple[str, ...]

    @property
    def name(self) -> str:
        cols = "_".join(c.lower() for c in self.columns)
        return f"chrono_idx_{self.table.lower()}_{cols}"[:60]


@dataclass(frozen=True, slots=True)
class UserIndex:
    """An index a user made (not a key's, not ChronoDB's): a drop candidate."""

    name: str
    table: str
    columns: tuple[str, ...]
    unique: bool


class WhatIf(Protocol):
    def plan_with(
        self, candidate: Candidate, statements: list[tuple[str, Any]]
    ) -> tuple[list[list[Step]], TableStats, str] | None:
        """The statements' plans with ``candidate`` present, and the statistics the planner
        had, and the name the plans know the candidate by; None if it cannot be tried."""

    def close(self) -> None: ...


class Planner(Protocol):
    backend: str  # the sqlglot dialect name its SQL parses with (chronodb.sql.dialect)
    how: dict[str, str]  # what it uses for what: "what_if", "workload", "create"

    def schema_cookie(self) -> Any:
        """A value that changes whenever a table or index is created, altered or dropped:
        through this database at once, by another client at the latest once
        :meth:`check_schema` ran. Asked about every timed statement, so it costs no round
        trip to a server."""

    def check_schema(self) -> None:
        """Look at the database's schema, so that :meth:`schema_cookie` reflects what
        other clients changed (run before advising)."""

    def table_stats(self) -> TableStats:
        """Row counts, indexes and their columns of the database's tables, history included."""

    def columns(self, tables: Sequence[str]) -> dict[str, set[str]]:
        """Each table's column names."""

    def executed_sql(self, sql: str, params: Any) -> tuple[str, Any]:
        """The SQL the database really runs for a statement: temporal ones rewritten."""

    def explain(self, sql: str, params: Any) -> list[Step]:
        """The planner's plan of an executed statement."""

    def indexes_used(self, plan: Sequence[Step]) -> set[str]: ...

    def features(
        self,
        plan: Sequence[Step],
        stats: TableStats,
        names: dict[str, str],
        rows_returned: float,
        write: bool,
    ) -> tuple[float, ...]:
        """The cost model's feature vector (``plan.FEATURES``) of one plan."""

    def cost(self, plan: Sequence[Step]) -> float | None:
        """The planner's estimated cost of a plan, if it gives one."""

    def aliases(self, sql: str) -> dict[str, str]:
        """Alias (or name) -> table for every table an executed statement names."""

    def whatif(self, stats: TableStats) -> WhatIf: ...

    def what_if_is_cheap(self) -> bool:
        """Whether trying candidates builds nothing (so a health report may do it)."""

    def is_key(self, candidate: Candidate) -> bool:
        """Whether the candidate is what the table's own key already gives."""

    def ddl(self, candidate: Candidate) -> str:
        """The statement creating the candidate, as recommended to the user."""

    def run_read(self, sql: str, params: Any) -> None:
        """Run an executed read and fetch its rows (for measuring)."""

    def run_write_undone(self, sql: str, params: Any) -> None:
        """Run an executed write and undo it (for measuring); raises if it cannot run."""

    def create_index(self, ddl: str, table: str, index: str) -> None: ...

    def drop_index(self, index: str) -> None: ...

    def drop_ddl(self, index: str) -> str:
        """The statement dropping an index, as recommended to the user."""

    def user_indexes(self) -> list[UserIndex]: ...
