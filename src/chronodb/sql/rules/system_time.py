"""Replace each temporal table reference with a query over its history table.

    SELECT name FROM users FOR SYSTEM_TIME AS OF :p0
    -> SELECT name FROM (<the versions of users current at :p0>) AS users

The subquery comes from a ``build(table, version) -> str`` callback that knows the catalog;
this rule only swaps nodes, keeping the table's alias (or its name) so that qualified
column references still resolve.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from sqlglot import exp

from chronodb.sql.dialect import parse


@functools.lru_cache(maxsize=256)
def _parse_body(sql: str) -> exp.Expr:
    """A subquery's SQL, parsed once: the same table read the same way gives the same text.
    Callers copy it."""
    return parse(sql)[0]


def replace_temporal_tables(
    expression: exp.Expr, build: Callable[[exp.Table, exp.Version], str]
) -> exp.Expr:
    for table in list(expression.find_all(exp.Table)):
        version = table.args.get("version")
        if version is None:
            continue
        body = _parse_body(build(table, version)).copy()
        alias = exp.to_identifier(table.alias or table.name, quoted=True)
        sub = exp.Subquery(this=body, alias=exp.TableAlias(this=alias))
        # A parenthesized join, ``(a JOIN b ON ...)``, hangs its joins on its first table.
        if table.args.get("joins"):
            sub.set("joins", table.args["joins"])
        if table is expression:
            return sub
        table.replace(sub)
    return expression
