"""Golden files of expected SQL: ``# title:`` lines, each followed by one line, the SQL of
the case of that title; other ``#`` lines are comments."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import sqlglot


def read_golden(path: Path) -> dict[str, str]:
    """The SQL of each case in ``path``, by title."""
    cases: dict[str, str] = {}
    title = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line.startswith("# title:"):
            title = line.removeprefix("# title:").strip()
        elif line and not line.startswith("#"):
            assert title is not None and title not in cases, f"{path}: stray line {line!r}"
            cases[title], title = line, None
    return cases


def check_case(
    path: Path, cases: Mapping[str, Callable[[], str]], title: str, dialect: str
) -> None:
    """Case ``title`` of ``cases`` builds the SQL ``path`` holds for it, which sqlglot's
    ``dialect`` parses and renders back to itself; and ``path`` holds every case."""
    golden = read_golden(path)
    assert sorted(golden) == sorted(cases)
    sql = cases[title]()
    assert sql == golden[title]
    tree = sqlglot.parse_one(sql, read=dialect)
    assert tree.sql(dialect=dialect, normalize_functions=False) == sql
