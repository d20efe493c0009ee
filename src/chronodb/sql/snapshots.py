"""SQL over history tables: a table as of one transaction, and its versions over a range.

These are the only places that know how history is laid out (see versioning/tables.py;
the names are ``layout``'s).

AS OF and the ranges are built as sqlglot expressions (the shapes PostgreSQL's
``postgres/snapshots.py`` shares are in ``sql/build.py``) and rendered once by
:func:`render` with ChronoSQL, SQLite's dialect. A point, a key's value or a bound is SQL
text: a parameter (``?N``, ``:name``) or a literal.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from itertools import pairwise

import sqlglot
from sqlglot import exp
from sqlglot.tokens import TokenType

from chronodb.layout import (
    DELETED,
    FROM,
    NEXT,
    OP,
    ROWID_KEY,
    SEQ,
    TO,
    TX,
    keys_of,
    null_keys_of,
)
from chronodb.sql import build
from chronodb.sql.build import PERIOD, SQL, col, newest, not_tombstone, paren, same
from chronodb.sql.dialect import ChronoSQL, parse, to_sql
from chronodb.versioning.catalog import Column, SchemaVersion
from chronodb.versioning.tables import qualified, quote, seq_after
from chronodb.versioning.timeline import Epoch, time_of, tx_at_micros, user_of

MILLION = exp.Literal.number("1e6")  # SQLite divides an integer by a REAL as doubles
TRUE = exp.Literal.number(1)  # TRUE would name a column called "true" if there is one

HOLE = "chrono_hole"
"""The parameter name standing for an expression in SQL text made elsewhere
(``versioning/timeline.py``, ``versioning/tables.py``), replaced once parsed."""

NUMBERED = "chrono_positional"
"""The parameter name standing for a numbered parameter ``?N`` while SQL text is parsed:
``:chrono_positionalN``. ChronoSQL numbers each ``?`` itself and reads no ``?N``."""


def render(tree: exp.Expr) -> str:
    """``tree`` as SQLite's text: the one place this module's expressions become text.

    The tree is built for this one rendering, so the generator may change it.
    """
    return to_sql(tree, copy=False)


def _named(text: str) -> str:
    """``text`` with each numbered parameter ``?N`` named ``:chrono_positionalN``, found
    by its tokens (so never inside a string or a comment)."""
    parts, done = [], 0
    for mark, number in pairwise(ChronoSQL().tokenize(text)):
        if (
            mark.token_type == TokenType.PLACEHOLDER
            and number.token_type == TokenType.NUMBER
            and number.start == mark.end + 1
        ):
            parts += [text[done : mark.start], f":{NUMBERED}{number.text}"]
            done = number.end + 1
    return "".join([*parts, text[done:]])


@functools.lru_cache(maxsize=1024)
def _parsed(text: str) -> exp.Expr:
    """SQL text parsed once: the same points and bounds recur in every statement. A
    numbered parameter ``?N`` stays one, written back as ``?N``."""
    tree = parse(f"SELECT {_named(text)}")[0].expressions[0]
    for node in tree.find_all(exp.Placeholder):
        name = str(node.this or "")
        if name.startswith(NUMBERED):
            node.set("this", None)
            node.meta["index"] = int(name[len(NUMBERED) :])
    return tree


def _tree(text: SQL) -> exp.Expr:
    """SQL text (or an expression) as an expression of the caller's own to change."""
    return (_parsed(text) if isinstance(text, str) else text).copy()


def _sql(text: SQL) -> exp.Expr:
    """SQL text (or an expression), parenthesised where it would bind to its neighbours."""
    return paren(_tree(text))


@functools.lru_cache(maxsize=256)
def _made(text: str) -> exp.Expr:
    """SQL text of ChronoDB's own (``versioning/timeline.py``, ``versioning/tables.py``)
    parsed once, by sqlglot's SQLite parser: it holds no clause of ChronoSQL's own, and
    that parser, which notes no spans, reads it in a third of the time."""
    return sqlglot.parse_one(f"SELECT {text}", read="sqlite").expressions[0]


def _filled(text: str, value: exp.Expr) -> exp.Expr:
    """SQL text of ChronoDB's own around the parameter ``:chrono_hole``, with ``value`` in
    its place (each use gets its own copy)."""
    tree = _made(text).copy()
    holes = [n for n in tree.find_all(exp.Placeholder) if n.this == HOLE]
    for node in holes:
        node.replace(paren(value.copy()))
    return tree


_HOLE_REF = f":{HOLE}"


def _tx_at_micros(micros: exp.Expr, epoch: Epoch) -> exp.Expr:
    """:func:`timeline.tx_at_micros` of ``micros``: the bound of the transactions at or
    before it."""
    return _filled(tx_at_micros(_HOLE_REF, epoch), micros)


TABLE_HOLE = "chrono_table"
"""The table name standing for a history table in SQL text made elsewhere, replaced once
parsed: the text is then parsed once for every table."""


def _seq_after(h: exp.Table, tx: exp.Expr) -> exp.Expr:
    """:func:`tables.seq_after`: the first history position of ``h`` after transaction
    ``tx``."""
    tree = _filled(seq_after(qualified(TABLE_HOLE), _HOLE_REF), tx)
    for table in tree.find_all(exp.Table):
        if table.name == TABLE_HOLE:
            table.set("this", build.name(h.name))
    return tree


def _hist(name: str, alias: str | None = None) -> exp.Table:
    """The table ``name`` of the file (``main``: a TEMP table of the same name cannot stand
    in for it, see ``tables.qualified``), as ``alias``."""
    return build.table("main", name, alias, quoted_schema=False)


def rowid_column(sv: SchemaVersion) -> str | None:
    """The history column holding the rows' rowids, if the history keeps them.

    A table without a primary key is keyed by rowid; an INTEGER PRIMARY KEY is the rowid.
    Any other key leaves the rowid unrecorded (SQLite may change it, e.g. on VACUUM).
    """
    if sv.keys == (ROWID_KEY,):
        return ROWID_KEY
    keys = sv.key_columns
    if len(keys) == 1 and keys[0].decl_type.upper() == "INTEGER":
        return keys[0].hist
    return None


def _projected(source: exp.Expr, column: Column) -> exp.Expr:
    """``source`` (a history column) as ``column``: under its name, with its collation.

    SQLite gives a subquery's column its expression's collation, so the table's own
    (NOCASE, RTRIM, or one the application defines) is named here; the affinity comes with
    the history column's declared type (``versioning/columns.py``).
    """
    if column.collated:
        source = exp.Collate(this=source, expression=build.name(column.collation))
    return exp.alias_(source, build.name(column.name), copy=False)


def projected(source: str, column: Column) -> str:
    """:func:`_projected` of SQL text, as text (for the change feed's select list)."""
    return render(_projected(_tree(source), column))


def _with_rowid(
    select: list[exp.Expr], alias: str, sv: SchemaVersion | None, rowid: bool
) -> list[exp.Expr]:
    """``select`` and, with ``rowid``, the rows' rowids as ``_chrono_rowid`` (NULL where
    history does not keep them); a select list that is never empty."""
    if rowid:
        column = rowid_column(sv) if sv is not None else None
        source = col(alias, column) if column is not None else exp.null()
        select = [*select, exp.alias_(source, build.name(ROWID_KEY), copy=False)]
    return select or [exp.null()]


def _seek(
    h: exp.Table,
    match: Sequence[exp.Expr],
    tx: exp.Expr,
    order: Sequence[exp.Expr],
) -> exp.Subquery:
    """The rowid of the newest version ``h2`` matching ``match`` at or before ``tx``: one
    seek of the key index."""
    seek = newest(
        [col("h2", "rowid", quoted=False)],
        _hist(h.name, "h2"),
        [*match, exp.LTE(this=col("h2", TX, quoted=False), expression=paren(tx.copy()))],
        order,
    )
    return seek.subquery(copy=False)


def _tx_desc(alias: str) -> exp.Ordered:
    return build.desc(col(alias, TX, quoted=False), nulls_first=False)


def as_of(
    sv: SchemaVersion | None,
    tx_ref: SQL,
    columns_from: SchemaVersion,
    fixed_key: Sequence[SQL] | None = None,
    *,
    rowid: bool = False,
    null_keys: bool = False,
) -> str:
    """Rows of ``sv`` current at transaction ``tx_ref``, with ``columns_from``'s columns.

    Driven by the history's key set (every key it holds, once), then one index seek for each
    key's newest version at or before the point, dropped if it is a tombstone or missing
    (the key was inserted later).
    Depth of history does not matter, only the number of keys; with the key fixed by the
    outer query (``WHERE id = ?``) it is a handful of seeks. ``rowid``: add the rows' rowids
    as a column ``_chrono_rowid`` (see ``rules/rowid_columns.py``). ``null_keys``: the
    table keeps keys holding a NULL apart (``Catalog.null_keyed``); their rows are added.
    """
    key = None if fixed_key is None else tuple(fixed_key)
    return _as_of_sql(sv, tx_ref, columns_from, key, rowid, null_keys)


@functools.lru_cache(maxsize=256)
def _as_of_sql(
    sv: SchemaVersion | None,
    tx_ref: SQL,
    columns_from: SchemaVersion,
    fixed_key: tuple[SQL, ...] | None,
    rowid: bool,
    null_keys: bool,
) -> str:
    """:func:`as_of`'s SQL, built and rendered once for each table shape and point: the
    statements that read a table at the same kind of point share it."""
    return render(
        _as_of(sv, _sql(tx_ref), columns_from, fixed_key, rowid=rowid, null_keys=null_keys)
    )


def _as_of(
    sv: SchemaVersion | None,
    tx: exp.Expr,
    columns_from: SchemaVersion,
    fixed_key: Sequence[SQL] | None,
    *,
    rowid: bool,
    null_keys: bool,
) -> exp.Query:
    cols = columns_from.columns
    if sv is None:  # the table did not exist then
        nulls = [exp.alias_(exp.null(), build.name(c.name), copy=False) for c in cols]
        # Empty at every point; the point stays named, so the statement's parameters do not
        # depend on which tables existed then.
        return exp.select(*_with_rowid(nulls, "", None, rowid), copy=False).where(
            exp.and_(exp.Literal.number(0), tx, copy=False), copy=False
        )
    h = _hist(sv.hist, "h")
    keys = sv.keys
    key_hist = set(keys)

    def select_list(key_alias: str) -> list[exp.Expr]:
        picked: list[exp.Expr] = [
            _projected(col(key_alias if c.hist in key_hist else "h", c.hist), c) for c in cols
        ]
        return _with_rowid(picked, key_alias, sv, rowid)

    if fixed_key is not None and not any(c.collated for c in sv.key_columns):
        # The outer query names the key (WHERE id = ?): one seek for its newest version.
        # Not for a collated key (NOCASE, say): 'Bob' then matches history's keys 'bob'
        # and 'BOB', which the scan below finds, with the outer query's WHERE.
        match = same([(col("h2", k), _sql(ref)) for k, ref in zip(keys, fixed_key, strict=True)])
        seek = exp.EQ(
            this=col("h", "rowid", quoted=False), expression=_seek(h, match, tx, [_tx_desc("h2")])
        )
        return (
            exp.select(*select_list("h"), copy=False)
            .from_(h, copy=False)
            .where(seek, not_tombstone("h"), copy=False)
        )

    found = _newest(h, _hist(keys_of(sv.hist), "k"), keys, tx, select_list("k"))
    if not null_keys:
        return found
    # Keys holding a NULL, which only IS matches (still a seek of the key index); their
    # versions of one transaction are not merged (NULLs never conflict): the last wins.
    last = _newest(
        h,
        _hist(null_keys_of(sv.hist), "k"),
        keys,
        tx,
        select_list("k"),
        exp.Is,
        [_tx_desc("h2"), build.desc(col("h2", "rowid", quoted=False), nulls_first=False)],
    )
    return exp.union(found, last, distinct=False, copy=False)


def _newest(
    h: exp.Table,
    key_set: exp.Table,
    keys: Sequence[str],
    tx: exp.Expr,
    select: Sequence[exp.Expr],
    eq: type[exp.Binary] = exp.EQ,
    order: Sequence[exp.Expr] | None = None,
) -> exp.Select:
    """``select`` over each key of ``key_set`` (``k``) and its newest version ``h`` at or
    before ``tx`` (one seek of the key index), tombstones left out."""
    match = same([(col("h2", k), col("k", k)) for k in keys], eq)
    found = _seek(h, match, tx, order or [_tx_desc("h2")])
    return (
        exp.select(*select, copy=False)
        .from_(key_set, copy=False)
        .join(
            h.copy(),
            on=exp.EQ(this=col("h", "rowid", quoted=False), expression=found),
            copy=False,
        )
        .where(not_tombstone("h"), copy=False)
    )


def _time_at(tx: exp.Expr, epoch: Epoch | None) -> exp.Expr:
    """The commit time (µs) of transaction ``tx``, without a lookup where it can.

    A transaction numbered after the file's counted ones is its time counted from the
    origin (``versioning/timeline.py``): only older ids need their record. ``tx`` is
    named more than once, so it should be a column, not a subquery.
    """
    if epoch is None:
        return _filled(time_of(_HOLE_REF), tx)
    counted = exp.Add(this=paren(tx.copy()), expression=exp.Literal.number(epoch.origin))
    if not epoch.counted:
        return counted
    return exp.Case(
        ifs=[
            exp.If(
                this=exp.GT(this=paren(tx.copy()), expression=exp.Literal.number(epoch.counted)),
                true=counted,
            )
        ],
        default=_filled(time_of(_HOLE_REF), tx),
    )


def _end(h: exp.Table, keys: Sequence[str], epoch: Epoch | None, dropped: int | None) -> exp.Expr:
    """The end of version ``v``: the time of its key's next version ``n`` (one seek of the
    key index), or that of the transaction that dropped the table."""
    next_version = newest(
        [_time_at(col("n", TX, quoted=False), epoch)],
        _hist(h.name, "n"),
        [
            *same([(col("n", k), col("v", k)) for k in keys]),
            exp.GT(this=col("n", TX, quoted=False), expression=col("v", TX, quoted=False)),
        ],
        [build.asc(col("n", TX, quoted=False), nulls_first=True)],
    ).subquery(copy=False)
    if dropped is None:
        return next_version
    return exp.func("coalesce", next_version, _time_at(exp.Literal.number(int(dropped)), epoch))


def _before_drop(alias: str, dropped: int | None) -> list[exp.Expr]:
    """``alias`` was written before the table was dropped (a version the dropping
    transaction wrote itself was never seen), or nothing if it was not."""
    if dropped is None:
        return []
    return [exp.LT(this=col(alias, TX, quoted=False), expression=exp.Literal.number(int(dropped)))]


def versions(
    sv: SchemaVersion,
    condition: SQL,
    *,
    rowid: bool = False,
    dropped: int | None = None,
    null_keys: bool = False,
    epoch: Epoch | None = None,
) -> str:
    """Every live version of ``sv``'s table with its period ``sys_from``/``sys_to`` (seconds).

    ``condition`` may use ``v._chrono_from`` (start, microseconds) and ``v._chrono_to``
    (end, NULL while current); it should name ``v._chrono_to`` once, each use is a seek.
    ``rowid``: as for :func:`as_of`. ``dropped``: the transaction that dropped the table, if
    it was; the versions alive then end there, and those it wrote itself were never seen.
    ``null_keys``: the table keeps keys holding a NULL (see :func:`as_of`); a version its own
    transaction replaced was never seen either. ``epoch``: as for :func:`_time_at`.

    One flat scan of history in its order, each version's end a seek of the key index for
    the key's next version: SQLite flattens the query into the statement reading it, so a
    statement that names neither the end nor a condition on it (``count(*)`` over ``ALL``)
    reads history at scan speed, without the seeks.
    """
    tree = _versions(
        sv, _tree(condition), rowid=rowid, dropped=dropped, null_keys=null_keys, epoch=epoch
    )
    return render(tree)


def _versions(
    sv: SchemaVersion,
    condition: exp.Expr,
    *,
    rowid: bool,
    dropped: int | None,
    null_keys: bool,
    epoch: Epoch | None,
) -> exp.Select:
    if null_keys:
        return _versions_by_window(sv, condition, rowid=rowid, dropped=dropped, epoch=epoch)
    h = _hist(sv.hist, "v")
    ended = (
        exp.select(
            exp.Column(this=exp.Star(), table=exp.to_identifier("v")),
            exp.alias_(_time_at(col("v", TX, quoted=False), epoch), FROM, copy=False),
            exp.alias_(_end(h, sv.keys, epoch, dropped), TO, copy=False),
            copy=False,
        )
        .from_(h, copy=False)
        .subquery("v", copy=False)
    )
    return (
        exp.select(*_with_rowid(_period_select(sv), "v", sv, rowid), copy=False)
        .from_(ended, copy=False)
        .where(
            not_tombstone("v"),
            *_before_drop("v", dropped),
            exp.paren(condition, copy=False),
            copy=False,
        )
    )


def _period_select(
    sv: SchemaVersion, start: exp.Expr | None = None, end: exp.Expr | None = None
) -> list[exp.Expr]:
    """``sv``'s columns of version ``v`` and its period in seconds (from ``v``'s start and
    end in microseconds unless given)."""
    select: list[exp.Expr] = [_projected(col("v", c.hist), c) for c in sv.columns]
    start = col("v", FROM, quoted=False) if start is None else start
    end = col("v", TO, quoted=False) if end is None else end
    return [
        *select,
        build.in_seconds(start, PERIOD[0], MILLION.copy()),
        build.in_seconds(end, PERIOD[1], MILLION.copy()),
    ]


def period(
    sv: SchemaVersion,
    kind: str,
    lo: SQL | None,
    hi: SQL | None,
    *,
    rowid: bool = False,
    dropped: int | None = None,
    null_keys: bool = False,
    epoch: Epoch,
) -> str:
    """The versions of ``sv``'s table that ``FOR SYSTEM_TIME <kind>`` reads (``lo``/``hi``:
    microsecond bounds, SQL expressions named several times), as :func:`versions` with
    :func:`range_condition` gives them, read without a seek per version where it can.

    A version's end is a seek; :func:`versions` needs it for every version that began by
    ``lo``. Of those, BETWEEN and FROM...TO keep only the versions alive at ``lo``: the key's
    newest version at or before it, one seek per key as in :func:`as_of`. The versions that
    began after ``lo`` are a range of history rows (history order is transaction order, see
    ``tables.seq_after``) and all end after ``lo``. Both parts stop at ``hi`` by the
    transaction bound of it, so the union passes on only the rows read. CONTAINED IN reads
    only the range of rows that began in the period. ALL, and a table keeping keys that hold
    a NULL (whose versions of one transaction are not merged), read as :func:`versions`.
    """
    return _period_sql(sv, kind, lo, hi, rowid, dropped, null_keys, epoch)


@functools.lru_cache(maxsize=256)
def _period_sql(
    sv: SchemaVersion,
    kind: str,
    lo: SQL | None,
    hi: SQL | None,
    rowid: bool,
    dropped: int | None,
    null_keys: bool,
    epoch: Epoch,
) -> str:
    """:func:`period`'s SQL, built and rendered once for each table shape, range and
    bounds: the statements that read a table over the same kind of range share it."""
    low = None if lo is None else _sql(lo)
    high = None if hi is None else _sql(hi)
    return render(
        _period(sv, kind, low, high, rowid=rowid, dropped=dropped, null_keys=null_keys, epoch=epoch)
    )


def _period(
    sv: SchemaVersion,
    kind: str,
    lo: exp.Expr | None,
    hi: exp.Expr | None,
    *,
    rowid: bool,
    dropped: int | None,
    null_keys: bool,
    epoch: Epoch,
) -> exp.Select:
    condition = _range_condition(kind, lo, hi)
    if null_keys or kind == "ALL" or lo is None or hi is None:
        return _versions(
            sv, condition, rowid=rowid, dropped=dropped, null_keys=null_keys, epoch=epoch
        )
    h = _hist(sv.hist, "h")
    if kind == "CONTAINED IN":
        # began at or after lo (tx after the bound of lo - 1 µs), ended by hi (so began before)
        first = _tx_at_micros(_minus_one(lo), epoch)
        last = _tx_at_micros(hi, epoch)
        bounded = exp.and_(
            *_tx_range("v", h, first, last), exp.paren(condition, copy=False), copy=False
        )
        return _versions(sv, bounded, rowid=rowid, dropped=dropped, null_keys=False, epoch=epoch)
    lo_tx = _tx_at_micros(lo, epoch)
    # began by hi (BETWEEN) or before it (FROM...TO): microseconds are whole numbers
    hi_tx = _tx_at_micros(hi if kind == "BETWEEN" else _minus_one(hi), epoch)
    keys = sv.keys
    names = [*keys, *(c.hist for c in sv.columns if c.hist not in keys), TX]
    picked = [col("h", n) for n in names]
    up_to_hi = exp.LTE(this=col("h", TX, quoted=False), expression=paren(hi_tx.copy()))
    alive = _newest(h, _hist(keys_of(sv.hist), "k"), keys, lo_tx, picked).where(
        *_before_drop("h", dropped),
        # else every version ended by lo
        *(
            []
            if dropped is None
            else [exp.LT(this=paren(lo_tx.copy()), expression=exp.Literal.number(int(dropped)))]
        ),
        up_to_hi,  # the start may follow the end
        copy=False,
    )
    began = (
        exp.select(*[p.copy() for p in picked], copy=False)
        .from_(h.copy(), copy=False)
        .where(
            *_tx_range("h", h, lo_tx, hi_tx),
            not_tombstone("h"),
            *_before_drop("h", dropped),
            copy=False,
        )
    )
    start = exp.paren(_time_at(col("v", TX, quoted=False), epoch), copy=False)
    both = exp.union(alive, began, distinct=False, copy=False).subquery("v", copy=False)
    return exp.select(
        *_with_rowid(_period_select(sv, start, _end(h, keys, epoch, dropped)), "v", sv, rowid),
        copy=False,
    ).from_(both, copy=False)


def _minus_one(micros: exp.Expr) -> exp.Expr:
    """``micros - 1``: the last microsecond before ``micros``."""
    return exp.paren(
        exp.Sub(this=paren(micros.copy()), expression=exp.Literal.number(1)), copy=False
    )


def _tx_range(alias: str, h: exp.Table, first: exp.Expr, last: exp.Expr) -> list[exp.Expr]:
    """The versions of transactions ``(first, last]`` in history ``h`` (``alias``): a range
    of its rows, found by binary search, then checked by transaction."""
    seq, tx = col(alias, SEQ, quoted=False), col(alias, TX, quoted=False)
    return [
        exp.GTE(this=seq, expression=_seq_after(h, first)),
        exp.LT(this=seq.copy(), expression=_seq_after(h, last)),
        exp.GT(this=tx, expression=paren(first.copy())),
        exp.LTE(this=tx.copy(), expression=paren(last.copy())),
    ]


def _versions_by_window(
    sv: SchemaVersion,
    condition: exp.Expr,
    *,
    rowid: bool,
    dropped: int | None,
    epoch: Epoch | None,
) -> exp.Select:
    """:func:`versions` of a table keeping keys that hold a NULL: those versions of one key
    and transaction are not merged, so each key's versions are numbered in history order
    (a window over the key index, in its order) and those followed in their own
    transaction dropped."""
    h = _hist(sv.hist)
    end: exp.Expr = col("w", NEXT, quoted=False)
    if dropped is not None:
        end = exp.func("coalesce", end, exp.Literal.number(int(dropped)))
    numbered = (
        exp.select(
            exp.Star(),
            exp.alias_(
                build.lead(
                    col(None, TX, quoted=False),
                    [col(None, k) for k in sv.keys],
                    [col(None, TX, quoted=False), col(None, SEQ, quoted=False)],
                    nulls_first=True,
                ),
                NEXT,
                copy=False,
            ),
            copy=False,
        )
        .from_(h, copy=False)
        .subquery("w", copy=False)
    )
    timed = (
        exp.select(
            exp.Column(this=exp.Star(), table=exp.to_identifier("w")),
            exp.alias_(_time_at(col("w", TX, quoted=False), epoch), FROM, copy=False),
            exp.alias_(_time_at(end, epoch), TO, copy=False),
            copy=False,
        )
        .from_(numbered, copy=False)
        .subquery("v", copy=False)
    )
    return (
        exp.select(*_with_rowid(_period_select(sv), "v", sv, rowid), copy=False)
        .from_(timed, copy=False)
        .where(
            not_tombstone("v"),
            exp.NullSafeNEQ(
                this=col("v", NEXT, quoted=False), expression=col("v", TX, quoted=False)
            ),
            *_before_drop("v", dropped),
            exp.paren(condition, copy=False),
            copy=False,
        )
    )


def _range_condition(kind: str, lo: exp.Expr | None, hi: exp.Expr | None) -> exp.Expr:
    return build.range_condition(
        kind, lo, hi, col("v", FROM, quoted=False), col("v", TO, quoted=False), TRUE.copy()
    )


def range_condition(kind: str, lo: SQL | None, hi: SQL | None) -> exp.Expr:
    """SQL:2011 period predicates, on microsecond bounds, over version ``v`` of
    :func:`versions` (``build.range_condition``)."""
    return _range_condition(
        kind, None if lo is None else _sql(lo), None if hi is None else _sql(hi)
    )


def key_select(sv: SchemaVersion) -> list[str]:
    """Names of the key columns in a change: the table's own, or ``rowid``."""
    return ["rowid"] if sv.keys == (ROWID_KEY,) else [c.name for c in sv.key_columns]


BLOB_KEY = "$hex"


def json_real(column: str) -> str:
    """A REAL as a JSON number that reads back as the same double.

    SQLite's JSON writes 15 significant digits, so 0.1 + 0.2 would read back as 0.3. Those
    digits are kept when they are provably exact: an integer below 1e15; a value below 1e9
    with at most 6 decimals (``r / 1e6``); or one whose 15-digit decimal ``s / 10^k``
    (``k <= 22``) divides back to it. Each test is a single correctly rounded division of
    exact doubles, so the digits read back right in any reader that rounds correctly (which
    SQLite's own text-to-real conversion does not always do). Other values take 21
    significant digits, exact where SQLite prints with extended precision (as 3.40 on x86-64
    does; builds that print only 16 accurate digits may be an ulp off). Infinities become
    +-9e999, which JSON readers take for infinity; -0.0 reads back as 0.0.
    """
    c, a = column, f"abs({column})"
    t = f"printf('%.14e', {a})"  # d.dddddddddddddde±XX: the 15 digits JSON writes
    digits = f"CAST(replace(substr({t}, 1, 16), '.', '') AS INTEGER)"
    scale = f"CAST('1e' || (14 - CAST(substr({t}, 18) AS INTEGER)) AS REAL)"
    short = (
        f"{c} = CAST({c} AS INTEGER) AND {a} < 1e15 "
        f"OR {a} < 1e9 AND round({a} * 1e6) / 1e6 = {a} "
        f"OR {a} >= 1e-7 AND {a} < 1e14 AND {digits} / {scale} = {a}"
    )
    return (
        f"CASE WHEN {short} THEN {c} "
        f"WHEN {a} = 9e999 THEN json(iif({c} > 0, '9e999', '-9e999')) "
        f"ELSE json(printf('%!.20e', {c})) END"
    )


def json_value(column: str) -> str:
    """A column as a JSON value: JSON has no BLOB, so a BLOB becomes {"$hex": "..."}.

    A REAL is written with the digits it needs to read back unchanged (:func:`json_real`).
    """
    return (
        f"CASE typeof({column}) WHEN 'real' THEN {json_real(column)} "
        f"WHEN 'blob' THEN json_object('{BLOB_KEY}', hex({column})) ELSE {column} END"
    )


def unblob(values: dict | None) -> dict | None:
    """Undo :func:`json_value` on a decoded row: {"$hex": ...} back to bytes."""
    if values is None:
        return None
    return {
        k: bytes.fromhex(v[BLOB_KEY]) if isinstance(v, dict) and BLOB_KEY in v else v
        for k, v in values.items()
    }


def _string(text: str) -> str:
    """``text`` as an SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def _change_columns(sv: SchemaVersion, shapes: Sequence[SchemaVersion] = ()) -> str:
    """The select list of a change: version ``v`` against its key's previous version ``p``.

    With the table's ``shapes`` over time, each version reads with the columns the table had
    when it was written (a column added later is absent, a dropped one present).
    """

    def one(shape: SchemaVersion, alias: str) -> str:
        pairs = ", ".join(
            f"{_string(c.name)}, {json_value(f'{alias}.{quote(c.hist)}')}" for c in shape.columns
        )
        return f"json_object({pairs})"

    def obj(alias: str) -> str:
        spans = list(shapes) or [sv]
        if len(spans) == 1:
            return one(spans[0], alias)
        whens = " ".join(
            f"WHEN {alias}.{TX} < {after.from_tx} THEN {one(shape, alias)}"
            for shape, after in pairwise(spans)
        )
        return f"CASE {whens} ELSE {one(spans[-1], alias)} END"

    by_hist = {c.hist: c for c in sv.key_columns}
    keys = [
        projected(f"v.{quote(k)}", by_hist.get(k, Column(n, k, "")))
        for k, n in zip(sv.keys, key_select(sv), strict=True)
    ]
    return (
        f"CASE WHEN v.{OP} = '{DELETED}' THEN 'DELETE' WHEN {_P_ALIVE} THEN 'UPDATE' "
        f"ELSE 'INSERT' END AS operation, v.{TX} AS tx_id, "
        f"{time_of(f'v.{TX}')} / 1e6 AS tx_time, {user_of(f'v.{TX}')} AS user, "
        f"{', '.join(keys)}, "
        f"CASE WHEN {_P_ALIVE} THEN {obj('p')} END AS before, "
        f"CASE WHEN v.{OP} <> '{DELETED}' THEN {obj('v')} END AS after"
    )


_P_ALIVE = f"(p.{OP} IS NOT NULL AND p.{OP} <> '{DELETED}')"
# A tombstone of a key that was not alive (e.g. inserted and deleted in one transaction).
_NOT_EMPTY = f"NOT (v.{OP} = '{DELETED}' AND NOT {_P_ALIVE})"


def changes(
    sv: SchemaVersion,
    lo: str,
    hi: str,
    shapes: Sequence[SchemaVersion] = (),
    epoch: Epoch | None = None,
) -> str:
    """Rows inserted, updated and deleted in ``(lo, hi]`` (microseconds), oldest first.

    Columns: operation, tx_id, tx_time (seconds), user, the key columns, and ``before`` /
    ``after`` as JSON objects (NULL where the row did not exist). ``epoch``: where the
    file's transaction ids start (``timeline.epoch``). Reads as :func:`changes_by_tx`.
    """
    epoch = epoch or Epoch(0, 0)
    return _changes_between(sv, tx_at_micros(lo, epoch), tx_at_micros(hi, epoch), shapes)


def changes_by_tx(sv: SchemaVersion, lo_tx: str, hi_tx: str) -> str:
    """The changes of :func:`changes` made by transactions ``(lo_tx, hi_tx]``, in commit order.

    The range is one range of history rows (history order is transaction order), found by
    binary search, and each version's predecessor by one seek on the key index: the cost
    follows the number of changes in the range, not the size of the history, so a change
    feed can poll it every few milliseconds.
    """
    return _changes_between(sv, lo_tx, hi_tx)


def _changes_between(
    sv: SchemaVersion, lo_tx: str, hi_tx: str, shapes: Sequence[SchemaVersion] = ()
) -> str:
    """The changes of transactions ``(lo_tx, hi_tx]`` (SQL expressions, each named a few
    times: not costly subqueries), with ``shapes`` as for :func:`_change_columns`.

    A version's predecessor is the key's version before it in history order: the newest of
    an earlier transaction or, for a key holding a NULL (whose versions of one transaction
    are not merged), an earlier one of its own.
    """
    h = qualified(sv.hist)
    same_key = " AND ".join(f"x.{quote(k)} IS v.{quote(k)}" for k in sv.keys)
    previous = (
        f"(SELECT x.rowid FROM {h} AS x WHERE {same_key} AND x.{TX} <= v.{TX} "
        f"AND x.rowid < v.rowid ORDER BY x.{TX} DESC, x.rowid DESC LIMIT 1)"
    )
    return (
        f"SELECT {_change_columns(sv, shapes)} FROM {h} AS v "
        f"LEFT JOIN {h} AS p ON p.rowid = {previous} "
        f"WHERE v.{SEQ} >= {seq_after(h, lo_tx)} AND v.{SEQ} < {seq_after(h, hi_tx)} "
        f"AND v.{TX} > {lo_tx} AND v.{TX} <= {hi_tx} AND {_NOT_EMPTY} "
        f"ORDER BY v.{SEQ}"
    )
