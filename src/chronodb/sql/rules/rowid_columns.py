"""Let ``rowid`` name a row of a table read in the past.

    SELECT rowid, v FROM t AS OF TIMESTAMP 5 WHERE rowid = 2
    -> SELECT t._chrono_rowid AS rowid, v FROM t FOR SYSTEM_TIME AS OF 5
       WHERE t._chrono_rowid = 2

A table read in the past becomes a subquery over its history, and a subquery has no rowid:
SQLite would answer NULL, and ``WHERE rowid = 2`` would match nothing. The history keeps
each row's rowid where it is the row's identity (a table without a primary key, or an
INTEGER PRIMARY KEY), so the subquery exposes it as a column (``_chrono_rowid``), which
the table is marked to ask for (``meta["rowid"]``). ``*`` over such a table is spelled out
when the subquery is built, so that this column stays out of the result.

Only references SQLite would resolve are rewritten: qualified by the table's name or
alias, or unqualified in a query reading one table; from a subquery, names are looked up
outward, so a correlated subquery reaches the outer query's table. A table with a column
of its own named ``rowid``, ``oid`` or ``_rowid_`` means that column by the name, as in
SQLite; ``has_column(table, name)`` says whether it has one.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from chronodb.layout import ROWID_KEY

ROWID_NAMES = frozenset({"rowid", "oid", "_rowid_"})
ROWID_COLUMN = ROWID_KEY  # the history's name for the rowid; snapshots expose it so


class RowidError(ValueError):
    """``*`` cannot be spelled out here (SQLite merges the columns of USING and NATURAL)."""


def _sources(select: exp.Select) -> list[exp.Expr]:
    from_ = select.args.get("from_") or select.args.get("from")  # sqlglot renamed it in 28
    found = [from_.this] if from_ is not None else []
    return found + [join.this for join in select.args.get("joins") or []]


def _enclosing_select(node: exp.Expr) -> exp.Select | None:
    parent = node.parent
    while parent is not None and not isinstance(parent, exp.Select):
        parent = parent.parent
    return parent


def _source_of(column: exp.Column, select: exp.Select | None) -> exp.Table | None:
    """The table ``column`` names, found the way SQLite does: in the query it is in, else in
    the queries around it (a correlated subquery naming the outer query's table)."""
    source: exp.Expr | None = None
    while select is not None:
        sources = _sources(select)
        if column.table:
            named = [s for s in sources if s.alias_or_name.lower() == column.table.lower()]
            if named:
                source = named[0] if len(named) == 1 else None
                break
        elif sources:
            source = sources[0] if len(sources) == 1 else None
            break
        select = _enclosing_select(select)
    if not isinstance(source, exp.Table):
        return None
    version = source.args.get("version")
    if version is None or version.text("kind").upper() == "CHANGES":
        return None
    return source


def _no_column(_table: str, _name: str) -> bool:
    return False


def expose_rowids(
    expression: exp.Expr, has_column: Callable[[str, str], bool] = _no_column
) -> exp.Expr:
    for column in list(expression.find_all(exp.Column)):
        if column.name.lower() not in ROWID_NAMES or isinstance(column.this, exp.Star):
            continue
        select = _enclosing_select(column)
        if select is None:
            continue
        table = _source_of(column, select)
        if table is None or has_column(table.name, column.name):
            continue
        table.meta["rowid"] = True
        ref = exp.column(ROWID_COLUMN, table=table.alias_or_name, quoted=True)
        if column.parent is select and column.arg_key == "expressions":
            column.replace(exp.alias_(ref, "rowid"))  # SQLite names any of the three "rowid"
        else:
            column.replace(ref)
    return expression


def spell_out_stars(table: exp.Table, columns: list[str]) -> None:
    """Replace ``*`` and ``table.*`` in the query reading ``table`` by ``columns``.

    Called when ``table`` becomes a subquery with the extra column ``_chrono_rowid``, which
    a star would show. Other tables' columns stay behind ``their_name.*``.
    """
    select = _enclosing_select(table)
    if select is None:
        return
    alias = table.alias_or_name
    mine = [exp.column(name, table=alias, quoted=True) for name in columns]
    items: list[exp.Expr] = []
    for item in select.expressions:
        if isinstance(item, exp.Star):
            joins = select.args.get("joins") or []
            if any(j.args.get("using") or j.args.get("method") for j in joins):
                raise RowidError(
                    f"rowid of {alias}, read in the past, with * over a USING or NATURAL "
                    "join: name the columns instead of *"
                )
            for source in _sources(select):
                if source is table:
                    items += [m.copy() for m in mine]
                elif source.alias_or_name:
                    items.append(
                        exp.Column(
                            this=exp.Star(),
                            table=exp.to_identifier(source.alias_or_name, quoted=True),
                        )
                    )
                else:
                    raise RowidError(
                        f"rowid of {alias}, read in the past, with * over a subquery "
                        "without an alias: give it one, or name the columns"
                    )
        elif (
            isinstance(item, exp.Column)
            and isinstance(item.this, exp.Star)
            and item.table.lower() == alias.lower()
        ):
            items += [m.copy() for m in mine]
        else:
            items.append(item)
    select.set("expressions", items)
