"""Carry a bound on one side of an inner join's equality over to the other side.

    SELECT ... FROM users AS OF ? JOIN orders AS OF ? ON orders.user_id = users.id
    WHERE users.id > ?
    -> ... WHERE users.id > ? AND orders.user_id > ?

A table read AS OF a point is a subquery over its history, and each of its rows costs a seek
of the history's key index. SQLite drives such a join from the table it cannot seek (the one
joined on a column that is not its key) and probes the other; with the bound carried over,
the driving table's rows outside the bound are dropped before the probe instead of after it.

The added condition is implied by the two it comes from, so the query's rows do not change,
provided that ``a = b`` makes ``a op v`` and ``b op v`` agree: both columns must convert
``v`` alike and compare alike, which ``alike`` decides (same affinity and collation). Only
conditions of the query's own inner joins count (its WHERE and the ON clauses of its joins,
none of them outer), only columns qualified by a table of that query (named once in its
FROM), and only bounds by a literal or a parameter.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

# A comparison, and the one it becomes with its two sides swapped.
_FLIPPED: dict[type[exp.Expr], type[exp.Expr]] = {
    exp.EQ: exp.EQ,
    exp.GT: exp.LT,
    exp.GTE: exp.LTE,
    exp.LT: exp.GT,
    exp.LTE: exp.GTE,
}


def _conjuncts(node: exp.Expr | None) -> list[exp.Expr]:
    if node is None:
        return []
    node = node.unnest()
    if isinstance(node, exp.And):
        return [c for part in (node.this, node.expression) for c in _conjuncts(part)]
    return [node]


def _is_value(node: exp.Expr) -> bool:
    """A literal or a parameter: the same value on every row."""
    if isinstance(node, exp.Neg):
        node = node.this
    return isinstance(node, exp.Literal | exp.Placeholder)


def _inner_only(select: exp.Select) -> bool:
    for join in select.args.get("joins") or []:
        side = join.text("side").upper()
        kind = join.text("kind").upper()
        if side or kind not in ("", "INNER", "CROSS") or join.args.get("method"):
            return False
        if join.args.get("using"):
            return False
    return True


Alike = Callable[[exp.Table, str, exp.Table, str], bool]


def carry_join_bounds(expression: exp.Expr, alike: Alike) -> exp.Expr:
    """``expression`` with each bound carried over its inner joins' equalities (see above).

    ``alike(table_a, column_a, table_b, column_b)`` says whether the two tables' columns (by
    name) convert and compare values alike; it returns False for a table it does not know.
    """
    for select in list(expression.find_all(exp.Select)):
        if not select.args.get("joins") or not _inner_only(select):
            continue
        where = select.args.get("where")
        conds = _conjuncts(where.this if where is not None else None)
        for join in select.args["joins"]:
            conds += _conjuncts(join.args.get("on"))
        pairs = [
            (c.this, c.expression)
            for c in conds
            if isinstance(c, exp.EQ)
            and isinstance(c.this, exp.Column)
            and isinstance(c.expression, exp.Column)
            and c.this.table
            and c.expression.table
            and c.this.table.lower() != c.expression.table.lower()
        ]
        if not pairs:
            continue
        tables = _tables(select)
        bounds = []
        for c in conds:
            kind = type(c)
            if kind not in _FLIPPED:
                continue
            if isinstance(c.this, exp.Column) and _is_value(c.expression):
                bounds.append((c.this, kind, c.expression))
            elif isinstance(c.expression, exp.Column) and _is_value(c.this):
                bounds.append((c.expression, _FLIPPED[kind], c.this))
        known = {_key(col, kind, value) for col, kind, value in bounds}
        added: list[exp.Expr] = []
        for col, kind, value in bounds:
            for a, b in pairs:
                for this, other in ((a, b), (b, a)):
                    if not _same(col, this) or not _alike(this, other, tables, alike):
                        continue
                    key = _key(other, kind, value)
                    if key in known:
                        continue
                    known.add(key)
                    added.append(kind(this=other.copy(), expression=value.copy()))
        if added and where is not None:  # the WHERE kept, so its text stays the user's
            where.set("this", exp.and_(where.this, *added, copy=False))
        elif added:
            select.set("where", exp.Where(this=exp.and_(*added, copy=False)))
    return expression


def _tables(select: exp.Select) -> dict[str, exp.Table | None]:
    """The tables of ``select``'s FROM by lowercased alias or name (None: named twice)."""
    from_ = select.args.get("from_") or select.args.get("from")  # sqlglot renamed it in 28
    sources = [from_.this] if from_ is not None else []
    sources += [join.this for join in select.args.get("joins") or []]
    found: dict[str, exp.Table | None] = {}
    for source in sources:
        name = source.alias_or_name.lower()
        found[name] = None if name in found or not isinstance(source, exp.Table) else source
    return found


def _alike(a: exp.Column, b: exp.Column, tables: dict[str, exp.Table | None], alike: Alike) -> bool:
    ta, tb = tables.get(a.table.lower()), tables.get(b.table.lower())
    return ta is not None and tb is not None and alike(ta, a.name, tb, b.name)


def _same(a: exp.Column, b: exp.Column) -> bool:
    return a.name.lower() == b.name.lower() and a.table.lower() == b.table.lower()


def _key(col: exp.Column, kind: type[exp.Expr], value: exp.Expr) -> tuple:
    """What a bound says, so that one already written is not added again: a positional
    parameter by its place, any other value by its SQL."""
    if isinstance(value, exp.Placeholder) and not value.this:
        said: object = ("?", value.meta.get("index"))
    else:
        said = value.sql()
    return (col.table.lower(), col.name.lower(), kind.__name__, said)
