"""The rule keep_column_names names a temporal query's result columns as SQLite would."""

from __future__ import annotations

import pytest
from fixtures import load

from chronodb.sql.dialect import parse, to_sql
from chronodb.sql.rules.column_names import keep_column_names


@pytest.mark.parametrize(("sql", "expected"), load("column_names.sql"))
def test_keep_column_names(sql: str, expected: str) -> None:
    assert to_sql(keep_column_names(parse(sql)[0])) == expected
