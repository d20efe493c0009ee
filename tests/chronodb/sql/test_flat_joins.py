"""``flat_joins``: the parentheses PostgreSQL writes around a view's joins, taken out."""

from __future__ import annotations

import sqlglot

from chronodb.sql.rules.flat_joins import flat_joins


def _flat(sql: str) -> str:
    return sqlglot.parse_one(sql, read="postgres").transform(flat_joins).sql("postgres")


def test_a_view_as_postgresql_renders_it_reads_its_joins_flat() -> None:
    rendered = (
        " SELECT u.name,\n    o.what\n   FROM (users u\n     JOIN orders o ON ((o.uid = u.id)));"
    )
    assert _flat(rendered) == (
        "SELECT u.name, o.what FROM users AS u JOIN orders AS o ON ((o.uid = u.id))"
    )


def test_joins_after_the_parentheses_stay_after_those_inside() -> None:
    assert _flat("SELECT 1 FROM (a JOIN b ON a.i = b.i) LEFT JOIN c ON c.i = a.i") == (
        "SELECT 1 FROM a JOIN b ON a.i = b.i LEFT JOIN c ON c.i = a.i"
    )


def test_a_named_or_plain_subquery_is_left_alone() -> None:
    for sql in (
        "SELECT s.i FROM (SELECT a.i FROM a JOIN b ON a.i = b.i) AS s",
        "SELECT x.i FROM (a JOIN b ON a.i = b.i) AS x",
        "SELECT 1 FROM a JOIN b ON a.i = b.i",
    ):
        assert _flat(sql) == sqlglot.parse_one(sql, read="postgres").sql("postgres")
