"""Verify-and-revert: an index is kept only if measurements say it helped.

For each recommended index: measure the real latency of the statements it is meant to
speed up and of the writes to its table (each run and undone), create it the backend's way
(``Planner.create_index``), measure again, and keep it only if the reads got at least 20%
faster and the writes' added cost is smaller than the reads' gain, both weighted by how
often each statement ran.
Otherwise it is dropped again and the reason is remembered, so it is not proposed again.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from chronodb.errors import ChronoDBError

if TYPE_CHECKING:
    from chronodb.optimizer.workload import Statement, Workload

REQUIRED_SPEEDUP = 0.20
_MIN_RUNS, _MAX_RUNS, _BUDGET_S = 3, 25, 0.3


@dataclass
class Outcome:
    """What applying one recommendation did, measured."""

    index: str
    table: str
    columns: tuple[str, ...]
    kept: bool
    reads_before_ms: float  # calls x p50, summed over the statements it is meant for
    reads_after_ms: float
    writes_before_ms: float
    writes_after_ms: float
    reason: str
    statements: list[dict[str, Any]] = field(default_factory=list)

    @property
    def gain_ms(self) -> float:
        return self.reads_before_ms - self.reads_after_ms

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "table": self.table,
            "columns": list(self.columns),
            "kept": self.kept,
            "reads_before_ms": round(self.reads_before_ms, 3),
            "reads_after_ms": round(self.reads_after_ms, 3),
            "writes_before_ms": round(self.writes_before_ms, 3),
            "writes_after_ms": round(self.writes_after_ms, 3),
            "gain_ms": round(self.gain_ms, 3),
            "reason": self.reason,
            "statements": self.statements,
        }


def _median_ns(run: Callable[[], object]) -> float:
    """Median wall time of ``run`` over a few runs (more for fast statements)."""
    times: list[int] = []
    deadline = time.perf_counter() + _BUDGET_S
    while len(times) < _MAX_RUNS and (len(times) < _MIN_RUNS or time.perf_counter() < deadline):
        start = time.perf_counter_ns()
        run()
        times.append(time.perf_counter_ns() - start)
    return statistics.median(times)


class Verifier:
    """Measures statements directly on the connection (not through the capture hook)."""

    def __init__(self, engine: Any, workload: Workload) -> None:
        self.engine = engine
        self.workload = workload
        self.planner = workload.planner

    def read_ns(self, stmt: Statement) -> float:
        planner = self.planner
        with self.engine.lock:
            sql, params = self.workload.executed_sql(*stmt.example)
            ns = _median_ns(lambda: planner.run_read(sql, params))
            features = self._features(stmt, sql, params)
        self.workload.model.observe(features, ns)  # a measured latency: a training sample
        return ns

    def _features(self, stmt: Statement, sql: str, params: Any) -> tuple[float, ...]:
        planner = self.planner
        plan = planner.explain(sql, params)
        stats = self.workload.table_stats()
        return planner.features(
            plan, stats, planner.aliases(sql), stmt.mean_rows, stmt.kind == "write"
        )

    def write_ns(self, stmt: Statement) -> float | None:
        """A write's latency, run and undone; None if it cannot be rerun."""
        engine = self.engine
        with engine.lock:
            if engine.explicit:
                return None
            sql, params = self.workload.executed_sql(*stmt.example)
            try:
                return _median_ns(lambda: self.planner.run_write_undone(sql, params))
            except Exception:  # e.g. a unique key the rerun would violate
                return None

    def plan_uses(self, stmt: Statement, index: str) -> bool:
        with self.engine.lock:
            sql, params = self.workload.executed_sql(*stmt.example)
            return index in self.planner.indexes_used(self.planner.explain(sql, params))


def verify(
    verifier: Verifier,
    index: str,
    table: str,
    columns: tuple[str, ...],
    ddl: str,
    reads: list[Statement],
    writes: list[Statement],
) -> Outcome:
    """Create the index, measure, and keep it or drop it (see the module docstring)."""
    engine = verifier.engine
    if engine.explicit:
        raise ChronoDBError("Finish the open transaction before applying recommendations")
    before = {id(s): verifier.read_ns(s) for s in reads}
    w_before = {id(s): verifier.write_ns(s) for s in writes}
    with engine.lock:
        verifier.planner.create_index(ddl, table, index)
    after = {id(s): verifier.read_ns(s) for s in reads}
    w_after = {id(s): verifier.write_ns(s) for s in writes}
    reads_before = sum(s.calls * before[id(s)] for s in reads) / 1e6
    reads_after = sum(s.calls * after[id(s)] for s in reads) / 1e6
    measured = [s for s in writes if w_before[id(s)] is not None and w_after[id(s)] is not None]
    writes_before = sum(s.calls * (w_before[id(s)] or 0) for s in measured) / 1e6
    writes_after = sum(s.calls * (w_after[id(s)] or 0) for s in measured) / 1e6
    gain = reads_before - reads_after
    write_cost = max(0.0, writes_after - writes_before)
    used = any(verifier.plan_uses(s, index) for s in reads)
    if not used:
        kept, reason = False, "the planner did not use it for the statements it was meant for"
    elif reads_after > reads_before * (1 - REQUIRED_SPEEDUP):
        change = (1 - reads_after / reads_before) * 100 if reads_before else 0.0
        kept = False
        reason = (
            f"reads went from {reads_before:.3f} ms to {reads_after:.3f} ms "
            f"({change:.1f}% faster; {REQUIRED_SPEEDUP:.0%} needed)"
        )
    elif write_cost >= gain:
        kept = False
        reason = f"writes got {write_cost:.3f} ms slower, more than the reads' gain {gain:.3f} ms"
    else:
        kept = True
        reason = (
            f"reads {reads_before / max(reads_after, 1e-9):.1f}x faster "
            f"({reads_before:.3f} -> {reads_after:.3f} ms), writes +{write_cost:.3f} ms"
        )
    if not kept:
        with engine.lock:
            verifier.planner.drop_index(index)
    details = [
        {
            "fingerprint": s.fingerprint,
            "calls": s.calls,
            "before_ms": round(before[id(s)] / 1e6, 4),
            "after_ms": round(after[id(s)] / 1e6, 4),
        }
        for s in reads
    ]
    return Outcome(
        index,
        table,
        columns,
        kept,
        reads_before,
        reads_after,
        writes_before,
        writes_after,
        reason,
        details,
    )
