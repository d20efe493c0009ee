"""ChronoSQL parses the seed's and SQL:2011's temporal clauses and writes them back as SQLite."""

from __future__ import annotations

import pytest
from fixtures import load

from chronodb.sql.dialect import parse, to_sql


@pytest.mark.parametrize(("sql", "expected"), load("dialect.sql"))
def test_dialect(sql: str, expected: str) -> None:
    assert to_sql(parse(sql)[0]) == expected
