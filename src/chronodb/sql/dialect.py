"""ChronoSQL: SQLite's dialect plus the temporal clauses of seed 004 and SQL:2011.

Parsed into sqlglot's own ``exp.Version`` node on the table (as T-SQL and BigQuery do):

    FROM t AS OF TIMESTAMP x          -> Version(this=TIMESTAMP, kind="AS OF")
    FROM t AS OF TRANSACTION n        -> Version(this=TRANSACTION, kind="AS OF")
    FROM t FOR SYSTEM_TIME ...        -> sqlglot's own parsing (AS OF, BETWEEN, FROM..TO, ALL)
    FROM a JOIN b ON ... AS OF ...    -> Version stored on the SELECT as ``chrono_as_of``

Positional ``?`` placeholders are numbered in text order and written back as ``?N``, so a
rewrite may repeat one (a query-wide AS OF applies the same point to every table).

The parser notes where each node was written (``sql/spans.py``), so that ``to_sql(...,
verbatim=True)`` writes what a rewrite left alone as the user wrote it.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from typing import Any, ClassVar

from sqlglot import exp
from sqlglot.dialects.postgres import Postgres
from sqlglot.dialects.sqlite import SQLite
from sqlglot.errors import ParseError
from sqlglot.tokens import TokenType

from chronodb.sql import spans

QUERY_AS_OF = "chrono_as_of"
SEED_SYNTAX = "chrono_seed"  # meta key: a clause written AS OF TIMESTAMP/TRANSACTION
SOURCE_TEXT = "chrono_text"  # meta key: a select-list item's text as written


# Parse calls whose result is exactly the tokens they read, from the node's first token: the
# innermost of them that returns a node gives its span. (Not, e.g., _parse_cast, which starts
# after "CAST(", nor _parse_wrapped, which reads the parentheses around what it returns.)
_SPANNED = (
    "_parse_statement",
    "_parse_select",
    "_parse_with",
    "_parse_cte",
    "_parse_from",
    "_parse_table",
    "_parse_where",
    "_parse_group",
    "_parse_having",
    "_parse_order",
    "_parse_ordered",
    "_parse_set_operations",
    "_parse_expression",
    "_parse_assignment",
    "_parse_disjunction",
    "_parse_conjunction",
    "_parse_equality",
    "_parse_comparison",
    "_parse_range",
    "_parse_bitwise",
    "_parse_term",
    "_parse_factor",
    "_parse_exponent",
    "_parse_unary",
    "_parse_type",
    "_parse_types",
    "_parse_column",
    "_parse_primary",
    "_parse_function",
    "_parse_lambda",
    "_parse_window",
    "_parse_projection",
    "_parse_placeholder",
    "_parse_as_of",
    "_parse_version",
)


_CLAUSES = (exp.From, exp.Join, exp.Where, exp.Group, exp.Having, exp.Order, exp.Limit, exp.Offset)


def _spanning(method: Callable[..., Any]) -> Callable[..., Any]:
    """``method`` noting, on the node it returns, the text it read (see ``spans.record``)."""

    def parse_noting_span(self: Any, *args: Any, **kwargs: Any) -> Any:
        start = self._index
        node = method(self, *args, **kwargs)
        end = self._index
        if end > start and isinstance(node, exp.Expr) and spans.FRAME not in node.meta:
            tokens = self._tokens
            first = tokens[start].start
            # a call handed a node to wrap (x, then IS NULL) read only the text after it
            for given in (*args, *kwargs.values()):
                if isinstance(given, exp.Expr):
                    if given is node:
                        return node
                    frame = spans.frame_of(given)
                    if frame is None:
                        return node  # where the wrapped text starts is not known
                    first = min(first, frame[0])
            node.meta[spans.FRAME] = (first, tokens[end - 1].end + 1)
        return node

    parse_noting_span.__name__ = method.__name__
    parse_noting_span.__doc__ = method.__doc__
    return parse_noting_span


class InputEnded(ParseError):
    """The statement stopped short: the parser wanted more after its last token."""


class UnaryPlus(exp.Unary):
    """``+x``: SQLite's unary plus, kept (sqlglot drops it) because it strips affinity."""


_WORD = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")
_SIZE_TOKENS = (TokenType.NUMBER, TokenType.COMMA, TokenType.PLUS, TokenType.DASH)
_QUOTED = (TokenType.STRING, TokenType.IDENTIFIER)
# words that end a column's type name in CREATE TABLE (a column constraint starts)
_CONSTRAINTS = frozenset(
    [
        "CONSTRAINT",
        "PRIMARY",
        "NOT",
        "NULL",
        "UNIQUE",
        "CHECK",
        "DEFAULT",
        "COLLATE",
        "REFERENCES",
        "GENERATED",
        "AS",
    ]
)


class _TemporalParser:
    """The temporal clauses, placeholder numbering and spans: the same on every backend."""

    _index: int
    _tokens: Any
    _curr: Any
    _next: Any
    _prev: Any
    sql: str

    def raise_error(self, message: str, token: Any = None) -> None:
        if self._index >= len(self._tokens):
            self.ran_out = True
        if token is None:
            super().raise_error(message)  # type: ignore[misc]
        else:
            super().raise_error(message, token)  # type: ignore[misc]

    def reset(self) -> None:
        super().reset()  # type: ignore[misc]
        self._chrono_positional: dict[int, int] = {}  # a placeholder's offset: its number
        self.ran_out = False  # whether an error came after the last token
        self._chrono_calls: list[int] = []  # where each function call being read starts

    def _parse_as_of(self) -> exp.Version | None:
        """``AS OF TIMESTAMP x`` / ``AS OF TRANSACTION n`` (seed 004's placement)."""
        index = self._index
        if not self._match_text_seq("AS", "OF"):  # type: ignore[attr-defined]
            return None
        if self._match_text_seq("TIMESTAMP"):  # type: ignore[attr-defined]
            this = "TIMESTAMP"
        elif self._match_text_seq("TRANSACTION"):  # type: ignore[attr-defined]
            this = "TRANSACTION"
        else:
            self._retreat(index)  # type: ignore[attr-defined]
            return None
        point = self._parse_bitwise()  # type: ignore[attr-defined]
        if point is None:
            self.raise_error(f"Expected a point in time after AS OF {this}")
        version = self.expression(  # type: ignore[attr-defined]
            exp.Version(this=this, kind="AS OF", expression=point)
        )
        version.meta[SEED_SYNTAX] = True
        return version

    def _parse_query_modifiers(self, this: Any) -> Any:
        this = super()._parse_query_modifiers(this)  # type: ignore[misc]
        if isinstance(this, exp.Select) and not this.args.get(QUERY_AS_OF):
            _widen_trailing_as_of(this)
        return this

    def _parse_version(self) -> exp.Version | None:
        as_of = self._parse_as_of()
        if as_of is not None:
            return as_of
        return super()._parse_version()  # type: ignore[misc]

    def _parse_table_alias(self, alias_tokens: Any = None) -> exp.TableAlias | None:
        # "(SELECT ...) AS OF TIMESTAMP x": AS starts the temporal clause, not an alias.
        if (
            self._curr
            and self._next
            and self._curr.text.upper() == "AS"
            and self._next.text.upper() == "OF"
        ):
            return None
        return super()._parse_table_alias(alias_tokens)  # type: ignore[misc]

    def _parse_table(self, *args: Any, **kwargs: Any) -> exp.Expr | None:
        table = super()._parse_table(*args, **kwargs)  # type: ignore[misc]
        # Accept the temporal clause after the alias too: FROM t u AS OF TIMESTAMP x
        if isinstance(table, exp.Table) and not table.args.get("version"):
            version = self._parse_version()
            if version is not None:
                table.set("version", version)
        return table

    def _parse_function_call(self, *args: Any, **kwargs: Any) -> exp.Expr | None:
        self._chrono_calls.append(self._index)
        try:
            return super()._parse_function_call(*args, **kwargs)  # type: ignore[misc]
        finally:
            self._chrono_calls.pop()

    def _parse_window(self, this: exp.Expr | None, alias: bool = False) -> exp.Expr | None:
        # A function read by the innermost call in progress: it ends here (OVER follows).
        if isinstance(this, exp.Func) and self._chrono_calls and spans.FRAME not in this.meta:
            tokens = self._tokens
            start = tokens[self._chrono_calls[-1]].start
            this.meta[spans.FRAME] = (start, self._prev.end + 1)
        return super()._parse_window(this, alias)  # type: ignore[misc]

    def _parse_projections(self) -> tuple[list[exp.Expr], list[exp.Expr] | None]:
        return self._parse_csv(self._parse_projection), None  # type: ignore[attr-defined]

    def _parse_projection(self) -> exp.Expr | None:
        """One select-list item, remembering its text: SQLite names result columns by it."""
        start = self._curr
        node = self._parse_expression()  # type: ignore[attr-defined]
        if node is not None and start is not None and self._prev is not None and self.sql:
            node.meta[SOURCE_TEXT] = self.sql[start.start : self._prev.end + 1].strip()
        return node

    def _parse_placeholder(self) -> exp.Expr | None:
        node = super()._parse_placeholder()  # type: ignore[misc]
        if isinstance(node, exp.Placeholder) and not node.this:
            # by the token: one read again after the parser backs up keeps its number
            numbers = self._chrono_positional
            node.meta["index"] = numbers.setdefault(self._prev.start, len(numbers) + 1)
        return node


def _temporal_modifiers(base: dict[Any, Any]) -> dict[Any, Any]:
    """A parser's query modifiers plus the query-wide temporal clause after the joins."""
    return {
        **base,
        TokenType.ALIAS: lambda self: (QUERY_AS_OF, self._parse_as_of()),
        TokenType.FOR: lambda self: (QUERY_AS_OF, self._parse_version()),
    }


def _note_spans(parser: type) -> None:
    for name in _SPANNED:
        setattr(parser, name, _spanning(getattr(parser, name)))


class _TemporalGenerator:
    """Writes the temporal clauses back, and (``verbatim``) untouched parts as written."""

    verbatim: spans.Verbatim | None = None
    POSITIONAL = "?{}"  # how a numbered positional placeholder is written

    def sql(self, expression: Any, key: str | None = None, comment: bool = True) -> str:
        if key is None and self.verbatim is not None and isinstance(expression, exp.Expr):
            text = self.verbatim.text(expression)
            if text is not None:
                # sqlglot writes a clause with the space before it
                return self.sep() + text if isinstance(expression, _CLAUSES) else text  # type: ignore[attr-defined]
        return super().sql(expression, key, comment)  # type: ignore[misc]

    def placeholder_sql(self, expression: exp.Placeholder) -> str:
        index = expression.meta.get("index") if expression._meta else None
        if index is not None:
            return self.POSITIONAL.format(index)
        return super().placeholder_sql(expression)  # type: ignore[misc]

    def query_modifiers(self, expression: exp.Expr, *sqls: str) -> str:
        # A query-wide clause (FROM a JOIN b ON ... AS OF ...) goes after the joins, where
        # it was written; before them it would read as the first table's own clause.
        as_of = expression.args.get(QUERY_AS_OF)
        if not isinstance(as_of, exp.Version):
            return super().query_modifiers(expression, *sqls)  # type: ignore[misc]
        joins = [self.sql(join) for join in expression.args.get("joins") or []]
        rest = expression.copy()
        rest.set("joins", None)
        clause = self.sql(as_of)
        if as_of.text("kind") == "AS OF" and as_of.name == "TIMESTAMP":
            # the seed's syntax: FOR SYSTEM_TIME after a join without ON is the table's own
            clause = f"AS OF TIMESTAMP {self.sql(as_of, 'expression')}"
        return super().query_modifiers(rest, *sqls, *joins, self.seg(clause))  # type: ignore[misc,attr-defined]

    def version_sql(self, expression: exp.Version) -> str:
        kind = expression.text("kind")
        point = self.sql(expression, "expression")
        if expression.name == "TRANSACTION":
            return f"AS OF TRANSACTION {point}"
        if kind == "ALL":
            return "FOR SYSTEM_TIME ALL"
        if kind in ("BETWEEN", "FROM") and isinstance(expression.expression, exp.Tuple):
            lo, hi = (self.sql(e) for e in expression.expression.expressions)
            sep = "AND" if kind == "BETWEEN" else "TO"
            return f"FOR SYSTEM_TIME {kind} {lo} {sep} {hi}"
        return f"FOR SYSTEM_TIME {kind} {point}"


class ChronoSQL(SQLite):
    """SQLite's dialect with the temporal clauses, as SQLite reads and writes SQL."""

    class Parser(_TemporalParser, SQLite.Parser):  # type: ignore[misc,valid-type]
        UNARY_PARSERS: ClassVar = {
            **SQLite.Parser.UNARY_PARSERS,
            TokenType.PLUS: lambda self: self.expression(UnaryPlus(this=self._parse_unary())),
        }

        QUERY_MODIFIER_PARSERS: ClassVar = _temporal_modifiers(SQLite.Parser.QUERY_MODIFIER_PARSERS)

        PLACEHOLDER_PARSERS: ClassVar = {
            **SQLite.Parser.PLACEHOLDER_PARSERS,
            TokenType.COLON: lambda self: self._parse_named_placeholder(),
        }

        def _parse_named_placeholder(self) -> exp.Placeholder | None:
            """``:name``: SQLite takes any word as the name, keywords too (``:from``, ``:when``)."""
            token = self._curr
            if token is None or token.start != self._prev.end + 1:
                return None
            if not token.text.replace("_", "").isalnum():
                return None
            self._advance()
            return self.expression(exp.Placeholder(this=token.text))

        def _parse_types(self, *args: Any, **kwargs: Any) -> exp.Expr | None:
            """Also SQLite's type names of several words (``UNSIGNED BIG INT``, ``VARYING
            CHARACTER(255)``), kept as written: a user-defined type to sqlglot."""
            end = self._sqlite_type_name_end()
            if end is None:
                return super()._parse_types(*args, **kwargs)
            first = self._curr
            while self._index < end:
                self._advance()
            text = self.sql[first.start : self._prev.end + 1]
            return self.expression(exp.DataType(this=exp.DType.USERDEFINED, kind=text))

        def _sqlite_type_name_end(self) -> int | None:
            """Where a type name of two or more words (and a size) starting here ends, if what
            follows can follow one (``)``, ``,``, a column constraint or the end); else None."""
            tokens, at, words = self._tokens, self._index, 0
            while at < len(tokens) and tokens[at].token_type not in _QUOTED:
                text = tokens[at].text
                if not _WORD.fullmatch(text) or text.upper() in _CONSTRAINTS:
                    break
                at, words = at + 1, words + 1
            if words < 2:
                return None
            if at < len(tokens) and tokens[at].token_type == TokenType.L_PAREN:
                at += 1
                while at < len(tokens) and tokens[at].token_type in _SIZE_TOKENS:
                    at += 1
                if at >= len(tokens) or tokens[at].token_type != TokenType.R_PAREN:
                    return None
                at += 1
            if at == len(tokens) or (  # ALTER TABLE t ADD c BIG INT
                tokens[at].token_type in (TokenType.R_PAREN, TokenType.COMMA)
                or tokens[at].text.split()[0].upper() in _CONSTRAINTS  # one token: PRIMARY KEY
            ):
                return at
            return None

    _note_spans(Parser)

    class Generator(_TemporalGenerator, SQLite.Generator):  # type: ignore[misc,valid-type]
        TRANSFORMS: ClassVar = {
            **SQLite.Generator.TRANSFORMS,
            UnaryPlus: lambda self, e: f"+{self.sql(e, 'this')}",
        }


class ChronoPostgres(Postgres):
    """PostgreSQL's dialect with the temporal clauses.

    Statements reach it with psycopg's placeholders (``sql/paramstyle.py``): positional
    ``%s`` are numbered in text order and written back as ``%(_N)s``, so that a rewrite may
    repeat one, and the call binds a mapping of ``_N`` to values.
    """

    class Parser(_TemporalParser, Postgres.Parser):  # type: ignore[misc,valid-type]
        QUERY_MODIFIER_PARSERS: ClassVar = _temporal_modifiers(
            Postgres.Parser.QUERY_MODIFIER_PARSERS
        )

    _note_spans(Parser)

    class Generator(_TemporalGenerator, Postgres.Generator):  # type: ignore[misc,valid-type]
        POSITIONAL = "%(_{})s"


def _widen_trailing_as_of(select: exp.Select) -> None:
    """``FROM a, b AS OF TIMESTAMP x WHERE``: the seed's clause ending FROM is the query's.

    After a join with ON or USING it already is; after a comma or a CROSS JOIN it was parsed as
    the last table's own clause, which would mix times. SQL:2011's FOR SYSTEM_TIME stays put.
    """
    joins = select.args.get("joins") or []
    if not joins or joins[-1].args.get("on") or joins[-1].args.get("using"):
        return
    table = joins[-1].this
    version = table.args.get("version") if isinstance(table, exp.Table) else None
    if version is not None and version.meta.get(SEED_SYNTAX):
        table.set("version", None)
        select.set(QUERY_AS_OF, version)


class _OwnParses(logging.Filter):
    """Keeps sqlglot's warnings about statements ChronoDB is parsing out of the user's log.

    sqlglot logs a warning when it falls back to parsing a statement as an opaque command.
    ChronoDB then hands that statement to SQLite, which runs it or says what is wrong with
    it, so the warning would only be noise on the user's stderr. Other code's use of sqlglot
    (on other threads too) is not affected.
    """

    def __init__(self) -> None:
        super().__init__()
        self.parsing = threading.local()

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(self.parsing, "on", False)


_OWN_PARSES = _OwnParses()
logging.getLogger("sqlglot").addFilter(_OWN_PARSES)


DIALECTS: dict[str, type[SQLite] | type[Postgres]] = {
    "sqlite": ChronoSQL,
    "postgresql": ChronoPostgres,
}


def parse(sql: str, backend: str = "sqlite") -> list[exp.Expr]:
    """Parse one or more ChronoSQL statements in ``backend``'s SQL; raises sqlglot's
    ParseError (InputEnded where the text stops short)."""
    dialect = DIALECTS[backend]()
    parser = dialect.parser()
    _OWN_PARSES.parsing.on = True
    try:
        parsed = parser.parse(dialect.tokenize(sql), sql)
    except ParseError as err:
        ran_out = getattr(parser, "ran_out", False)
        if ran_out and not str(err).startswith("Expected a point in time"):
            raise InputEnded(str(err), errors=err.errors) from None
        raise
    finally:
        _OWN_PARSES.parsing.on = False
    # a semicolon followed only by comments is no statement
    trees = [e for e in parsed if e is not None and type(e) is not exp.Semicolon]
    for tree in trees:
        spans.record(tree, sql)
    return trees


def to_sql(
    expression: exp.Expr,
    *,
    verbatim: bool = False,
    comments: bool = True,
    copy: bool = True,
    backend: str = "sqlite",
) -> str:
    """Write an expression as ``backend``'s SQL.

    ``verbatim``: write each part a rewrite left as parsed as its source text (see
    ``sql/spans.py``), not in sqlglot's spelling, which can change what SQLite answers.
    ``copy=False``: the generator may change ``expression`` (for a tree made to be written).
    """
    generator = DIALECTS[backend]().generator(comments=comments)
    if verbatim:
        generator.verbatim = spans.Verbatim(generator.sql)  # type: ignore[attr-defined]
    return generator.generate(expression, copy=copy)
