"""The rule expose_rowids points rowid at a column of the history subquery; stars are kept."""

from __future__ import annotations

import pytest
from fixtures import load
from sqlglot import exp

from chronodb.sql.dialect import parse, to_sql
from chronodb.sql.rules.rowid_columns import RowidError, expose_rowids, spell_out_stars


@pytest.mark.parametrize(("sql", "expected"), load("rowid_columns.sql"))
def test_expose_rowids(sql: str, expected: str) -> None:
    assert to_sql(expose_rowids(parse(sql)[0])) == expected


def _table(tree: exp.Expr, name: str) -> exp.Table:
    return next(t for t in tree.find_all(exp.Table) if t.name == name)


def test_stars_over_the_table_are_spelled_out_and_others_stay() -> None:
    tree = parse("SELECT *, t.* FROM t FOR SYSTEM_TIME AS OF 5 JOIN u ON u.id = t.id")[0]
    spell_out_stars(_table(tree, "t"), ["id", "v"])
    assert to_sql(tree) == (
        'SELECT "t"."id", "t"."v", "u".*, "t"."id", "t"."v" '
        "FROM t FOR SYSTEM_TIME AS OF 5 JOIN u ON u.id = t.id"
    )


def test_a_star_over_a_using_join_cannot_be_spelled_out() -> None:
    tree = parse("SELECT * FROM t FOR SYSTEM_TIME AS OF 5 JOIN u USING (id)")[0]
    with pytest.raises(RowidError, match="USING or NATURAL"):
        spell_out_stars(_table(tree, "t"), ["id", "v"])
