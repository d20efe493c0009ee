"""The workload that really ran: per fingerprint, calls, latencies, rows and the plan.

:class:`Workload` sits in ``ChronoDB.execute``. Every call is counted; the first few calls
of each fingerprint and then one in ``every`` are timed with ``perf_counter_ns``, so the
cost on a repeated statement is a dict lookup and an increment. Latencies go into a fixed
size reservoir (uniform sample) per fingerprint; the plan (the backend's EXPLAIN, through
its :class:`~chronodb.optimizer.planner.Planner`) is read once per fingerprint and schema
version; each timed call also becomes a training sample for
the cost model.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from chronodb.optimizer.fingerprint import Fingerprinter
from chronodb.optimizer.model import CostModel
from chronodb.optimizer.plan import Step, TableStats
from chronodb.sql.classify import Route, classify

if TYPE_CHECKING:
    from chronodb.optimizer.planner import Planner
    from chronodb.result import Result

_RESERVOIR = 256
_WARMUP = 4  # calls of a new fingerprint always timed
_MAX_EVERY = 1024  # once a fingerprint's reservoir is full, one call in this many is timed
_FEATURES_EVERY = 32  # plan features are recomputed (rows returned change) this often
_CAPTURED = {
    Route.READ: "read",
    Route.TEMPORAL: "read",
    Route.WRITE: "write",
    Route.TEMPORAL_WRITE: "write",
}
_TEMPORAL = (Route.TEMPORAL, Route.TEMPORAL_WRITE)
_clock = time.perf_counter_ns  # a module global: found faster than time's attribute


def percentile(sorted_values: list[float], q: float) -> float | None:
    """The q-th percentile (0-100) by linear interpolation; None for no values."""
    if not sorted_values:
        return None
    k = (len(sorted_values) - 1) * q / 100
    lo = int(k)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


class Reservoir:
    """A uniform sample of at most ``size`` values from a stream (Vitter's algorithm R)."""

    __slots__ = ("_rng", "count", "size", "values")

    def __init__(self, size: int = _RESERVOIR) -> None:
        self.size = size
        self.values: list[float] = []
        self.count = 0
        self._rng = random.Random(0)

    def add(self, value: float) -> None:
        self.count += 1
        if len(self.values) < self.size:
            self.values.append(value)
        else:
            slot = self._rng.randrange(self.count)
            if slot < self.size:
                self.values[slot] = value

    def percentiles(self, *qs: float) -> list[float | None]:
        ordered = sorted(self.values)
        return [percentile(ordered, q) for q in qs]


@dataclass(eq=False, slots=True)
class Statement:
    """What was learned about one fingerprint."""

    fingerprint: str
    kind: str | None  # "read", "write", or None for statements not captured (DDL, BEGIN)
    temporal: bool = False
    calls: int = 0
    every: int = 1  # time the calls whose number is a multiple of this
    timed: int = 0
    timed_ns: int = 0
    rows: int = 0
    latencies: Reservoir = field(default_factory=Reservoir)
    example: tuple[str, Any] = ("", None)
    plan: list[Step] = field(default_factory=list)
    plan_cookie: Any = None
    names: dict[str, str] = field(default_factory=dict)
    features: tuple[float, ...] = ()
    last_counted: int = 0  # calls already added to the workload's statement total

    @property
    def mean_rows(self) -> float:
        return self.rows / self.timed if self.timed else 0.0

    def p50_ns(self) -> float | None:
        return self.latencies.percentiles(50)[0]

    def summary(self) -> dict[str, Any]:
        p50, p95, p99 = self.latencies.percentiles(50, 95, 99)
        return {
            "fingerprint": self.fingerprint,
            "kind": self.kind,
            "calls": self.calls,
            "timed": self.timed,
            "p50_ms": _ms(p50),
            "p95_ms": _ms(p95),
            "p99_ms": _ms(p99),
            "mean_rows": round(self.mean_rows, 2),
            "plan": [s.detail for s in self.plan],
        }


def _ms(ns: float | None) -> float | None:
    return None if ns is None else round(ns / 1e6, 4)


class Workload:
    """Captures statements run through ``ChronoDB.execute``; see the module docstring."""

    def __init__(
        self,
        engine: Any,
        planner: Planner,
        model: CostModel,
        *,
        every: int = 16,
        on_sample: Callable[[], None] | None = None,
    ) -> None:
        self._engine = engine  # its lock serialises the planner's use of the connection
        self.planner = planner
        self.model = model
        self.every = max(1, every)
        self.by_text: dict[str, Statement] = {}
        self.statements: dict[str, Statement] = {}
        self._fingerprint = Fingerprinter(backend=planner.backend)
        self._guard = threading.Lock()
        self._stats: TableStats | None = None
        self._stats_cookie: Any = None
        self.total = 0  # statements run (counted on timed calls, so exact up to the last one)
        self.started = time.time()
        self.on_sample = on_sample

    # The hot path: ChronoDB.execute asks this about every statement.
    def due(self, sql: str) -> bool:
        """Count one call of ``sql``; True if this call is to be timed (see :meth:`measure`)."""
        stmt = self.by_text.get(sql)
        if stmt is None:
            stmt = self._learn_text(sql)
        calls = stmt.calls = stmt.calls + 1
        return not calls % stmt.every and stmt.kind is not None

    def measure(
        self, run: Callable[[str, Any], Result], stmt: Statement | None, sql: str, params: Any
    ) -> Result:
        """Run ``run(sql, params)`` (the engine's execute) and record its latency, rows and
        plan on ``stmt``, the statement :meth:`due` counted the call on (None: nothing is
        recorded)."""
        start = _clock()
        result = run(sql, params)
        elapsed = _clock() - start
        if stmt is not None:
            self._record(stmt, sql, params, elapsed, result)
        return result

    def _learn_text(self, sql: str) -> Statement:
        if not isinstance(sql, str):
            return Statement("", None)  # execute raises the error; nothing to remember
        with self._guard:
            if len(self.by_text) > 50_000:
                self.by_text.clear()
            fingerprint = self._fingerprint(sql)
            stmt = self.statements.get(fingerprint)
            if stmt is None:
                route = classify(sql)
                stmt = Statement(fingerprint, _CAPTURED.get(route), route in _TEMPORAL)
                self.statements[fingerprint] = stmt
            self.by_text[sql] = stmt
            return stmt

    def _record(self, stmt: Statement, sql: str, params: Any, elapsed: int, result: Any) -> None:
        stmt.timed += 1
        if stmt.timed >= _WARMUP:
            # A fingerprint measured often enough is measured less often: a full reservoir
            # gains little from more samples, and cheap statements must stay cheap.
            stmt.every = self.every if stmt.timed < _RESERVOIR else _MAX_EVERY
        stmt.timed_ns += elapsed
        stmt.latencies.add(elapsed)
        rows = len(result.rows) if result.columns else max(result.rowcount, 0)
        stmt.rows += rows
        stmt.example = (sql, params)
        self.total += stmt.calls - stmt.last_counted
        stmt.last_counted = stmt.calls
        try:
            features = self.features_of(stmt)
        except Exception:  # a plan we cannot read must never break the user's statement
            features = None
        if features is not None:
            self.model.observe(features, elapsed)
        if self.on_sample is not None:
            self.on_sample()

    # ------------------------------------------------------------------ plans
    def table_stats(self) -> TableStats:
        engine = self._engine
        with engine.lock:
            cookie = self.planner.schema_cookie()
            if self._stats is None or cookie != self._stats_cookie:
                self._stats = self.planner.table_stats()
                self._stats_cookie = cookie
            return self._stats

    def refresh_stats(self) -> None:
        """Read row counts again (after ANALYZE, or when tables grew), and look at the
        schema, so that plans read before another client made or dropped an index are
        read again."""
        with self._engine.lock:
            self.planner.check_schema()
            self._stats = None

    def executed_sql(self, sql: str, params: Any) -> tuple[str, Any]:
        """The SQL the database really runs for a statement: temporal ones after rewriting."""
        return self.planner.executed_sql(sql, params)

    def features_of(self, stmt: Statement) -> tuple[float, ...] | None:
        """The plan features of a fingerprint, from its plan read once per schema version."""
        engine, planner = self._engine, self.planner
        with engine.lock:
            cookie = planner.schema_cookie()
            if stmt.plan_cookie == cookie and stmt.features and stmt.timed % _FEATURES_EVERY:
                return stmt.features
            if stmt.plan_cookie != cookie or not stmt.features:
                sql, params = stmt.example
                final, bound = self.executed_sql(sql, params)
                stmt.plan = planner.explain(final, bound)
                stmt.names = planner.aliases(final)
                stmt.plan_cookie = cookie
                stmt.features = ()
            stats = self.table_stats()
        features = planner.features(
            stmt.plan, stats, stmt.names, stmt.mean_rows, stmt.kind == "write"
        )
        stmt.features = features
        return features

    # ------------------------------------------------------------------ reporting
    def captured(self) -> list[Statement]:
        return [s for s in list(self.statements.values()) if s.kind is not None and s.timed]

    def latency_percentiles(self) -> dict[str, float | None]:
        """Percentiles over all timed statements, each fingerprint weighted by its calls."""
        weighted: list[tuple[float, float]] = []
        for stmt in self.captured():
            values = stmt.latencies.values
            if values:
                weight = stmt.calls / len(values)
                weighted.extend((v, weight) for v in values)
        if not weighted:
            return {"p50_ms": None, "p95_ms": None, "p99_ms": None}
        weighted.sort()
        total = sum(w for _, w in weighted)
        out: dict[str, float | None] = {}
        for q in (50, 95, 99):
            target, acc = total * q / 100, 0.0
            chosen = weighted[-1][0]
            for value, weight in weighted:
                acc += weight
                if acc >= target:
                    chosen = value
                    break
            out[f"p{q}_ms"] = _ms(chosen)
        return out

    def calls(self) -> int:
        """Statements run since the database was opened.

        Over a copy of the fingerprints: another thread may be adding one.
        """
        return sum(s.calls for s in list(self.statements.values()))

    def throughput(self) -> float:
        """Statements per second since the database was opened."""
        return self.calls() / max(time.time() - self.started, 1e-6)
