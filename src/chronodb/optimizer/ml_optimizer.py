"""``db.ml_optimizer``: learns from the workload, recommends indexes, applies and verifies them.

Options (``ChronoDB(ml_optimizer={...})`` or ``features.ml_optimizer`` in config.yaml):
``enabled`` (default True; False captures nothing and costs nothing), ``training_interval``
(statements between trainings of the cost model, default 1000), ``auto_apply`` (apply the
recommendations after each training, default False), ``sample_rate`` (share of calls timed
after each fingerprint's first few, default 1/16).

Index recommendations come from the what-if advisor and the cost model (``"source":
"model"``); dropping never-used indexes is a rule (``"source": "rule"``).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from chronodb.errors import ConfigError
from chronodb.layout import HISTORY, KEY_SET
from chronodb.optimizer.advisor import candidates_for, existing_covers, indexable
from chronodb.optimizer.apply import REQUIRED_SPEEDUP, Outcome, Verifier, verify
from chronodb.optimizer.model import CostModel
from chronodb.optimizer.plan import TableStats
from chronodb.optimizer.planner import Candidate
from chronodb.optimizer.workload import Reservoir, Statement, Workload

if TYPE_CHECKING:
    from chronodb.optimizer.planner import Planner, WhatIf

_OPTIONS = ("enabled", "training_interval", "auto_apply", "sample_rate")
_MIN_CALLS = 5  # a fingerprint this frequent is worth an index ...
_SLOW_NS = 5_000_000  # ... and so is one this slow (5 ms at p50)
_MIN_STATEMENTS_FOR_DROP = 500
_HISTORY = re.compile(rf"^(?:{HISTORY}|{KEY_SET})\d+_(.+)$", re.I)  # history tables and key sets


@dataclass
class Recommendation:
    """One recommended change, with the numbers behind it."""

    kind: str  # "create_index" or "drop_index"
    table: str
    index: str
    columns: tuple[str, ...]
    sql: str
    source: str  # "model" (what-if plan + cost model) or "rule"
    reason: str
    statements: list[dict[str, Any]] = field(default_factory=list)
    predicted_gain_ms: float = 0.0
    write_cost_ms: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "table": self.table,
            "index": self.index,
            "columns": list(self.columns),
            "sql": self.sql,
            "source": self.source,
            "reason": self.reason,
            "statements": self.statements,
            "predicted_gain_ms": round(self.predicted_gain_ms, 3),
            "write_cost_ms": round(self.write_cost_ms, 3),
        }


def _options(config: Mapping[str, Any] | None) -> dict[str, Any]:
    config = dict(config or {})
    unknown = sorted(set(config) - set(_OPTIONS))
    if unknown:
        raise ConfigError(f"Unknown ml_optimizer option(s): {', '.join(unknown)}")
    interval = config.get("training_interval", 1000)
    if not isinstance(interval, int) or isinstance(interval, bool) or interval <= 0:
        raise ConfigError(
            f"ml_optimizer.training_interval must be a positive int, not {interval!r}"
        )
    rate = config.get("sample_rate", 1 / 16)
    if not isinstance(rate, int | float) or isinstance(rate, bool) or not 0 < rate <= 1:
        raise ConfigError(f"ml_optimizer.sample_rate must be in (0, 1], not {rate!r}")
    return {
        "enabled": bool(config.get("enabled", True)),
        "training_interval": interval,
        "auto_apply": bool(config.get("auto_apply", False)),
        "sample_rate": float(rate),
    }


def _base_table(table: str) -> str:
    match = _HISTORY.match(table)
    return match.group(1) if match else table


class MLOptimizer:
    """The learned optimizer of one database; see the module docstring."""

    def __init__(
        self, engine: Any, planner: Planner, config: Mapping[str, Any] | None = None
    ) -> None:
        options = _options(config)
        self._engine = engine
        self.planner = planner
        self.enabled: bool = options["enabled"]
        self.training_interval: int = options["training_interval"]
        self.auto_apply: bool = options["auto_apply"]
        self.sample_rate: float = options["sample_rate"]
        self.model = CostModel()
        self.workload = Workload(
            engine,
            planner,
            self.model,
            every=round(1 / self.sample_rate),
            on_sample=self._on_sample,
        )
        self._next_training = self.training_interval
        self._applying = threading.Lock()
        self.made: dict[str, Recommendation] = {}  # every recommendation made, by index name
        self.last: list[Recommendation] = []  # those of the last recommendations() call
        self.outcomes: list[Outcome] = []
        self.rejected: dict[tuple[str, tuple[str, ...]], str] = {}  # why, per reverted index
        self._stat_lines: dict[tuple[Candidate, int], str] = {}

    @property
    def observer(self) -> Callable[[str], bool] | None:
        """What ``ChronoDB.execute`` asks before each statement (time it?); None when disabled."""
        return self.workload.due if self.enabled else None

    # ------------------------------------------------------------------ learning
    def _on_sample(self) -> None:
        if self.workload.total < self._next_training:
            return
        self._next_training = self.workload.total + self.training_interval
        if not self.model.worth_training():
            return  # little new to learn from: training again would give the same model
        self.train()
        if self.auto_apply and not self._engine.explicit:
            self.apply_recommendations()

    def train(self) -> bool:
        """Fit the cost model to the latencies measured so far."""
        return self.model.train()

    def _train_if_never(self) -> None:
        if self.model.trainings == 0:
            self.model.train()

    # ------------------------------------------------------------------ advising
    def recommendations(self) -> list[Recommendation]:
        """Indexes worth creating (what-if plan + cost model) and never-used ones to drop."""
        if not self.enabled:
            return []
        self._train_if_never()
        self.workload.refresh_stats()  # row counts as they are now
        out = self._index_recommendations()
        out += self._drop_recommendations()
        for rec in out:
            self.made.setdefault(rec.index, rec)
        self.last = out
        return out

    def report_recommendations(self) -> list[Recommendation]:
        """What the health report lists: the recommendations now, where trying a candidate
        costs little; else those of the last :meth:`recommendations` call not yet applied
        (without hypopg, PostgreSQL builds each candidate, which a report must not do)."""
        if self.planner.what_if_is_cheap():
            return self.recommendations()
        applied = {o.index for o in self.outcomes}
        return [r for r in self.last if r.index not in applied]

    def _worth_indexing(self, stmt: Statement) -> bool:
        p50 = stmt.p50_ns() or 0.0
        return stmt.kind == "read" and (stmt.calls >= _MIN_CALLS or p50 >= _SLOW_NS)

    def _index_recommendations(self) -> list[Recommendation]:
        engine, planner = self._engine, self.planner
        statements = [s for s in self.workload.captured() if self._worth_indexing(s)]
        if not statements:
            return []
        stats = self.workload.table_stats()
        with engine.lock:
            runnable = [(s, self.workload.executed_sql(*s.example)) for s in statements]
            columns_of = planner.columns(list(stats.rows))
            whatif = planner.whatif(stats)
        try:
            proposals: dict[Candidate, list[tuple[Statement, tuple[str, Any]]]] = {}
            for stmt, (sql, params) in runnable:
                # A temporal read's own columns count too: where the layout reads the
                # current table for rows unchanged since the point, an index there serves it.
                texts = [sql, stmt.example[0]] if stmt.temporal else [sql]
                found = [
                    c for text in texts for c in candidates_for(text, columns_of, planner.backend)
                ]
                for cand in dict.fromkeys(found):
                    if not indexable(cand.table) or (cand.table, cand.columns) in self.rejected:
                        continue
                    proposals.setdefault(cand, []).append((stmt, (sql, params)))
            scored = []
            for cand, users in proposals.items():
                rec = self._score(whatif, stats, cand, users)
                if rec is not None:
                    scored.append(rec)
        finally:
            whatif.close()
        scored.sort(key=lambda r: r.predicted_gain_ms, reverse=True)
        chosen: list[Recommendation] = []
        served: set[str] = set()
        for rec in scored:
            fingerprints = {s["fingerprint"] for s in rec.statements}
            if fingerprints <= served:
                continue  # a better index already serves all of these statements
            served |= fingerprints
            chosen.append(rec)
        return chosen

    def _score(
        self,
        whatif: WhatIf,
        stats: TableStats,
        cand: Candidate,
        users: list[tuple[Statement, tuple[str, Any]]],
    ) -> Recommendation | None:
        planner = self.planner
        with self._engine.lock:
            if existing_covers(stats, cand) or planner.is_key(cand):
                return None
            base_plans = [planner.explain(sql, params) for _, (sql, params) in users]
            tried = whatif.plan_with(cand, [sql_params for _, sql_params in users])
        if tried is None:
            return None
        plans, with_stats, used_name = tried
        evidence = []
        before_ms = after_ms = 0.0
        for (stmt, (sql, _)), base, plan in zip(users, base_plans, plans, strict=True):
            if used_name not in planner.indexes_used(plan):
                continue
            names = planner.aliases(sql)
            measured = stmt.p50_ns() or 0.0
            now = self.model.predict(planner.features(base, stats, names, stmt.mean_rows, False))
            then = self.model.predict(
                planner.features(plan, with_stats, names, stmt.mean_rows, False)
            )
            ratio = then / now if now > 0 else 1.0
            costs = planner.cost(base), planner.cost(plan)
            if costs[0] and costs[1] is not None:
                # The planner's own estimate, where it gives one: a model trained on a few
                # query shapes extrapolates poorly to plans it has not seen; the larger
                # predicted gain is tried, and verify-and-revert measures it.
                ratio = min(ratio, costs[1] / costs[0])
            predicted = measured * min(ratio, 1.0)
            before_ms += stmt.calls * measured / 1e6
            after_ms += stmt.calls * predicted / 1e6
            evidence.append(
                {
                    "fingerprint": stmt.fingerprint,
                    "calls": stmt.calls,
                    "measured_p50_ms": round(measured / 1e6, 4),
                    "predicted_p50_ms": round(predicted / 1e6, 4),
                    "plan_now": [s.detail for s in base],
                    "plan_with_index": [s.detail for s in plan],
                }
            )
        if not evidence or after_ms > before_ms * (1 - REQUIRED_SPEEDUP):
            return None
        gain = before_ms - after_ms
        write_cost = self._write_cost_ms(stats, cand.table)
        if write_cost >= gain:
            return None
        return Recommendation(
            kind="create_index",
            table=cand.table,
            index=cand.name,
            columns=cand.columns,
            sql=planner.ddl(cand),
            source="model",
            reason=(
                f"the planner uses it for {len(evidence)} statement(s); the model predicts "
                f"{before_ms:.3f} ms -> {after_ms:.3f} ms over the calls seen"
            ),
            statements=evidence,
            predicted_gain_ms=gain,
            write_cost_ms=write_cost,
        )

    def _writes_to(self, table: str) -> list[Statement]:
        base = _base_table(table).lower()
        out = []
        for stmt in self.workload.captured():
            if stmt.kind == "write" and stmt.example[0]:
                targets = {t.lower() for t in self.planner.aliases(stmt.example[0]).values()}
                if base in targets:
                    out.append(stmt)
        return out

    def _write_cost_ms(self, stats: TableStats, table: str) -> float:
        """Estimated: each write updates one more b-tree, among the table's and its history's."""
        base = _base_table(table)
        trees = 1 + sum(
            1
            for t in stats.index_table.values()
            if t == base or (_base_table(t) == base and t != base)
        )
        trees += sum(1 for t in stats.rows if t != base and _base_table(t) == base)
        total = 0.0
        for stmt in self._writes_to(table):
            total += stmt.calls * (stmt.p50_ns() or 0.0) / max(trees, 1) / 1e6
        return total

    def _drop_recommendations(self) -> list[Recommendation]:
        """Rule: a user index no plan of the workload used, once the workload is large enough."""
        calls = sum(s.calls for s in self.workload.captured())
        if calls < _MIN_STATEMENTS_FOR_DROP:
            return []
        used: set[str] = set()
        for stmt in self.workload.captured():
            try:
                self.workload.features_of(stmt)
            except Exception:
                continue
            used |= self.planner.indexes_used(stmt.plan)
        out = []
        with self._engine.lock:
            indexes = self.planner.user_indexes()
        for index in indexes:
            if index.name in used or index.unique:
                continue
            table = index.table
            reads = [
                s
                for s in self.workload.captured()
                if s.kind == "read" and table.lower() in {t.lower() for t in s.names.values()}
            ]
            writes = self._writes_to(table)
            out.append(
                Recommendation(
                    kind="drop_index",
                    table=table,
                    index=index.name,
                    columns=index.columns,
                    sql=self.planner.drop_ddl(index.name),
                    source="rule",
                    reason=(
                        f"no plan of the {calls} statements seen used it; "
                        f"{sum(s.calls for s in writes)} writes to {table} maintain it"
                    ),
                    statements=[{"fingerprint": s.fingerprint, "calls": s.calls} for s in reads],
                )
            )
        return out

    # ------------------------------------------------------------------ applying
    def apply_recommendations(
        self, recommendations: list[Recommendation] | None = None
    ) -> list[dict[str, Any]]:
        """Create each recommended index, measure, keep it only if it helped (or drop it).

        Returns one outcome per index tried: before and after latencies, kept, and why.
        Drop-index recommendations are only applied when passed in explicitly.
        """
        if not self._applying.acquire(blocking=False):
            return []  # already applying (e.g. auto_apply from another thread)
        try:
            if recommendations is None:
                recommendations = [r for r in self.recommendations() if r.kind == "create_index"]
            verifier = Verifier(self._engine, self.workload)
            results = []
            for rec in recommendations:
                if rec.kind == "drop_index":
                    with self._engine.lock:
                        self.planner.drop_index(rec.index)
                    results.append({"index": rec.index, "dropped": True, "reason": rec.reason})
                    continue
                fingerprints = {s["fingerprint"] for s in rec.statements}
                reads = [s for s in self.workload.captured() if s.fingerprint in fingerprints]
                outcome = verify(
                    verifier,
                    rec.index,
                    rec.table,
                    rec.columns,
                    rec.sql,
                    reads,
                    self._writes_to(rec.table),
                )
                self.outcomes.append(outcome)
                if outcome.kept:  # latencies from before the index describe another plan
                    for stmt in reads:
                        stmt.latencies = Reservoir()
                else:
                    self.rejected[(rec.table, rec.columns)] = outcome.reason
                results.append(outcome.as_dict())
            self.workload.refresh_stats()
            return results
        finally:
            self._applying.release()

    # ------------------------------------------------------------------ reporting
    def get_performance_metrics(self) -> dict[str, Any]:
        """What the optimizer has seen, how good its model is, and what its changes did."""
        self._train_if_never()
        kept = [o for o in self.outcomes if o.kept]
        captured = self.workload.captured()
        mape = self.model.mape if self.model.mape is not None else self.model.error()
        return {
            "enabled": self.enabled,
            "statements_seen": self.workload.calls(),
            "samples_seen": self.model.samples,
            "fingerprints": len(captured),
            "training_interval": self.training_interval,
            "sample_rate": self.sample_rate,
            "model": {
                "kind": "ridge regression on log latency from plan features",
                "trainings": self.model.trainings,
                "trained_on": self.model.trained_on,
                "mape": None if mape is None else round(mape, 4),
            },
            "recommendations_made": len(self.made),
            "recommendations_applied": len(self.outcomes),
            "recommendations_kept": len(kept),
            "recommendations_reverted": len(self.outcomes) - len(kept),
            "measured_gains": [
                {
                    "index": o.index,
                    "speedup": round(o.reads_before_ms / max(o.reads_after_ms, 1e-9), 2),
                    "gain_ms": round(o.gain_ms, 3),
                }
                for o in kept
            ],
            "reverted": [
                {"index": o.index, "reason": o.reason} for o in self.outcomes if not o.kept
            ],
        }

    def slowest(self, limit: int = 5) -> list[dict[str, Any]]:
        """The fingerprints that cost the most time (calls x p50), slowest first."""
        ranked = sorted(
            self.workload.captured(),
            key=lambda s: s.calls * (s.p50_ns() or 0.0),
            reverse=True,
        )
        return [s.summary() for s in ranked[:limit]]

    def generate_training_report(self) -> str:
        """A readable report: what was seen, the model and its error, changes, slowest."""
        m = self.get_performance_metrics()
        if not m["enabled"]:
            return "ML optimizer: disabled (ml_optimizer.enabled is false); nothing captured."
        mape = m["model"]["mape"]
        lines = [
            "ChronoDB learned optimizer: training report",
            f"  statements seen:       {m['statements_seen']}",
            f"  timed samples:         {m['samples_seen']} (sample rate {self.sample_rate:g})",
            f"  fingerprints:          {m['fingerprints']}",
            f"  model:                 {m['model']['kind']}",
            f"  trainings:             {m['model']['trainings']} "
            f"(every {self.training_interval} statements, on {m['model']['trained_on']} samples)",
            "  model error (MAPE):    "
            + ("not enough held-out samples yet" if mape is None else f"{mape * 100:.1f}%"),
            f"  recommendations made:  {m['recommendations_made']}",
            f"  applied / kept / reverted: {m['recommendations_applied']} / "
            f"{m['recommendations_kept']} / {m['recommendations_reverted']}",
        ]
        for gain in m["measured_gains"]:
            lines.append(f"  kept {gain['index']}: {gain['speedup']}x faster, {gain['gain_ms']} ms")
        for rev in m["reverted"]:
            lines.append(f"  reverted {rev['index']}: {rev['reason']}")
        lines.append("Slowest fingerprints (calls x p50):")
        for s in self.slowest():
            plan = "; ".join(s["plan"]) or "-"
            lines.append(
                f"  {s['calls']:>7} calls  p50 {_fmt_ms(s['p50_ms'])}  p95 {_fmt_ms(s['p95_ms'])}"
                f"  {s['fingerprint']}"
            )
            lines.append(f"           plan: {plan}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        state = "enabled" if self.enabled else "disabled"
        return f"<MLOptimizer {state} samples={self.model.samples}>"


def _fmt_ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f} ms"
