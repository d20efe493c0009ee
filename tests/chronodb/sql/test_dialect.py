"""ChronoSQL parses the seed's and SQL:2011's temporal clauses and writes them back, as SQLite
or PostgreSQL."""

from __future__ import annotations

import pytest
from fixtures import load

from chronodb.sql.dialect import parse, to_sql


@pytest.mark.parametrize(("sql", "expected"), load("dialect.sql"))
def test_dialect(sql: str, expected: str) -> None:
    assert to_sql(parse(sql)[0]) == expected


@pytest.mark.parametrize(("sql", "expected"), load("dialect_postgres.sql"))
def test_postgres_dialect(sql: str, expected: str) -> None:
    assert to_sql(parse(sql, "postgresql")[0], backend="postgresql") == expected


def test_postgres_dialect_keeps_the_users_text_where_nothing_changed() -> None:
    sql = "SELECT x::int, doc ? 'k' FROM t AS OF TRANSACTION 3"
    assert to_sql(parse(sql, "postgresql")[0], backend="postgresql", verbatim=True) == sql


def test_postgres_dialect_says_when_the_point_is_missing() -> None:
    from sqlglot.errors import ParseError

    from chronodb.sql.dialect import InputEnded

    with pytest.raises(ParseError, match="point in time") as info:
        parse("SELECT * FROM t AS OF TRANSACTION", "postgresql")
    assert not isinstance(info.value, InputEnded)
