"""Take a FROM clause's joins out of the parentheses PostgreSQL writes around them.

    SELECT u.name, o.item FROM (users u JOIN orders o ON o.uid = u.id)
    -> SELECT u.name, o.item FROM users AS u JOIN orders AS o ON o.uid = u.id

``pg_get_viewdef`` renders every view's joins so, and that is the text ChronoDB keeps of a
view on PostgreSQL. Read AS OF a point, each table of the view becomes a snapshot of it,
which the parenthesised form does not take (it came back as a syntax error), nor does
SQLite's AS OF rewriting read into it. Without an alias the parentheses group nothing a
query can name, and joins run left to right either way, so the query means the same.
"""

from __future__ import annotations

from sqlglot import exp


def flat_joins(node: exp.Expression) -> exp.Expression:
    """``node`` (for ``Expression.transform``) with its FROM's parenthesised joins flat."""
    if not isinstance(node, exp.Select):
        return node
    key = "from_" if "from_" in node.args else "from"  # sqlglot renamed it in 28
    source = node.args.get(key)
    inner = source.this if source is not None else None
    while (
        source is not None
        and isinstance(inner, exp.Subquery)
        and not inner.alias
        and isinstance(inner.this, exp.Table)
        and inner.this.args.get("joins")
    ):
        table = inner.this
        joins = table.args.pop("joins")
        source.set("this", table)
        node.set("joins", [*joins, *(node.args.get("joins") or [])])
        inner = table
    return node
