"""What SQLite's planner says about a statement, as numbers a cost model can learn from.

``explain`` runs EXPLAIN QUERY PLAN; ``TableStats`` reads row counts and index statistics
(``sqlite_stat1``, else ``count(*)``); ``plan_features`` turns a plan and those statistics
into a feature vector: rows examined by full scans and by index searches (multiplied
through nested loops, so a join's inner table counts once per outer row), the number of
scans, searches, temporary b-trees, automatic indexes and tables, and the rows returned.
"""

from __future__ import annotations

import math
import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp
from sqlglot.errors import SqlglotError

from chronodb.sql.dialect import parse
from chronodb.versioning.tables import qualified

FEATURES = (
    "bias",
    "log_rows_scanned",
    "log_rows_searched",
    "scans",
    "searches",
    "temp_btrees",
    "automatic_indexes",
    "tables",
    "log_rows_returned",
    "write",
)

_STEP = re.compile(
    r"^(SCAN|SEARCH) (\S+)(?: AS \S+)?"
    r"(?: USING (?:(AUTOMATIC (?:PARTIAL )?COVERING INDEX)|(?:COVERING )?INDEX (\S+)"
    r"|INTEGER PRIMARY KEY|PRIMARY KEY))?(?: \((.*)\))?"
)
_DEFAULT_EQ_ROWS = 10  # SQLite's own guess for one equality term without statistics
_RANGE_FACTOR = 4  # and for one range term: a quarter of the rows


@dataclass(frozen=True, slots=True)
class Step:
    """One line of EXPLAIN QUERY PLAN."""

    id: int
    parent: int
    detail: str


@dataclass(slots=True)
class TableStats:
    """Row counts per table and ``sqlite_stat1`` numbers per index, read once per schema."""

    rows: dict[str, int] = field(default_factory=dict)
    indexes: dict[str, list[int]] = field(default_factory=dict)  # index -> [N, per col...]
    index_table: dict[str, str] = field(default_factory=dict)
    index_columns: dict[str, list[str]] = field(default_factory=dict)
    analyzed: set[str] = field(default_factory=set)  # tables sqlite_stat1 knows

    @classmethod
    def read(cls, conn: sqlite3.Connection) -> TableStats:
        stats = cls()
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        for name, table in conn.execute(
            "SELECT name, tbl_name FROM sqlite_schema WHERE type = 'index'"
        ):
            stats.index_table[name] = table
            cols = conn.execute(f"PRAGMA main.index_info({quote(name)})").fetchall()
            stats.index_columns[name] = [c[2] for c in cols]
        has_stat1 = conn.execute(
            "SELECT 1 FROM sqlite_schema WHERE name = 'sqlite_stat1'"
        ).fetchone()
        if has_stat1:
            for table, index, stat in conn.execute("SELECT tbl, idx, stat FROM sqlite_stat1"):
                numbers = [int(p) for p in str(stat).split() if p.isdigit()]
                if not numbers:
                    continue
                stats.analyzed.add(table)
                stats.rows[table] = numbers[0]
                if index is not None:
                    stats.indexes[index] = numbers
        for table in tables:
            if table not in stats.rows:
                count = conn.execute(f"SELECT count(*) FROM {qualified(table)}").fetchone()[0]
                stats.rows[table] = int(count)
        return stats


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def explain(conn: sqlite3.Connection, sql: str, params: Any = ()) -> list[Step]:
    rows = conn.execute("EXPLAIN QUERY PLAN " + sql, () if params is None else params)
    return [Step(r[0], r[1], r[3]) for r in rows]


def aliases(sql: str, backend: str = "sqlite") -> dict[str, str]:
    """Alias (or name) -> table name for every table the statement reads or writes."""
    try:
        trees = parse(sql, backend)
    except (SqlglotError, ValueError, RecursionError):
        return {}
    out: dict[str, str] = {}
    for tree in trees:
        if tree is None:
            continue
        for table in tree.find_all(exp.Table):
            out[table.alias_or_name] = table.name
            out.setdefault(table.name, table.name)
    return out


def indexes_used(plan: Sequence[Step]) -> set[str]:
    used = set()
    for step in plan:
        match = _STEP.match(step.detail)
        if match and match.group(4):
            used.add(match.group(4))
    return used


def _examined(match: re.Match[str], table_rows: int, stats: TableStats) -> float:
    kind, automatic, index, terms = match.group(1), match.group(3), match.group(4), match.group(5)
    if kind == "SCAN" or automatic:
        return float(table_rows)
    terms = terms or ""
    eq = len(re.findall(r"(?<![<>!])=", terms))
    ranges = len(re.findall(r"[<>]", terms))
    if index is None:  # the rowid or the primary key
        rows = 1.0 if eq else table_rows / _RANGE_FACTOR
        return max(rows, 1.0)
    numbers = stats.indexes.get(index)
    if eq and numbers and len(numbers) > eq:
        rows = float(numbers[eq])
    elif eq:
        rows = float(min(table_rows, _DEFAULT_EQ_ROWS))
    else:
        rows = float(table_rows)
    if ranges:
        rows /= _RANGE_FACTOR
    return max(rows, 1.0)


def plan_features(
    plan: Sequence[Step],
    stats: TableStats,
    names: dict[str, str],
    rows_returned: float,
    write: bool,
) -> tuple[float, ...]:
    """The feature vector (in the order of ``FEATURES``) of one plan."""
    scanned = searched = 0.0
    scans = searches = temp = automatic = tables = 0
    loop = 1.0  # rows produced by the enclosing loops: an inner step runs once per outer row
    for step in plan:
        detail = step.detail
        if detail.startswith("USE TEMP B-TREE"):
            temp += 1
            continue
        match = _STEP.match(detail)
        if match is None:
            continue
        name = match.group(2)
        table_rows = stats.rows.get(names.get(name, name), stats.rows.get(name, 1000))
        examined = _examined(match, table_rows, stats)
        tables += 1
        if match.group(3):
            automatic += 1
        if match.group(1) == "SCAN" and match.group(2) != "CONSTANT":
            scans += 1
            scanned += loop * examined
        else:
            searches += 1
            searched += loop * examined
        loop *= max(1.0, min(examined, 1e6))
    counts = (scans, searches, temp, automatic, tables)
    return feature_vector(scanned, searched, counts, rows_returned, write)


def feature_vector(
    scanned: float,
    searched: float,
    counts: tuple[int, int, int, int, int],
    rows_returned: float,
    write: bool,
) -> tuple[float, ...]:
    """The vector in the order of ``FEATURES``; ``counts``: scans, searches, temporary
    b-trees (sorts), automatic indexes (built lookup structures) and tables."""
    return (
        1.0,
        math.log1p(scanned),
        math.log1p(searched),
        *(float(c) for c in counts),
        math.log1p(max(rows_returned, 0.0)),
        1.0 if write else 0.0,
    )
