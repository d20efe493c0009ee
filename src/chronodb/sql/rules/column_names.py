"""Keep the result's column names: SQLite names an unaliased expression by its text.

    SELECT count(*), a+b FROM t AS OF TIMESTAMP 5
    -> SELECT COUNT(*) AS "count(*)", a + b AS "a+b" FROM t FOR SYSTEM_TIME AS OF 5

Rewritten SQL is written by sqlglot (``COUNT(*)``, ``a + b``), so without an alias the
columns of a temporal query would not be named as the same query's without the clause.
Only the outermost query's items matter (a set operation's first query names the columns;
``CREATE TABLE ... AS SELECT`` names the new table's columns by them).
"""

from __future__ import annotations

from sqlglot import exp

from chronodb.sql.dialect import SOURCE_TEXT


def keep_column_names(expression: exp.Expr) -> exp.Expr:
    query = expression.expression if isinstance(expression, exp.Create) else expression
    while isinstance(query, exp.SetOperation):
        query = query.this
    if not isinstance(query, exp.Select):
        return expression
    for item in query.expressions:
        if isinstance(item, exp.Alias | exp.Column | exp.Star):
            continue
        text = item.meta.get(SOURCE_TEXT) if item._meta else None
        if text:
            item.replace(exp.alias_(item.copy(), text, quoted=True))
    return expression
