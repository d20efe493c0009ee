"""SQL listing the changes to a versioned PostgreSQL table over a period: ``chrono_changes``.

The columns are SQLite's (``sql/snapshots.changes``): operation ('INSERT', 'UPDATE',
'DELETE'), tx_id, tx_time (seconds), user, the key columns, and ``before`` / ``after``, the
row's values as JSON text (NULL where the row did not exist), written as SQLite writes them:
no spaces, a bytea as ``{"$hex": "..."}``, an infinite float as ``±9e999`` and NaN as null
(SQLite stores NaN as NULL).

A transaction that changed a key in several statements left a version per statement; its
change is its last one, against the key's last version of an earlier transaction (one seek
on the key index). The range's transactions are found by time, their versions in history
order between the first's ``seq_lo`` and the last's ``seq_hi`` (the BRIN index).

Both statements are built as sqlglot expressions and rendered with its PostgreSQL dialect
once per table shape (and per set of points): the change feed asks for the same text at
every wake-up, and gets it from the cache.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence

from sqlglot import exp

from chronodb.layout import AT, LEAF, WHO
from chronodb.postgres.names import OP, SEQ, TX, TX_TABLE, XID
from chronodb.postgres.tables import Versioned
from chronodb.sql.build import (
    POSTGRES,
    col,
    concat,
    desc,
    local,
    operand,
    render,
    same,
    star,
    string,
    table,
)


def _layout(alias: str | None, column: str) -> exp.Column:
    """Column ``column`` of the layout (unquoted) of ``alias``."""
    return col(alias, column, quoted=False)


_TYPES = {
    kind: exp.DataType.build(kind, dialect=POSTGRES, udt=True)
    for kind in ("regtype", "text", "bytea", "float8")
}
"""The types this module casts to, parsed once."""


def _cast(value: exp.Expr, kind: str) -> exp.Cast:
    return exp.cast(value, _TYPES[kind].copy(), copy=False)


def _regtype(name: str) -> exp.Cast:
    """The type ``name``, as a regtype to compare ``pg_typeof`` with."""
    return _cast(string(name), "regtype")


def _value(c: exp.Column) -> exp.Expr:
    """A column's value as JSON text, whatever its type (each branch compiles for any)."""
    text = _cast(c.copy(), "text")
    hexed = exp.func("upper", exp.func("encode", _cast(text.copy(), "bytea"), string("hex")))
    typed = exp.func("pg_typeof", c.copy())
    special = exp.In(
        this=text.copy(), expressions=[string(s) for s in ("Infinity", "-Infinity", "NaN")]
    )
    infinite = exp.Case(
        this=text.copy(),
        ifs=[
            exp.If(this=string("Infinity"), true=string("9e999")),
            exp.If(this=string("-Infinity"), true=string("-9e999")),
        ],
        default=string("null"),
    )
    floating = exp.In(
        this=typed.copy(), expressions=[_regtype("double precision"), _regtype("real")]
    )
    return exp.Case(
        ifs=[
            exp.If(this=exp.Is(this=c.copy(), expression=exp.null()), true=string("null")),
            exp.If(
                this=exp.EQ(this=typed, expression=_regtype("bytea")),
                true=concat([string('{"$hex":"'), hexed, string('"}')]),
            ),
            exp.If(this=exp.and_(floating, special, copy=False), true=infinite),
        ],
        default=_cast(exp.func("to_json", c.copy()), "text"),
    )


def _object(columns: Sequence[tuple[str, str]], alias: str) -> exp.Expr:
    """History row ``alias`` as a JSON object of ``columns`` (name, history column), without
    spaces (as SQLite writes it)."""
    if not columns:
        return string("{}")
    parts: list[exp.Expr] = [string("{")]
    for i, (c, h) in enumerate(columns):
        if i:
            parts.append(string(","))
        parts += [string(_json_string(c)), string(":"), _value(col(alias, h))]
    parts.append(string("}"))
    return exp.paren(concat(parts), copy=False)


def _json_string(text: str) -> str:
    """``text`` as a JSON string (the column names are known when the SQL is built)."""
    return json.dumps(text, ensure_ascii=False, separators=(",", ":"))


def _history_join(v: Versioned, alias: str, tx: exp.Table, tx_alias: str) -> exp.Select:
    """``SELECT FROM history AS alias JOIN tx ON tx_alias.xid = alias._chrono_xid``."""
    on = exp.EQ(this=_layout(tx_alias, "xid"), expression=_layout(alias, XID))
    return (
        exp.select(copy=False)
        .from_(table(v.schema, v.hist, alias), copy=False)
        .join(tx, on=on, copy=False)
    )


def _previous(v: Versioned, writer: exp.Expr, *extra: exp.Expr) -> exp.Join:
    """``LEFT JOIN LATERAL (…) AS p ON true``: the version of change ``c``'s key before it,
    the newest below it in history (``q``) whose writer (``y``) meets ``writer``, with its
    columns and the ``extra`` ones."""
    tx = table(v.schema, TX_TABLE, "y")
    seq = _layout("q", SEQ)
    query = (
        _history_join(v, "q", tx, "y")
        .select(star("q"), *extra, copy=False)
        .where(
            *same([(col("q", k), col("c", k)) for k in v.history_keys]),
            exp.LT(this=seq, expression=_layout("c", SEQ)),
            writer,
            copy=False,
        )
        .order_by(desc(seq.copy()), copy=False)
        .limit(1, copy=False)
    )
    lateral = exp.Lateral(
        this=query.subquery(copy=False), alias=exp.TableAlias(this=exp.to_identifier("p"))
    )
    return exp.Join(this=lateral, side="LEFT", on=exp.true())


def _alive(alias: str) -> exp.Expr:
    """``(alias._chrono_op IS NOT NULL AND alias._chrono_op <> 'D')``: a live version."""
    op = _layout(alias, OP)
    return exp.paren(
        exp.and_(
            exp.Is(this=op, expression=exp.null(), negate=True),
            exp.NEQ(this=op.copy(), expression=string("D")),
            copy=False,
        ),
        copy=False,
    )


def _deleted(alias: str) -> exp.Expr:
    return exp.EQ(this=_layout(alias, OP), expression=string("D"))


@functools.lru_cache(maxsize=256)
def changes(v: Versioned, lo: str, hi: str, horizon: str) -> str:
    """The changes to ``v`` by the transactions with times in ``(lo, hi]`` (µs; SQL
    expressions) and ids up to ``horizon``, in commit order, as a table subquery."""
    stored = v.history_keys  # history's name of each key column: a renamed one keeps its old
    columns = list(zip(v.columns, v.history_columns, strict=True))

    def span(alias: str) -> list[exp.Expr]:
        """``alias`` (a ``_chrono_tx`` row) is a transaction of the range."""
        at = _layout(alias, "tx_time")
        return [
            exp.GT(this=at, expression=operand(lo, POSTGRES)),
            exp.LTE(this=at.copy(), expression=operand(hi, POSTGRES)),
            exp.LTE(this=_layout(alias, "tx_id"), expression=operand(horizon, POSTGRES)),
        ]

    def edge(fn: str, column: str) -> exp.Expr:
        """``fn`` (min or max) of ``column`` over the range's transactions."""
        return (
            exp.select(exp.func(fn, _layout("r", column)), copy=False)
            .from_(table(v.schema, TX_TABLE, "r"), copy=False)
            .where(*span("r"), copy=False)
            .subquery(copy=False)
        )

    seq = _layout("h", SEQ)
    keys = [col("h", k) for k in stored]
    last = (
        _history_join(v, "h", table(v.schema, TX_TABLE, "x"), "x")
        .select(
            star("h"),
            exp.alias_(_layout("x", "tx_id"), TX, copy=False),
            exp.alias_(_layout("x", "tx_time"), AT, copy=False),
            exp.alias_(col("x", "user"), WHO, copy=False),
            copy=False,
        )
        .distinct(*keys, _layout("x", "tx_id"), copy=False)
        .where(
            exp.GTE(this=seq, expression=edge("min", "seq_lo")),
            exp.LTE(this=seq.copy(), expression=edge("max", "seq_hi")),
            *span("x"),
            copy=False,
        )
        .order_by(*[k.copy() for k in keys], _layout("x", "tx_id"), desc(seq.copy()), copy=False)
    )
    operation = exp.Case(
        ifs=[
            exp.If(this=_deleted("c"), true=string("DELETE")),
            exp.If(this=_alive("p"), true=string("UPDATE")),
        ],
        default=string("INSERT"),
    )
    seconds = exp.Div(this=_layout("c", AT), expression=_cast(exp.Literal.number("1e6"), "float8"))
    before = exp.Case(ifs=[exp.If(this=_alive("p"), true=_object(columns, "p"))])
    after = exp.Case(
        ifs=[
            exp.If(
                this=exp.NEQ(this=_layout("c", OP), expression=string("D")),
                true=_object(columns, "c"),
            )
        ]
    )
    newer = exp.LT(this=_layout("y", "tx_id"), expression=_layout("c", TX))
    rows = (
        exp.select(
            exp.alias_(operation, "operation", copy=False),
            exp.alias_(_layout("c", TX), "tx_id", copy=False),
            exp.alias_(seconds, "tx_time", copy=False),
            exp.alias_(_layout("c", WHO), exp.to_identifier("user", quoted=True), copy=False),
            *[
                exp.alias_(col("c", h), exp.to_identifier(k, quoted=True), copy=False)
                for k, h in zip(v.keys, stored, strict=True)
            ],
            exp.alias_(before, "before", copy=False),
            exp.alias_(after, "after", copy=False),
            copy=False,
        )
        .from_(last.subquery("c", copy=False), copy=False)
        .join(_previous(v, newer), copy=False)
        .where(
            exp.not_(
                exp.paren(
                    exp.and_(_deleted("c"), exp.not_(_alive("p"), copy=False), copy=False),
                    copy=False,
                ),
                copy=False,
            ),
            copy=False,
        )
        .order_by(_layout("c", TX), _layout("c", SEQ), *[col("c", k) for k in stored], copy=False)
    )
    return render(rows.subquery(copy=False), POSTGRES)


@functools.lru_cache(maxsize=256)
def by_transactions(v: Versioned, stored: tuple[str, ...]) -> str:
    """The changes to ``v`` by the transactions with ids in ``(%(lo)s, %(hi)s]``, in commit
    order, as rows: the history columns ``stored`` of the change's version (a transaction's
    last per key), its op, tx_id, tx_time (µs), user and leaf, then the same ``stored``
    columns of the key's previous version (the newest by another transaction: writers of a
    key are serialised by its row lock), its op and its tx_id (NULLs if there is none).

    The change feed reads it for the transactions after a subscriber's position, and the
    facade's ``changes`` for those of a period; each names the columns as it needs.
    ``stored`` is hashable (a tuple): the text is built once per table shape."""
    recorded = ("tx_id", "xid", "tx_time", "user", "seq_lo", "seq_hi", "leaf")
    tx_id = _layout(None, "tx_id")
    span = (
        exp.select(*[col(None, c, quoted=c == "user") for c in recorded], copy=False)
        .from_(table(v.schema, TX_TABLE), copy=False)
        .where(
            exp.GT(this=tx_id, expression=exp.Placeholder(this=exp.to_identifier("lo"))),
            exp.LTE(this=tx_id.copy(), expression=exp.Placeholder(this=exp.to_identifier("hi"))),
            copy=False,
        )
    )

    def edge(fn: str, column: str) -> exp.Expr:
        """``fn`` (min or max) of ``column`` over the transactions ``x``."""
        query = exp.select(exp.func(fn, _layout(None, column)), copy=False).from_(local("x"))
        return query.subquery(copy=False)

    seq = _layout("h", SEQ)
    keys = [col("h", k) for k in v.history_keys]
    last = (
        _history_join(v, "h", local("x"), "x")
        .select(
            star("h"),
            exp.alias_(_layout("x", "tx_id"), TX, copy=False),
            exp.alias_(_layout("x", "tx_time"), AT, copy=False),
            exp.alias_(col("x", "user"), WHO, copy=False),
            exp.alias_(_layout("x", "leaf"), LEAF, copy=False),
            copy=False,
        )
        .distinct(_layout("x", "tx_id"), *keys, copy=False)
        .where(
            exp.GTE(this=seq, expression=edge("min", "seq_lo")),
            exp.LTE(this=seq.copy(), expression=edge("max", "seq_hi")),
            copy=False,
        )
        .order_by(_layout("x", "tx_id"), *[k.copy() for k in keys], desc(seq.copy()), copy=False)
    )
    # Another writer's version: writers of a key are serialised by its row lock.
    other = exp.NEQ(this=_layout("q", XID), expression=_layout("c", XID))
    previous = _previous(v, other, exp.alias_(_layout("y", "tx_id"), TX, copy=False))
    rows = (
        exp.select(
            *[col("c", c) for c in stored],
            *[_layout("c", c) for c in (OP, TX, AT, WHO, LEAF)],
            *[col("p", c) for c in stored],
            *[_layout("p", c) for c in (OP, TX)],
            copy=False,
        )
        .from_(last.subquery("c", copy=False), copy=False)
        .join(previous, copy=False)
        .order_by(_layout("c", TX), _layout("c", SEQ), copy=False)
        .with_("x", as_=span, materialized=True, copy=False)
    )
    return render(rows, POSTGRES)
