"""Read a view AS OF a point by reading its definition then, over its tables AS OF that point.

SELECT * FROM v AS OF TIMESTAMP 5   (CREATE VIEW v AS SELECT a FROM t, at 5)
-> SELECT * FROM (SELECT a FROM t FOR SYSTEM_TIME AS OF 5) AS v

``view_body(name, version)`` gives the view's query as it was at the reference's point (or
None where ``name`` was no view then); the views a body reads take the same point.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp


def expand_views(
    expression: exp.Expr,
    view_body: Callable[[str, exp.Version], exp.Expr | None],
    depth: int = 0,
) -> exp.Expr:
    if depth > 16:
        return expression
    for table in list(expression.find_all(exp.Table)):
        version = table.args.get("version")
        if version is None or not isinstance(table.this, exp.Identifier):
            continue
        body = view_body(table.name, version)
        if body is None:
            continue
        body = body.copy()
        for inner in body.find_all(exp.Table):
            if not inner.args.get("version") and isinstance(inner.this, exp.Identifier):
                inner.set("version", version.copy())
        body = expand_views(body, view_body, depth + 1)
        alias = exp.to_identifier(table.alias or table.name, quoted=True)
        table.replace(exp.Subquery(this=body, alias=exp.TableAlias(this=alias)))
    return expression
