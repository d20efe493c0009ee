"""The rule push_query_as_of gives every table of a query the query-wide temporal clause."""

from __future__ import annotations

import pytest
from fixtures import load

from chronodb.sql.dialect import parse, to_sql
from chronodb.sql.rules.query_as_of import push_query_as_of


@pytest.mark.parametrize(("sql", "expected"), load("query_as_of.sql"))
def test_push_query_as_of(sql: str, expected: str) -> None:
    assert to_sql(push_query_as_of(parse(sql)[0])) == expected
