"""Golden SQL files: ``# title:`` lines, each followed by an input and its expected output.

    # title: the seed's placement becomes SQL:2011's
    SELECT * FROM t AS OF TIMESTAMP 5
    SELECT * FROM t FOR SYSTEM_TIME AS OF 5

Blank lines and other ``#`` lines are ignored; a case is always exactly two lines of SQL.
"""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


def load(name: str) -> list[pytest.ParameterSet]:
    """The cases of ``fixtures/<name>`` as pytest parameters ``(sql, expected)`` with ids."""
    cases: list[pytest.ParameterSet] = []
    title: str | None = None
    lines: list[str] = []
    path = FIXTURES / name
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if line.startswith("# title:"):
            if title is not None:
                raise ValueError(f"{path}:{number}: case {title!r} has {len(lines)} line(s), not 2")
            title, lines = line.removeprefix("# title:").strip(), []
        elif line and not line.startswith("#"):
            if title is None:
                raise ValueError(f"{path}:{number}: SQL before any '# title:' line")
            lines.append(line)
            if len(lines) == 2:
                cases.append(pytest.param(*lines, id=title))
                title = None
    if title is not None:
        raise ValueError(f"{path}: case {title!r} lacks its expected output")
    if not cases:
        raise ValueError(f"{path}: no cases")
    return cases
