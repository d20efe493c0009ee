"""Apply a query-wide temporal clause to every table the query reads.

    SELECT * FROM a JOIN b ON a.id = b.a_id AS OF TIMESTAMP 5
    -> SELECT * FROM a FOR SYSTEM_TIME AS OF 5 JOIN b FOR SYSTEM_TIME AS OF 5 ON a.id = b.a_id

Tables with a clause of their own keep it; names that refer to a CTE are left alone (the
CTE's own tables get the clause instead). Inner queries are handled before outer ones.
"""

from __future__ import annotations

from sqlglot import exp

from chronodb.sql.dialect import QUERY_AS_OF


def _cte_names(node: exp.Expr) -> set[str]:
    names: set[str] = set()
    for cte in node.find_all(exp.CTE):
        names.add(cte.alias_or_name.lower())
    return names


def push_query_as_of(expression: exp.Expr) -> exp.Expr:
    selects = [s for s in expression.find_all(exp.Select) if s.args.get(QUERY_AS_OF)]
    if not selects:
        return expression
    ctes = _cte_names(expression)
    for select in reversed(selects):  # find_all is breadth-first: innermost last
        version = select.args[QUERY_AS_OF]
        select.set(QUERY_AS_OF, None)
        for table in select.find_all(exp.Table):
            if table.args.get("version") or not isinstance(table.this, exp.Identifier):
                continue
            if table.name.lower() in ctes and not table.db:
                continue
            table.set("version", version.copy())
    return expression
