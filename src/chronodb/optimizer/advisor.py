"""The index advisor: candidate indexes for the statements that really ran.

Candidates come from the WHERE, JOIN and ORDER BY columns of the statements as the database
ran them (temporal ones after rewriting, so AS OF queries propose indexes on the history
tables ``_chrono_h*``). Each is then tried as a what-if by the backend's planner
(``planner.py``) before the cost model predicts the statement's latency with it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.scope import traverse_scope

from chronodb.layout import HISTORY, PREFIX
from chronodb.optimizer.plan import TableStats
from chronodb.optimizer.planner import Candidate
from chronodb.sql.dialect import parse

_MAX_COLUMNS = 3
_RANGES = (exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Between, exp.Like)


@dataclass(slots=True)
class _Uses:
    eq: list[str] = field(default_factory=list)
    ranges: list[str] = field(default_factory=list)
    joins: list[str] = field(default_factory=list)
    order: list[str] = field(default_factory=list)

    def add(self, bucket: list[str], column: str) -> None:
        if column not in bucket:
            bucket.append(column)


def _conjuncts(node: exp.Expr | None) -> Iterable[exp.Expr]:
    if node is None:
        return []
    if isinstance(node, exp.Where):
        node = node.this
    if isinstance(node, exp.And):
        return list(node.flatten())
    return [node]


def _is_value(node: exp.Expr) -> bool:
    """A side of a comparison that is fixed for one execution: no column of this query."""
    return not any(True for _ in node.find_all(exp.Column)) and not node.find(exp.Select)


def candidates_for(
    sql: str, columns_of: dict[str, set[str]], backend: str = "sqlite"
) -> list[Candidate]:
    """Indexes that could serve one statement (its SQL as ``backend`` runs it)."""
    try:
        trees = parse(sql, backend)
    except (SqlglotError, ValueError, RecursionError):
        return []
    uses: dict[str, _Uses] = {}
    for tree in trees:
        if tree is None:
            continue
        for sources, where, joins, order in _scopes(tree):

            def table_of(col: exp.Column, sources: dict[str, str] = sources) -> str | None:
                if col.table:
                    return sources.get(col.table)
                owners = [t for t in set(sources.values()) if col.name in columns_of.get(t, ())]
                if len(owners) == 1:
                    return owners[0]
                return next(iter(sources.values())) if len(set(sources.values())) == 1 else None

            def note(col: exp.Column, kind: str, table_of: Any = table_of) -> None:
                table = table_of(col)
                if table is None or col.name not in columns_of.get(table, ()):
                    return
                entry = uses.setdefault(table, _Uses())
                entry.add(getattr(entry, kind), col.name)

            for pred in [*_conjuncts(where), *(c for j in joins for c in _conjuncts(j))]:
                _classify(pred, note)
            for ordered in order:
                if isinstance(ordered.this, exp.Column):
                    note(ordered.this, "order")
    out: list[Candidate] = []
    for table, use in uses.items():
        proposals: list[tuple[str, ...]] = []
        eq = use.eq[: _MAX_COLUMNS - 1] if use.ranges or use.order else use.eq[:_MAX_COLUMNS]
        if eq and use.ranges:
            proposals.append((*eq, use.ranges[0]))
        if eq and use.order:
            proposals.append((*eq, use.order[0]))
        if eq:
            proposals.append(tuple(eq))
            proposals.extend((c,) for c in eq)
        proposals.extend((c,) for c in use.ranges[:2])
        proposals.extend((c,) for c in use.joins)
        if use.order and not eq:
            proposals.append((use.order[0],))
        for cols in proposals:
            candidate = Candidate(table, tuple(dict.fromkeys(cols)))
            if candidate not in out:
                out.append(candidate)
    return out


def _classify(pred: exp.Expr, note: Any) -> None:
    if isinstance(pred, exp.Paren):
        pred = pred.this
    if isinstance(pred, exp.EQ | exp.Is | exp.NullSafeEQ):
        left, right = pred.this, pred.expression
        if isinstance(left, exp.Column) and isinstance(right, exp.Column):
            note(left, "joins")
            note(right, "joins")
        elif isinstance(left, exp.Column) and _is_value(right):
            note(left, "eq")
        elif isinstance(right, exp.Column) and _is_value(left):
            note(right, "eq")
    elif isinstance(pred, exp.In) and isinstance(pred.this, exp.Column):
        note(pred.this, "eq")
    elif isinstance(pred, _RANGES):
        left, right = pred.this, pred.args.get("expression")
        if isinstance(left, exp.Column) and (right is None or _is_value(right)):
            note(left, "ranges")
        elif isinstance(right, exp.Column) and _is_value(left):
            note(right, "ranges")


def _scopes(tree: exp.Expr) -> Iterable[tuple[dict[str, str], Any, list[Any], list[Any]]]:
    """(alias -> table, WHERE, JOIN ON conditions, ORDER BY terms) per query scope."""
    if isinstance(tree, exp.Update | exp.Delete) and isinstance(tree.this, exp.Table):
        table = tree.this
        yield {table.alias_or_name: table.name}, tree.args.get("where"), [], []
    try:
        scopes = traverse_scope(tree)
    except Exception:  # sqlglot cannot scope every statement (e.g. some writes)
        return
    for scope in scopes:
        sources = {
            alias: src.name for alias, src in scope.sources.items() if isinstance(src, exp.Table)
        }
        if not sources:
            continue
        select = scope.expression
        joins = [j.args.get("on") for j in select.args.get("joins") or [] if j.args.get("on")]
        order = select.args.get("order")
        yield sources, select.args.get("where"), joins, list(order.expressions) if order else []


def indexable(table: str) -> bool:
    lowered = table.lower()
    if lowered.startswith("sqlite_"):
        return False
    return not lowered.startswith(PREFIX) or lowered.startswith(HISTORY)


def existing_covers(stats: TableStats, candidate: Candidate) -> str | None:
    """The existing index whose leading columns are the candidate's, if any."""
    n = len(candidate.columns)
    for index, table in stats.index_table.items():
        if table == candidate.table and tuple(stats.index_columns.get(index, [])[:n]) == (
            candidate.columns
        ):
            return index
    return None
