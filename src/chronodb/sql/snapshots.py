"""SQL over history tables: a table as of one transaction, and its versions over a range.

These are the only places that know how history is laid out (see versioning/tables.py;
the names are ``layout``'s).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

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
from chronodb.versioning.catalog import Column, SchemaVersion
from chronodb.versioning.tables import key_list, qualified, quote, seq_after
from chronodb.versioning.timeline import Epoch, time_of, tx_at_micros, user_of

PERIOD = ("sys_from", "sys_to")  # the columns a range of versions adds, in seconds


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


def projected(source: str, column: Column) -> str:
    """``source`` (a history column) as ``column``: under its name, with its collation.

    SQLite gives a subquery's column its expression's collation, so the table's own
    (NOCASE, RTRIM, or one the application defines) is named here; the affinity comes with
    the history column's declared type (``versioning/columns.py``).
    """
    collate = f" COLLATE {quote(column.collation)}" if column.collated else ""
    return f"{source}{collate} AS {quote(column.name)}"


def _with_rowid(select: list[str], alias: str, sv: SchemaVersion | None, rowid: bool) -> str:
    if rowid:
        column = rowid_column(sv) if sv is not None else None
        source = f"{alias}.{quote(column)}" if column is not None else "NULL"
        select = [*select, f"{source} AS {quote(ROWID_KEY)}"]
    return ", ".join(select) or "NULL"


def as_of(
    sv: SchemaVersion | None,
    tx_ref: str,
    columns_from: SchemaVersion,
    fixed_key: list[str] | None = None,
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
    cols = columns_from.columns
    if sv is None:  # the table did not exist then
        names = _with_rowid([f"NULL AS {quote(c.name)}" for c in cols], "", None, rowid)
        # Empty at every point; the point stays named, so the statement's parameters do not
        # depend on which tables existed then.
        return f"SELECT {names} WHERE 0 AND {tx_ref}"
    h = qualified(sv.hist)
    key_set = qualified(keys_of(sv.hist))
    keys = sv.keys
    key_hist = set(keys)

    def select_list(key_alias: str) -> str:
        picked = [
            projected(f"{key_alias if c.hist in key_hist else 'h'}.{quote(c.hist)}", c)
            for c in cols
        ]
        return _with_rowid(picked, key_alias, sv, rowid)

    if fixed_key is not None and not any(c.collated for c in sv.key_columns):
        # The outer query names the key (WHERE id = ?): one seek for its newest version.
        # Not for a collated key (NOCASE, say): 'Bob' then matches history's keys 'bob'
        # and 'BOB', which the scan below finds, with the outer query's WHERE.
        match = " AND ".join(
            f"h2.{quote(k)} = {ref}" for k, ref in zip(keys, fixed_key, strict=True)
        )
        return (
            f"SELECT {select_list('h')} FROM {h} AS h "
            f"WHERE h.rowid = (SELECT h2.rowid FROM {h} AS h2 WHERE {match} "
            f"AND h2.{TX} <= {tx_ref} ORDER BY h2.{TX} DESC LIMIT 1) AND h.{OP} <> '{DELETED}'"
        )

    found = _newest(h, key_set, keys, tx_ref, select_list("k"))
    if null_keys:
        # Keys holding a NULL, which only IS matches (still a seek of the key index); their
        # versions of one transaction are not merged (NULLs never conflict): the last wins.
        held = qualified(null_keys_of(sv.hist))
        last = _newest(
            h, held, keys, tx_ref, select_list("k"), "IS", f"h2.{TX} DESC, h2.rowid DESC"
        )
        found += f" UNION ALL {last}"
    return found


def _newest(
    h: str,
    key_set: str,
    keys: Sequence[str],
    tx_ref: str,
    select: str,
    eq: str = "=",
    order: str = f"h2.{TX} DESC",
) -> str:
    """``select`` over each key of ``key_set`` (``k``) and its newest version ``h`` at or
    before ``tx_ref`` (one seek of the key index), tombstones left out."""
    same_key = " AND ".join(f"h2.{quote(k)} {eq} k.{quote(k)}" for k in keys)
    return (
        f"SELECT {select} FROM {key_set} AS k "
        f"JOIN {h} AS h ON h.rowid = (SELECT h2.rowid FROM {h} AS h2 WHERE {same_key} "
        f"AND h2.{TX} <= {tx_ref} ORDER BY {order} LIMIT 1) WHERE h.{OP} <> '{DELETED}'"
    )


def time_at(tx: str, epoch: Epoch | None) -> str:
    """SQL for the commit time (µs) of transaction ``tx``, without a lookup where it can.

    A transaction numbered after the file's counted ones is its time counted from the
    origin (``versioning/timeline.py``): only older ids need their record. ``tx`` is
    named more than once, so it should be a column, not a subquery.
    """
    if epoch is None:
        return time_of(tx)
    if not epoch.counted:
        return f"{tx} + {epoch.origin}"
    return f"CASE WHEN {tx} > {epoch.counted} THEN {tx} + {epoch.origin} ELSE {time_of(tx)} END"


def versions(
    sv: SchemaVersion,
    condition: str,
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
    transaction replaced was never seen either. ``epoch``: as for :func:`time_at`.

    One flat scan of history in its order, each version's end a seek of the key index for
    the key's next version: SQLite flattens the query into the statement reading it, so a
    statement that names neither the end nor a condition on it (``count(*)`` over ``ALL``)
    reads history at scan speed, without the seeks.
    """
    if null_keys:
        return _versions_by_window(sv, condition, rowid=rowid, dropped=dropped, epoch=epoch)
    h = qualified(sv.hist)
    same_key = " AND ".join(f"n.{quote(k)} = v.{quote(k)}" for k in sv.keys)
    end = (
        f"(SELECT {time_at(f'n.{TX}', epoch)} FROM {h} AS n WHERE {same_key} "
        f"AND n.{TX} > v.{TX} ORDER BY n.{TX} LIMIT 1)"
    )
    seen = ""
    if dropped is not None:
        end = f"coalesce({end}, {time_at(str(int(dropped)), epoch)})"
        seen = f" AND v.{TX} < {int(dropped)}"
    return (
        f"SELECT {_with_rowid(_period_select(sv), 'v', sv, rowid)} FROM (SELECT v.*, "
        f"{time_at(f'v.{TX}', epoch)} AS {FROM}, {end} AS {TO} FROM {h} AS v) AS v "
        f"WHERE v.{OP} <> '{DELETED}'{seen} AND ({condition})"
    )


def _period_select(sv: SchemaVersion, start: str = f"v.{FROM}", end: str = f"v.{TO}") -> list[str]:
    select = [projected(f"v.{quote(c.hist)}", c) for c in sv.columns]
    return [*select, f"{start} / 1e6 AS {PERIOD[0]}", f"{end} / 1e6 AS {PERIOD[1]}"]


def period(
    sv: SchemaVersion,
    kind: str,
    lo: str | None,
    hi: str | None,
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
    condition = range_condition(kind, lo, hi)
    if null_keys or kind == "ALL" or lo is None or hi is None:
        return versions(
            sv, condition, rowid=rowid, dropped=dropped, null_keys=null_keys, epoch=epoch
        )
    h = qualified(sv.hist)
    if kind == "CONTAINED IN":
        # began at or after lo (tx after the bound of lo - 1 µs), ended by hi (so began before)
        first, last = tx_at_micros(f"({lo} - 1)", epoch), tx_at_micros(hi, epoch)
        bounded = (
            f"v.{SEQ} >= {seq_after(h, first)} AND v.{SEQ} < {seq_after(h, last)} "
            f"AND v.{TX} > {first} AND v.{TX} <= {last} AND {condition}"
        )
        return versions(sv, bounded, rowid=rowid, dropped=dropped, epoch=epoch)
    lo_tx = tx_at_micros(lo, epoch)
    # began by hi (BETWEEN) or before it (FROM...TO): microseconds are whole numbers
    hi_tx = tx_at_micros(hi if kind == "BETWEEN" else f"({hi} - 1)", epoch)
    keys = sv.keys
    names = [*keys, *(c.hist for c in sv.columns if c.hist not in keys), TX]
    picked = ", ".join(f"h.{quote(n)}" for n in names)
    seen = alive_then = ""
    if dropped is not None:
        seen = f" AND h.{TX} < {int(dropped)}"
        alive_then = f" AND {lo_tx} < {int(dropped)}"  # else every version ended by lo
    alive = _newest(h, qualified(keys_of(sv.hist)), keys, lo_tx, picked)
    alive += f"{seen}{alive_then} AND h.{TX} <= {hi_tx}"  # the start may follow the end
    began = (
        f"SELECT {picked} FROM {h} AS h WHERE h.{SEQ} >= {seq_after(h, lo_tx)} "
        f"AND h.{SEQ} < {seq_after(h, hi_tx)} AND h.{TX} > {lo_tx} AND h.{TX} <= {hi_tx} "
        f"AND h.{OP} <> '{DELETED}'{seen}"
    )
    same_key = " AND ".join(f"n.{quote(k)} = v.{quote(k)}" for k in keys)
    start = f"({time_at(f'v.{TX}', epoch)})"
    end = (
        f"(SELECT {time_at(f'n.{TX}', epoch)} FROM {h} AS n WHERE {same_key} "
        f"AND n.{TX} > v.{TX} ORDER BY n.{TX} LIMIT 1)"
    )
    if dropped is not None:
        end = f"coalesce({end}, {time_at(str(int(dropped)), epoch)})"
    return (
        f"SELECT {_with_rowid(_period_select(sv, start, end), 'v', sv, rowid)} "
        f"FROM ({alive} UNION ALL {began}) AS v"
    )


def _versions_by_window(
    sv: SchemaVersion, condition: str, *, rowid: bool, dropped: int | None, epoch: Epoch | None
) -> str:
    """:func:`versions` of a table keeping keys that hold a NULL: those versions of one key
    and transaction are not merged, so each key's versions are numbered in history order
    (a window over the key index, in its order) and those followed in their own
    transaction dropped."""
    h = qualified(sv.hist)
    keylist = key_list(sv.keys)
    end, seen = f"w.{NEXT}", ""
    if dropped is not None:
        end, seen = f"coalesce(w.{NEXT}, {int(dropped)})", f" AND v.{TX} < {int(dropped)}"
    return (
        f"SELECT {_with_rowid(_period_select(sv), 'v', sv, rowid)} FROM (SELECT w.*, "
        f"{time_at(f'w.{TX}', epoch)} AS {FROM}, {time_at(end, epoch)} AS {TO} "
        f"FROM (SELECT *, lead({TX}) OVER (PARTITION BY {keylist} ORDER BY {TX}, {SEQ}) "
        f"AS {NEXT} FROM {h}) AS w) AS v "
        f"WHERE v.{OP} <> '{DELETED}' AND v.{NEXT} IS NOT v.{TX}{seen} AND ({condition})"
    )


def range_condition(kind: str, lo: str | None, hi: str | None) -> str:
    """SQL:2011 period predicates, on microsecond bounds."""
    end_after = f"coalesce(v.{TO} > {{lo}}, 1)"  # each use of the end is a seek
    if kind == "ALL":
        return "1"
    if kind == "BETWEEN":
        return f"v.{FROM} <= {hi} AND " + end_after.format(lo=lo)
    if kind == "FROM":
        return f"v.{FROM} < {hi} AND " + end_after.format(lo=lo)
    if kind == "CONTAINED IN":
        return f"v.{FROM} >= {lo} AND v.{TO} <= {hi}"  # NULL (current) is not contained
    raise ValueError(kind)


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
