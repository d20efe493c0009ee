"""Where each parsed node was written, so that SQL a rewrite did not touch is written as given.

sqlglot writes a tree back in its own spelling, and for SQLite that spelling is not always
the same statement: ``CAST(v AS NUMERIC)`` comes back as ``CAST(v AS REAL)``,
``mod(a, b)`` as ``a % b``. So the parser notes the text each node was parsed from (its
span) and the shape of its arguments; when the SQL is written, a node whose subtree is as
it was parsed is written as its text, and a node whose own arguments are unchanged but
that has rewritten descendants is its text with only those descendants' spans replaced::

    SELECT CAST(v AS NUMERIC) FROM t AS OF TIMESTAMP ?
    -> SELECT CAST(v AS NUMERIC) AS "CAST(v AS NUMERIC)" FROM (<history of t>) AS "t"

Everything else is written by sqlglot, its children again by these rules.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

from sqlglot import exp

PARSED = "chrono_parsed"  # meta: the node's Parsed record
FRAME = "chrono_frame"  # meta while parsing: (start, end) of the text the node was read from
# Nodes that are one token, whose position sqlglot notes (on a function, it notes the name's)
_TOKENS = (exp.Identifier, exp.Literal, exp.Star, exp.Null, exp.Boolean, exp.Var)


class Parsed:
    """How a node was parsed: its span ``(source text, start, end)`` or None, and its
    arguments, each child as its own record. Immutable once recorded, so copies of the node
    share it (and a child is the one parsed in its place if it has that one's record)."""

    __slots__ = ("shape", "span")

    def __init__(self, span: tuple[str, int, int] | None) -> None:
        self.span = span
        self.shape: tuple = ()

    def __deepcopy__(self, memo: dict) -> Parsed:
        return self


def _parsed(node: exp.Expr) -> Parsed | None:
    meta = node._meta
    return meta.get(PARSED) if meta else None


def _shape(node: exp.Expr) -> tuple:
    """``node``'s arguments, each child as its parse record (None for a node made since)."""
    shape = []
    for key, value in node.args.items():
        if isinstance(value, exp.Expr):
            value = _parsed(value)
        elif isinstance(value, list):
            value = tuple(_parsed(v) if isinstance(v, exp.Expr) else v for v in value)
        shape.append((key, value))
    return tuple(shape)


def _pairs(node: exp.Expr, parsed: Parsed) -> list[tuple[Parsed, exp.Expr]] | None:
    """Each child of ``node`` with the record of the child parsed in its place, if its
    arguments are otherwise as parsed; else None."""
    shape = parsed.shape
    if len(shape) != len(node.args):
        return None
    pairs = []
    for (key, value), (was_key, was) in zip(node.args.items(), shape, strict=True):
        if key != was_key:
            return None
        if isinstance(value, list):
            if not isinstance(was, tuple) or len(was) != len(value):
                return None
            items = list(zip(was, value, strict=True))
        else:
            items = [(was, value)]
        for old, new in items:
            if isinstance(new, exp.Expr):
                if not isinstance(old, Parsed):
                    return None
                pairs.append((old, new))
            elif isinstance(old, Parsed) or old != new:
                return None
    return pairs


def frame_of(node: exp.Expr) -> tuple[int, int] | None:
    """While parsing: where the text ``node`` was read from starts and ends, if known."""
    meta = node._meta
    if not meta:
        return None
    frame = meta.get(FRAME)
    if frame is None and "end" in meta and isinstance(node, _TOKENS):
        frame = (meta["start"], meta["end"] + 1)  # its token's place, noted by sqlglot
    return frame


def text_of(node: exp.Expr) -> str | None:
    """The text ``node`` was parsed from, if known."""
    parsed = _parsed(node)
    if parsed is None or parsed.span is None:
        return None
    source, start, end = parsed.span
    return source[start:end]


def record(tree: exp.Expr, sql: str) -> None:
    """Give each node of a freshly parsed ``tree`` its :class:`Parsed` record.

    A node's span is what the innermost parse call returning it read (see the dialect's
    parser), widened to its children's. A node is left without one when that does not cover
    all its descendants' spans, and so are nodes whose spans overlap (sqlglot moved a clause
    from one node to another): those nodes are written by sqlglot.
    """
    nodes = list(tree.walk(bfs=False))
    found: dict[int, tuple[int, int]] = {}  # by node id: its span
    below: dict[int, list[int]] = {}  # by node id: its nearest descendants with spans (ids)
    for node in reversed(nodes):  # children before their parents
        children = list(node.iter_expressions())
        tops = []
        for child in children:
            if id(child) in found:
                tops.append(id(child))
            else:
                tops.extend(below.get(id(child), ()))
        below[id(node)] = tops
        frame = frame_of(node)
        inner = sorted((*found[top], top) for top in tops if top in found)
        overlapping = False
        for (_, end, left), (start, _, right) in itertools.pairwise(inner):
            if start < end:
                overlapping = True
                found.pop(left, None)
                found.pop(right, None)
        if frame is None or overlapping:
            continue
        start, end = frame
        for child in children:  # a clause attached after (WITH before the SELECT read first)
            child_span = found.get(id(child))
            if child_span is not None:
                start, end = min(start, child_span[0]), max(end, child_span[1])
        if all(start <= s[0] and s[1] <= end for s in inner):
            found[id(node)] = (start, end)
    for node in nodes:
        meta = node.meta
        meta.pop(FRAME, None)
        span = found.get(id(node))
        meta[PARSED] = Parsed(None if span is None else (sql, *span))
    for node in nodes:
        node.meta[PARSED].shape = _shape(node)


# What a node put in a child's place is written as, unwrapped: anything else gets parentheses
_ATOMS: tuple[type, ...] = (
    exp.Column,
    exp.Literal,
    exp.Identifier,
    exp.Placeholder,
    exp.Subquery,
    exp.Paren,
    exp.Func,
    exp.Alias,
    exp.Star,
    exp.Null,
    exp.Boolean,
    exp.Table,
    exp.TableAlias,
)


class Verbatim:
    """Writes nodes as their source text where a rewrite left them as parsed.

    ``generate(node)`` is the generator's own writing of one node (its children written
    back through :meth:`text`).
    """

    def __init__(self, generate: Callable[[exp.Expr], str]) -> None:
        self.generate = generate
        # by id, with the node itself so that its id cannot pass to another node meanwhile
        self.intact: dict[int, tuple[exp.Expr, bool]] = {}

    def _own_intact(self, node: exp.Expr) -> bool:
        parsed = _parsed(node)
        if parsed is None:
            return False
        if isinstance(node, exp.Placeholder) and "index" in node.meta:
            return False  # a positional ? is always written numbered: ?N
        return _shape(node) == parsed.shape

    def _is_intact(self, node: exp.Expr) -> bool:
        known = self.intact.get(id(node))
        if known is not None and known[0] is node:
            return known[1]
        found = self._own_intact(node) and all(
            self._is_intact(child) for child in node.iter_expressions()
        )
        self.intact[id(node)] = (node, found)
        return found

    def text(self, node: exp.Expr) -> str | None:
        """``node`` as its source text with rewritten parts spliced in, or None."""
        parsed = _parsed(node)
        if parsed is None or parsed.span is None:
            return None
        source, start, end = parsed.span
        if self._is_intact(node):
            return source[start:end]
        edits = self._edits(node, parsed, source)
        if edits is None:
            return None
        edits.sort(key=lambda e: e[0])
        pieces = []
        at = start
        for child_start, child_end, text in edits:
            if child_start < at or child_end > end:
                return None
            pieces += [source[at:child_start], text]
            at = child_end
        pieces.append(source[at:end])
        return "".join(pieces)

    def _edits(
        self, node: exp.Expr, parsed: Parsed, source: str
    ) -> list[tuple[int, int, str]] | None:
        """Where in ``source`` the rewritten parts of ``node`` are, and their SQL; None if
        ``node``'s own arguments are not as parsed (but for which node is in a child's place).

        A rewritten child without a span of its own is looked into: its text is all in
        ``node``'s, but for its rewritten parts.
        """
        pairs = None if isinstance(node, exp.Placeholder) else _pairs(node, parsed)
        if pairs is None:
            return None
        edits: list[tuple[int, int, str]] = []
        for was, child in pairs:
            child_parsed = _parsed(child)
            if child_parsed is not was:
                # another node put in this child's place: written where the child was
                span = was.span
                if span is None or span[0] is not source:
                    return None
                text = self.generate(child).strip()
                if not isinstance(child, _ATOMS):
                    text = f"({text})"
                edits.append((span[1], span[2], text))
                continue
            if self._is_intact(child):
                continue
            span = child_parsed.span
            if span is not None and span[0] is source:
                edits.append((span[1], span[2], self.generate(child).strip()))
                continue
            inner = self._edits(child, child_parsed, source)
            if inner is None:
                return None
            edits += inner
        return edits
