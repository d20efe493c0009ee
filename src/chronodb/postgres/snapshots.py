"""SQL reading a versioned PostgreSQL table in the past: AS OF a point, and its versions.

A history row names its writer by xid; ``_chrono_tx`` maps a committed writer to the id
and time it got at commit. AS OF transaction ``n``, a key's row is its newest version whose
writer committed with an id <= ``n``, unless that is a tombstone.

Finding it is a seek, whatever the depth of the key's history. Each transaction's record
keeps ``seq_hi``, the history sequence's value when it got its id: every version written
before then lies at or below it, and a version written after, by a writer that gets its id
later, lies above. So the versions of a key at or below the point's ``seq_hi`` that belong
to a later transaction can only be those of the one writer that held the key's row lock
when the point's transaction got its id: reading the key's versions backwards from
``seq_hi`` (index ``(key, _chrono_seq)``), the first whose writer's id is <= ``n`` is found
after at most that writer's versions of the key.

Every function builds a sqlglot expression and returns it rendered (:func:`render`) as SQL
text for a table subquery with the table's columns, text the caller splices into its
statement; a point is an SQL expression (a literal or a bound parameter) given once, as text
or an expression. A point is bounded by the
reader's horizon (``install.horizon``, taken before the reader's snapshot, or
``bounds.expression``, taken inside the statement and checked against its snapshot):
transactions can become visible out of id order while they flush, and the horizon is the
last id below which none is still missing.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlglot import exp

from chronodb.postgres.names import (
    CHANGED_KEYS,
    FROM,
    LOW,
    NEXT,
    PENDING,
    PENDING_SETTING,
    POINT,
    SEQ,
    TO,
    TX,
    TX_TABLE,
    XID,
    changed_of,
)
from chronodb.postgres.tables import Versioned
from chronodb.sql import build
from chronodb.sql.build import (
    PERIOD,
    POSTGRES,
    SQL,
    col,
    desc,
    local,
    name,
    operand,
    same,
    star,
    table,
    tree,
)


def render(query: exp.Expr) -> str:
    """``query`` as PostgreSQL text: the one place this module's expressions become text."""
    return build.render(query, POSTGRES)


def _tx_join(v: Versioned) -> tuple[exp.Table, exp.Expr]:
    """``_chrono_tx AS x`` and how it joins history ``h``: by the writer's xid."""
    on = exp.EQ(this=col("x", "xid", quoted=False), expression=col("h", XID, quoted=False))
    return table(v.schema, TX_TABLE, "x"), on


def _bounded(horizon: SQL | None, tx_id: exp.Column) -> list[exp.Expr]:
    """``tx_id <= horizon``, or nothing without a horizon."""
    return [] if horizon is None else [exp.LTE(this=tx_id, expression=operand(horizon, POSTGRES))]


def _point(v: Versioned, order: str, bound: SQL, horizon: SQL | None) -> str:
    """The newest transaction whose ``order`` column is <= ``bound`` (and whose id is <=
    the ``horizon``): its id ``n`` and seq_hi ``b``."""
    column = col(None, order, quoted=False)
    tx_id = col(None, "tx_id", quoted=False)
    return render(
        exp.select(
            exp.alias_(tx_id, "n", copy=False),
            exp.alias_(col(None, "seq_hi", quoted=False), "b", copy=False),
            copy=False,
        )
        .from_(table(v.schema, TX_TABLE), copy=False)
        .where(
            exp.LTE(this=column, expression=operand(bound, POSTGRES)),
            *_bounded(horizon, tx_id.copy()),
            copy=False,
        )
        .order_by(desc(column.copy()), copy=False)
        .limit(1, copy=False)
    )


def point_at_tx(v: Versioned, tx: SQL, horizon: SQL | None = None) -> str:
    """The point AS OF TRANSACTION ``tx``: the newest committed id <= it (and <= the
    ``horizon``, an SQL expression, if given), and its seq_hi."""
    return _point(v, "tx_id", tx, horizon)


def point_at_time(v: Versioned, micros: SQL, horizon: SQL | None = None) -> str:
    """The point AS OF a time (µs since the epoch): the last transaction at or before it
    (and at or before the ``horizon``, if given).

    Times increase with ids, so the newest by time is the newest by id.
    """
    return _point(v, "tx_time", micros, horizon)


def _visible_at_point(seq: exp.Column) -> list[exp.Expr]:
    """A version (its history number ``seq``, its writer's record ``x``) within point ``p``:
    written at or below the point's ``seq_hi`` by a transaction with an id <= its id."""
    return [
        exp.LTE(this=seq, expression=col("p", "b", quoted=False)),
        exp.LTE(this=col("x", "tx_id", quoted=False), expression=col("p", "n", quoted=False)),
    ]


def _newest(v: Versioned, match: Sequence[exp.Expr]) -> exp.Select:
    """The newest version matching ``match`` (on alias ``h``) visible at point ``p``."""
    tx, on = _tx_join(v)
    seq = col("h", SEQ, quoted=False)
    return (
        exp.select(star("h"), copy=False)
        .from_(table(v.schema, v.hist, "h"), copy=False)
        .join(tx, on=on, copy=False)
        .where(
            *match,
            *_visible_at_point(seq),
            copy=False,
        )
        .order_by(desc(seq.copy()), copy=False)
        .limit(1, copy=False)
    )


def _select(v: Versioned, alias: str) -> list[exp.Expr]:
    """The columns of ``alias``, a row of the table itself."""
    return [col(alias, c) for c in v.columns]


def _stored(v: Versioned, alias: str) -> list[exp.Expr]:
    """The columns of ``alias``, a history row, named as the table's."""
    if not v.stored:
        return _select(v, alias)
    return [
        exp.alias_(col(alias, h), name(c), copy=False)
        for c, h in zip(v.columns, v.stored, strict=True)
    ]


def _lateral(query: exp.Select, alias: str) -> exp.Join:
    """``CROSS JOIN LATERAL (query) AS alias``."""
    lateral = exp.Lateral(
        this=query.subquery(copy=False), alias=exp.TableAlias(this=exp.to_identifier(alias))
    )
    return exp.Join(this=lateral, kind="CROSS")


def _cross(table: exp.Table) -> exp.Join:
    """``CROSS JOIN table``."""
    return exp.Join(this=table, kind="CROSS")


def _query(point: SQL) -> exp.Query:
    """A point's query (from :func:`point_at_tx` or :func:`point_at_time`)."""
    found = tree(point, POSTGRES)
    if not isinstance(found, exp.Query):
        raise TypeError(f"a point is a query, not {render(found)!r}")
    return found


def as_of(v: Versioned, point: SQL, *, writer: bool = True) -> str:
    """``v``'s rows at ``point`` (from :func:`point_at_tx` or :func:`point_at_time`).

    The table's current rows, except those of keys with a version written since the point,
    whose rows are sought in history (one seek each, see the module's docstring). Those
    versions are the ones numbered from ``lo`` on: just above the point's ``seq_hi``, or the
    ``seq_lo`` (first version) of a later transaction, or of the reader's own open one;
    a BRIN index on ``_chrono_seq`` finds them (``_chrono_c{N}_t``, see ``tables.py``). So
    a point near the present costs about a scan of the table, and an old one a seek per key
    changed since.

    ``writer=False``: the reader never writes (a read-only connection), so it has no open
    transaction's versions to look for; a standby cannot read the (unlogged) pending table.
    """
    same_key = same([(col("c", k), col("t", k)) for k in v.keys])
    seek_key = same([(col("h", v.stored_of(k)), col("c", k)) for k in v.keys])
    later = (
        exp.select(exp.func("min", col("t", "seq_lo", quoted=False)), copy=False)
        .from_(table(v.schema, TX_TABLE, "t"), copy=False)
        .where(
            exp.GT(this=col("t", "tx_id", quoted=False), expression=col("p", "n", quoted=False)),
            copy=False,
        )
        .subquery(copy=False)
    )
    lows: list[exp.Expr] = [
        exp.Add(this=col("p", "b", quoted=False), expression=exp.Literal.number(1)),
        later,
    ]
    if writer:
        # The open transaction's pending row, by ctid ('' or unset when it wrote nothing).
        setting = exp.func("current_setting", exp.Literal.string(PENDING_SETTING), exp.true())
        ctid = exp.cast(
            exp.func("nullif", setting, exp.Literal.string("")),
            exp.DataType.build("tid", dialect="postgres", udt=True),
            copy=False,
        )
        own = (
            exp.select(col("q", "seq_lo", quoted=False), copy=False)
            .from_(table(v.schema, PENDING, "q"), copy=False)
            .where(exp.EQ(this=col("q", "ctid", quoted=False), expression=ctid), copy=False)
            .subquery(copy=False)
        )
        lows.append(own)
    low = exp.select(exp.alias_(exp.func("least", *lows), "lo", copy=False), copy=False).from_(
        local(POINT, "p"), copy=False
    )
    changed_fn = exp.Dot(
        this=name(v.schema),
        expression=exp.Anonymous(
            this=name(changed_of(v.hist)),
            expressions=[
                exp.select(exp.column("lo"), copy=False)
                .from_(local(LOW), copy=False)
                .subquery(copy=False)
            ],
        ),
    )
    changed = exp.select(exp.Star(), copy=False).from_(changed_fn, copy=False)
    current = (
        exp.select(*_select(v, "t"), copy=False)
        .from_(table(v.schema, v.table, "t"), copy=False)
        .where(
            exp.Exists(this=exp.select(copy=False).from_(local(POINT), copy=False)),
            exp.not_(
                exp.Exists(
                    this=exp.select(copy=False)
                    .from_(local(CHANGED_KEYS, "c"), copy=False)
                    .where(*same_key, copy=False)
                ),
                copy=False,
            ),
            copy=False,
        )
    )
    sought = (
        exp.Select(
            expressions=_stored(v, "v"),
            joins=[_cross(local(CHANGED_KEYS, "c")), _lateral(_newest(v, seek_key), "v")],
        )
        .from_(local(POINT, "p"), copy=False)
        .where(build.not_tombstone("v"), copy=False)
    )
    both = exp.union(current, sought, distinct=False, copy=False)
    both = (
        both.with_(POINT, as_=_query(point), copy=False)
        .with_(LOW, as_=low, copy=False)
        .with_(CHANGED_KEYS, as_=changed, copy=False)
    )
    return render(exp.Subquery(this=both))


def as_of_history(v: Versioned, point: SQL) -> str:
    """``v``'s rows at ``point``, from one pass over its history (no current rows read).

    Each key's newest committed version at or before the point, by ``DISTINCT ON`` over
    history: for a point before most of the changes, where :func:`as_of` would seek most
    keys one by one, a scan and a sort cost less.
    """
    tx, on = _tx_join(v)
    keys = [col("h", k) for k in v.history_keys]
    seq = col("h", SEQ, quoted=False)
    newest = (
        exp.select(star("h"), copy=False)
        .distinct(*keys, distinct=True, copy=False)
        .from_(_query(point).subquery("p", copy=False), copy=False)
        .join(table(v.schema, v.hist, "h"), copy=False)
        .join(tx, on=on, copy=False)
        .where(
            *_visible_at_point(seq),
            copy=False,
        )
        .order_by(*[k.copy() for k in keys], desc(seq.copy()), copy=False)
    )
    rows = (
        exp.select(*_stored(v, "s"), copy=False)
        .from_(newest.subquery("s", copy=False), copy=False)
        .where(build.not_tombstone("s"), copy=False)
    )
    return render(rows.subquery(copy=False))


def as_of_key(v: Versioned, point: SQL, key: Sequence[SQL]) -> str:
    """The row of ``v`` with key ``key`` (SQL expressions, in key order) at ``point``: one
    seek, for a query that fixes the whole key (``WHERE id = %s``)."""
    match = same(
        [(col("h", k), operand(ref, POSTGRES)) for k, ref in zip(v.history_keys, key, strict=True)]
    )
    row = (
        exp.Select(expressions=_stored(v, "v"), joins=[_lateral(_newest(v, match), "v")])
        .from_(_query(point).subquery("p", copy=False), copy=False)
        .where(build.not_tombstone("v"), copy=False)
    )
    return render(row.subquery(copy=False))


def versions(
    v: Versioned,
    condition: SQL = "true",
    horizon: SQL | None = None,
    until: tuple[int, int] | None = None,
) -> str:
    """Every committed version of ``v`` with its period ``sys_from``/``sys_to`` (seconds).

    ``condition`` may use ``w._chrono_from`` and ``w._chrono_to`` (µs; the end is NULL
    while current; see :func:`range_condition`). A version its own transaction replaced
    was never seen by anyone and is left out; tombstones end periods and are not rows.
    ``horizon``: leave out transactions after it (see the module's docstring). ``until``:
    the (id, time) of the transaction that dropped the table (or renamed it away), where
    every period still open ends; a version it wrote itself was never seen.
    """
    tx, on = _tx_join(v)

    def next_of(column: str) -> exp.Expr:
        """``column`` of the transaction of the key's next version."""
        return exp.Window(
            this=exp.func("lead", col("x", column, quoted=False)),
            partition_by=[col("h", k) for k in v.history_keys],
            order=exp.Order(expressions=[exp.Ordered(this=col("h", SEQ, quoted=False))]),
            over="OVER",
        )

    end, next_tx = next_of("tx_time"), next_of("tx_id")
    on_tx = [on, *_bounded(horizon, col("x", "tx_id", quoted=False))]
    if until is not None:
        end = exp.func("coalesce", end, exp.Literal.number(until[1]))
        next_tx = exp.func("coalesce", next_tx, exp.Literal.number(until[0]))
        on_tx.append(
            exp.LT(this=col("x", "tx_id", quoted=False), expression=exp.Literal.number(until[0]))
        )
    ordered = (
        exp.select(
            star("h"),
            exp.alias_(col("x", "tx_id", quoted=False), TX, copy=False),
            exp.alias_(col("x", "tx_time", quoted=False), FROM, copy=False),
            exp.alias_(end, TO, copy=False),
            exp.alias_(next_tx, NEXT, copy=False),
            copy=False,
        )
        .from_(table(v.schema, v.hist, "h"), copy=False)
        .join(tx, on=exp.and_(*on_tx, copy=False), copy=False)
    )

    def in_seconds(column: str, name: str) -> exp.Expr:
        """``w.column`` (µs) in seconds, as ``name``."""
        million = exp.cast(
            exp.Literal.number("1e6"), exp.DataType.build("float8", dialect="postgres"), copy=False
        )
        return exp.alias_(
            exp.Div(this=col("w", column, quoted=False), expression=million), name, copy=False
        )

    rows = (
        exp.select(
            *_stored(v, "w"), in_seconds(FROM, PERIOD[0]), in_seconds(TO, PERIOD[1]), copy=False
        )
        .from_(ordered.subquery("w", copy=False), copy=False)
        .where(
            build.not_tombstone("w"),
            exp.NullSafeNEQ(
                this=col("w", NEXT, quoted=False), expression=col("w", TX, quoted=False)
            ),
            exp.paren(_sql_condition(condition), copy=False),
            copy=False,
        )
    )
    return render(rows.subquery(copy=False))


def _sql_condition(condition: SQL) -> exp.Expr:
    """A condition of :func:`versions`, without the parentheses it is given within."""
    found = tree(condition, POSTGRES)
    return found.this if isinstance(found, exp.Paren) else found


def range_condition(kind: str, lo: SQL | None = None, hi: SQL | None = None) -> str:
    """SQL:2011 period predicates (``FOR SYSTEM_TIME ALL``, ``BETWEEN``, ``FROM … TO``,
    ``CONTAINED IN``) on microsecond bounds, for :func:`versions` (``build.range_condition``,
    as SQLite's)."""
    start, end = col("w", FROM, quoted=False), col("w", TO, quoted=False)
    low = None if lo is None else operand(lo, POSTGRES)
    high = None if hi is None else operand(hi, POSTGRES)
    return render(build.range_condition(kind, low, high, start, end, exp.true()))
