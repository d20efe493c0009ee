"""Statement fingerprints: the SQL with its literals replaced, so one query shape is one entry.

>>> Fingerprinter()("SELECT * FROM t WHERE a = 5 AND b IN (1, 2, 'x')")
'SELECT * FROM t WHERE a = ? AND b IN (?)'

Parsing with sqlglot costs far more than a primary-key SELECT, so the answer is cached per
statement text (a repeated statement costs a dict lookup); a statement that differs only in
its literals (``... price > {i}`` in a loop) is first reduced by a cheap regular expression,
whose result is cached too, so sqlglot runs once per query shape.
"""

from __future__ import annotations

import re

from sqlglot import exp
from sqlglot.errors import SqlglotError

from chronodb.sql.dialect import parse, to_sql

_CACHE_LIMIT = 20_000
# Strings, then numbers not inside a name (t1, x_2) and not a ?NNN placeholder.
_LITERALS = re.compile(r"'(?:[^']|'')*'|(?<![\w?$:@])-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?\b")
_SPACES = re.compile(r"\s+")
_IN_LIST = re.compile(r"\(\s*\?(?:\s*,\s*\?)+\s*\)")
# sqlglot parses EXPLAIN only as an opaque command, and logs a warning each time.
_OPAQUE = re.compile(r"\s*EXPLAIN\b", re.I)


def skeleton(sql: str) -> str:
    """The statement with string and number literals replaced by ``?``, without parsing."""
    text = _LITERALS.sub("?", sql)
    text = _IN_LIST.sub("(?)", text)
    return _SPACES.sub(" ", text).strip().rstrip(";").strip()


def _replace_literal(node: exp.Expr) -> exp.Expr:
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal):
        return exp.Placeholder()
    if isinstance(node, exp.Literal):
        return exp.Placeholder()
    values = (exp.Literal, exp.Placeholder, exp.Neg)
    if isinstance(node, exp.In) and all(isinstance(e, values) for e in node.expressions or [None]):
        node.set("expressions", [exp.Placeholder()])
    return node


def normalize(sql: str, backend: str = "sqlite") -> str:
    """The fingerprint of one statement, parsed by sqlglot (ChronoSQL in ``backend``'s SQL,
    so AS OF parses)."""
    if _OPAQUE.match(sql):
        return skeleton(sql)
    try:
        trees = parse(sql, backend)
    except (SqlglotError, ValueError, RecursionError):
        return skeleton(sql)
    if len(trees) != 1 or trees[0] is None:
        return skeleton(sql)
    tree = trees[0].transform(_replace_literal)
    try:
        return to_sql(tree, backend=backend)
    except Exception:  # sqlglot may not generate every tree it parsed
        return skeleton(sql)


class Fingerprinter:
    """Maps statement text to its fingerprint, parsing each query shape once."""

    def __init__(self, limit: int = _CACHE_LIMIT, backend: str = "sqlite") -> None:
        self._backend = backend
        self._by_text: dict[str, str] = {}
        self._by_skeleton: dict[str, str] = {}
        self._limit = limit

    def __call__(self, sql: str) -> str:
        found = self._by_text.get(sql)
        if found is not None:
            return found
        shape = skeleton(sql)
        found = self._by_skeleton.get(shape)
        if found is None:
            found = normalize(sql, self._backend)
            if len(self._by_skeleton) >= self._limit:
                self._by_skeleton.clear()
            self._by_skeleton[shape] = found
        if len(self._by_text) >= self._limit:
            self._by_text.clear()
        self._by_text[sql] = found
        return found
