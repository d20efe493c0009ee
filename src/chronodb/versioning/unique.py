"""A table's UNIQUE constraints that can make REPLACE remove a row of another key.

REPLACE (``INSERT OR REPLACE``, ``UPDATE OR REPLACE``, or a constraint's own ``ON CONFLICT
REPLACE``) deletes the rows a new row conflicts with, and with ``recursive_triggers`` off,
as in plain SQLite, that deletion fires no delete trigger. A conflict on the table's key is
the same history key written again, which the insert or key-change trigger versions; a
conflict on any other UNIQUE index removes a row of another key, whose end history must
record. Each such index yields a condition that matches the rows a new row conflicts with
on it, as SQLite compares them: under the index's collation, NULLs never equal, only rows
the index holds (a partial index's ``WHERE``), on its expressions for an expression index.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from sqlglot import exp
from sqlglot.errors import SqlglotError

from chronodb.sql.dialect import parse, to_sql


@dataclass(frozen=True, slots=True)
class Unique:
    """One UNIQUE index of a table, as a test of two rows against it."""

    terms: tuple[tuple[exp.Expr, str], ...]  # (indexed expression, collation)
    where: exp.Expr | None  # a partial index's condition
    columns: frozenset[str]  # the columns it reads: an UPDATE of others cannot conflict on it

    def match(self, row: str, new: str) -> str:
        """SQL true when row ``row`` conflicts on this index with row ``new``."""
        tests = [
            f"({_on(term, row)}) COLLATE {coll} = ({_on(term, new)})" for term, coll in self.terms
        ]
        if self.where is not None:
            tests += [f"({_on(self.where, row)})", f"({_on(self.where, new)})"]
        return " AND ".join(tests)


def _on(expression: exp.Expr, alias: str) -> str:
    """``expression`` with its columns read from row ``alias`` (NEW, OLD or a table alias)."""

    def qualify(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Column):
            return exp.Column(
                this=exp.Identifier(this=node.name, quoted=True),
                table=exp.Identifier(this=alias, quoted=False),
            )
        return node

    return to_sql(expression.copy().transform(qualify))


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _columns_in(expression: exp.Expr) -> set[str]:
    return {c.name for c in expression.find_all(exp.Column)}


def other_uniques(conn: sqlite3.Connection, table: str) -> list[Unique]:
    """The UNIQUE indexes of ``table`` on which a conflict can remove a row of another key.

    The primary key's index is left out when it compares its columns BINARY: a conflict on
    it is then the same key (history keys compare BINARY). An index whose definition does
    not parse is left out too: its conflicts go unrecorded rather than misread.
    """
    found = []
    t = _quoted(table)
    for _seq, name, unique, origin, partial in conn.execute(f"PRAGMA main.index_list({t})"):
        if not unique:
            continue
        info = [r for r in conn.execute(f"PRAGMA main.index_xinfo({_quoted(name)})") if r[5]]
        colls = [r[4] for r in info]
        if origin == "pk" and all(c.upper() == "BINARY" for c in colls):
            continue
        definition = None
        if partial or any(r[1] == -2 for r in info):
            definition = _definition(conn, name)
            if definition is None:
                continue
        terms: list[tuple[exp.Expr, str]] = []
        columns: set[str] = set()
        for i, (_seqno, cid, cname, _desc, coll, _key) in enumerate(info):
            if cid >= 0:
                term: exp.Expr = exp.column(cname, quoted=True)
            else:
                assert definition is not None
                term = definition[0][i]
                if isinstance(term, exp.Collate):
                    term = term.this
            columns |= _columns_in(term)
            terms.append((term, coll))
        where = definition[1] if definition is not None else None
        if where is not None:
            columns |= _columns_in(where)
        found.append(Unique(tuple(terms), where, frozenset(columns)))
    return found


def _definition(
    conn: sqlite3.Connection, index: str
) -> tuple[list[exp.Expr], exp.Expr | None] | None:
    """The parsed terms and WHERE of a CREATE INDEX, or None if they do not parse."""
    row = conn.execute(
        "SELECT sql FROM main.sqlite_schema WHERE type = 'index' AND name = ?", (index,)
    ).fetchone()
    if row is None or row[0] is None:
        return None
    try:
        [tree] = parse(row[0])
    except (SqlglotError, ValueError):
        return None
    node = tree.this if isinstance(tree, exp.Create) else None
    params = node.args.get("params") if isinstance(node, exp.Index) else None
    if not isinstance(params, exp.IndexParameters):
        return None
    where = params.args.get("where")
    terms = [t.this if isinstance(t, exp.Ordered) else t for t in params.args.get("columns") or []]
    return terms, (where.this if where is not None else None)
