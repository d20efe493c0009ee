"""Digests of history rows, computed inside SQLite so that sealing a transaction is cheap.

A version's canonical form is ``json_array(op, key..., columns...)`` over the history
columns the table had at that transaction; a transaction's digest for a table is SHA-256
over the JSON array of its versions in history order (``_chrono_seq``, the history table's
rowid alias). NULL, INTEGER and TEXT are JSON's null, integers and strings; the two types
JSON cannot carry exactly are arrays, so no value of one type can read as another:

- a BLOB is ``[hex]``;
- a REAL ``x`` is ``[e, hi, lo]`` with ``x = (hi + lo / 2^63) * 2^e`` exactly: ``hi`` and
  ``lo`` are integers, ``e`` is 0 when ``2^-11 <= |x| < 2^63`` (and for 0), else the multiple
  of 62 nearest zero that brings ``|x| / 2^e`` into that range; infinities are
  ``[1024, 1, 0]`` and ``[1024, -1, 0]``.

REALs are split with exact arithmetic rather than printed: SQLite's JSON prints 15
significant digits (0.1 + 0.2 and 0.3 both print as 0.3, so an edit by a few ulps would go
unseen), and its longer printf output is neither exact nor the same in every SQLite build
and version, whereas integer text is. -0.0 encodes as 0.0: SQL compares them equal and SQLite
has no portable way to tell them apart.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable, Iterator, Set
from itertools import groupby
from operator import itemgetter

from chronodb.layout import LEAF, LEAF_OF_ONE, OP, ROWID_KEY, SEQ, TX
from chronodb.versioning.catalog import Catalog, SchemaVersion
from chronodb.versioning.columns import affinity
from chronodb.versioning.tables import qualified, quote, seq_after

EMPTY = hashlib.sha256(b"[]").digest()


# Powers of two as SQL literals that every SQLite reads exactly.
_P63 = "9223372036854775808.0"  # 2^63
_P62 = "4611686018427387904"  # 2^62, an INTEGER
_PM11 = "0.00048828125"  # 2^-11


def _split(y: str, e: str) -> str:
    """``[e, hi, lo]`` with ``y = hi + lo / 2^63``: exact when ``2^-11 <= |y| < 2^63`` or y = 0.

    ``hi`` truncates ``y``; the remainder ``y - hi`` is exact and a multiple of 2^-63, as
    ``y``'s last bit is worth at least that in this range.
    """
    hi = f"CAST({y} AS INTEGER)"
    return f"json_array({e}, {hi}, CAST(({y} - {hi}) * {_P63} AS INTEGER))"


def _real(c: str) -> str:
    """A REAL column as ``[e, hi, lo]`` (see the module docstring), with exact arithmetic.

    Most values need no scaling; the rest (tiny, huge, subnormal) are scaled by 2^62 a step
    at a time in a small recursive query, which runs only for them.
    """
    scaled = (
        f"json((WITH RECURSIVE s(y, e) AS (SELECT {c}, 0 UNION ALL SELECT "
        f"iif(abs(y) < 1, y * {_P62}, y / {_P62}), e + iif(abs(y) < 1, -62, 62) FROM s "
        f"WHERE abs(y) < {_PM11} OR abs(y) >= {_P63}) "
        f"SELECT {_split('y', 'e')} FROM s ORDER BY abs(e) DESC LIMIT 1))"
    )
    return (
        f"CASE WHEN abs({c}) < {_P63} AND (abs({c}) >= {_PM11} OR {c} = 0) THEN {_split(c, '0')} "
        f"WHEN abs({c}) = 9e999 THEN json_array(1024, iif({c} > 0, 1, -1), 0) ELSE {scaled} END"
    )


def _in_range(c: str) -> str:
    """SQL: the REAL ``c`` needs no scaling (see :func:`_split`)."""
    return f"abs({c}) < {_P63} AND (abs({c}) >= {_PM11} OR {c} = 0)"


def _value(column: str, *, scaled: bool = True, text: bool = False) -> str:
    """One column of the canonical form: a REAL as ``[e, hi, lo]``, a BLOB as ``[hex]``.

    Not ``scaled``: a REAL that needs scaling or is infinite makes the statement fail
    (``malformed JSON``) instead; see :data:`UNSCALED`. ``text`` (with ``scaled`` False): the
    column has TEXT affinity (see :func:`text_columns`), so it goes in as it is.
    """
    c = quote(column)
    if text and not scaled:
        return c
    real = (
        _real(c) if scaled else f"CASE WHEN {_in_range(c)} THEN {_split(c, '0')} ELSE {_FAIL} END"
    )
    return (
        f"CASE typeof({c}) WHEN 'real' THEN {real} "
        f"WHEN 'blob' THEN json_array(hex({c})) ELSE {c} END"
    )


# The scaling is a recursive subquery per column; a statement holding them costs more to run
# even when none runs. So the seal's statements leave them out (``scaled=False``) and stop
# with this error at a value that would need one: the caller then runs the full statement.
_FAIL = "json('unscaled')"
UNSCALED = sqlite3.OperationalError
"""What a statement built with ``scaled=False`` raises at a REAL it cannot encode (or at a
BLOB in a TEXT column, see :func:`text_columns`)."""

# Before 3.45 SQLite's json_array refuses a BLOB ("JSON cannot hold BLOB values"); from 3.45
# it reads a BLOB that parses as JSONB as that JSON, which the canonical form must not do.
_BLOB_REFUSED = sqlite3.sqlite_version_info < (3, 45, 0)


def text_columns(conn: sqlite3.Connection, sv: SchemaVersion) -> frozenset[str]:
    """The history columns of ``sv`` that a seal's statement can put into its JSON as they
    are: those with TEXT affinity, which hold no REAL (SQLite stores a number written there
    as text), so NULL, TEXT or BLOB, and json_array refuses a BLOB (the statement then fails
    with :data:`UNSCALED`, as at a REAL to scale). The affinity is the history table's own,
    read from SQLite. None on an SQLite whose json_array takes BLOBs."""
    if not _BLOB_REFUSED:
        return frozenset()
    cursor = conn.cursor()
    cursor.row_factory = None
    rows = cursor.execute(f"PRAGMA main.table_info({quote(sv.hist)})").fetchall()
    return frozenset(name for _, name, decl, *_ in rows if affinity(decl) == "TEXT")


def row_json(
    sv: SchemaVersion,
    *,
    scaled: bool = True,
    fresh: bool = False,
    text: Set[str] = frozenset(),
) -> str:
    """SQL for one version's canonical JSON, with the columns ``sv`` had.

    ``fresh``: for versions the open transaction's triggers just wrote, whose op they
    always write as TEXT, so it goes in as it is (the same JSON, one CASE less a version).
    ``text``: history columns that go in as they are when not ``scaled`` (see
    :func:`text_columns`).
    """
    cols = ([ROWID_KEY] if sv.keys == (ROWID_KEY,) else []) + [c.hist for c in sv.columns]
    op = OP if fresh else _value(OP, scaled=scaled)
    values = [_value(c, scaled=scaled, text=c in text) for c in cols]
    return "json_array(" + ", ".join([op, *values]) + ")"


def digest_of(text: str | None) -> bytes:
    return hashlib.sha256((text or "[]").encode()).digest()


def shape_at(catalog: Catalog, table_id: int, tx: int) -> SchemaVersion | None:
    """The shape whose columns encode ``table_id``'s versions written by ``tx``."""
    versions = catalog.versions_of(table_id)
    for v in versions:
        if v.covers_tx(tx):
            return v
    for v in versions:  # dropped by this very transaction
        if v.to_tx == tx:
            return v
    return None


def one_version(sv: SchemaVersion, text: Set[str] = frozenset()) -> str:
    """An UPDATE that puts ``LEAF_OF_ONE(json)`` (the ledger's function, see
    ``Ledger._seal_one``) on the last version in ``sv``'s history, if transaction ``?1``
    wrote it, ``json`` being that version's canonical JSON; it raises :data:`UNSCALED` at a
    REAL that needs scaling, or at a BLOB in one of the ``text`` columns
    (:func:`text_columns`)."""
    h = qualified(sv.hist)
    json = row_json(sv, scaled=False, fresh=True, text=text)
    return (
        f"UPDATE {h} SET {LEAF} = {LEAF_OF_ONE}({json}) "
        f"WHERE {SEQ} = (SELECT max({SEQ}) FROM {h}) AND {TX} = ?1"
    )


def seal_statement(
    catalog: Catalog,
    tx: int,
    *,
    newest: bool = False,
    only: Set[int] | None = None,
    scaled: bool = True,
    conn: sqlite3.Connection | None = None,
) -> str | None:
    """One statement giving (table_id, versions, json, last) for every table ``tx`` wrote:
    ``last`` is the position (``_chrono_seq``) of its last version there. Not ``scaled``, it
    raises :data:`UNSCALED` at a REAL that needs scaling; given ``conn`` as well, it puts
    TEXT columns in as they are and raises so at a BLOB in one (see :func:`text_columns`).

    ``only``: look at these tables alone (by table id), not at every table.

    Its versions are one range of history rows (history order is transaction order). For
    the transaction being sealed (``newest``) that range is the tail of each table, within
    the last ``?2`` rows (?2: rows the transaction changed, which bounds the versions it
    wrote); for an earlier one it is found by binary search. Reading every table, one whose
    last version is another transaction's is passed over with one seek, not a scan of up
    to ``?2`` rows; the tables in ``only`` were written to, so they go without that test.
    """
    parts = []
    for table_id in sorted({v.table_id for v in catalog.versions}):
        if only is not None and table_id not in only:
            continue
        sv = shape_at(catalog, table_id, tx)
        if sv is None:
            continue
        h = qualified(sv.hist)
        if newest:
            where = f"{SEQ} > (SELECT max({SEQ}) FROM {h}) - ?2 AND {TX} = ?1"
            if only is None:
                where = f"(SELECT {TX} FROM {h} ORDER BY {SEQ} DESC LIMIT 1) = ?1 AND {where}"
        else:
            where = (
                f"{SEQ} >= {seq_after(h, '?1 - 1')} AND {SEQ} < {seq_after(h, '?1')} AND {TX} = ?1"
            )
        text = text_columns(conn, sv) if conn is not None and not scaled else frozenset()
        parts.append(
            f"SELECT {table_id}, count(*), "
            f"json_group_array({row_json(sv, scaled=scaled, fresh=newest, text=text)}), "
            f"max({SEQ}) FROM {h} WHERE {where}"
        )
    return " UNION ALL ".join(parts) if parts else None


def edge(versions: list[SchemaVersion]) -> int:
    """The newest transaction at which a shape of ``versions`` begins or ends: every newer
    one sees each table's open shape."""
    return max((max(v.from_tx, v.to_tx or 0) for v in versions), default=0)


Statements = tuple[str | None, str | None]
"""The seal's statement without scaling, and with it (see :data:`UNSCALED`)."""


def _seal_statements(
    conn: sqlite3.Connection, catalog: Catalog, tx: int, only: Set[int] | None
) -> Statements:
    fast = seal_statement(catalog, tx, newest=True, only=only, scaled=False, conn=conn)
    return fast, seal_statement(catalog, tx, newest=True, only=only)


class _NewTxStatement:
    """:func:`seal_statement` for transactions newer than every catalog boundary.

    Such a transaction sees each table's open shape, so the statements are the same for
    all of them until the catalog is reloaded (a new ``catalog.versions`` list): building
    them costs more than running them, and every autocommit write seals one transaction.
    The state is one tuple, swapped whole, so databases on other threads cannot mix it up;
    its dict holds the statements for subsets of the tables (``only``), built as they are
    met.
    """

    state: tuple[list[SchemaVersion], int, dict[frozenset[int] | None, Statements]] | None = None

    def get(
        self,
        conn: sqlite3.Connection,
        catalog: Catalog,
        tx: int,
        only: frozenset[int] | None = None,
    ) -> Statements:
        state = self.state
        if state is None or state[0] is not catalog.versions:
            state = (catalog.versions, edge(catalog.versions), {})
            self.state = state
        if tx <= state[1]:
            return _seal_statements(conn, catalog, tx, only)
        statements = state[2]
        found = statements.get(only)
        if found is None:
            if len(statements) > 256:
                statements.clear()
            found = statements[only] = _seal_statements(conn, catalog, state[1] + 1, only)
        return found


_latest = _NewTxStatement()


def table_digests(
    conn: sqlite3.Connection, catalog: Catalog, tx: int
) -> list[tuple[int, int, bytes]]:
    """(table_id, versions, digest) for each table that ``tx`` wrote versions to."""
    return [row[:3] for row in _digests(conn, (seal_statement(catalog, tx), None), (tx,))]


def newest_digests(
    conn: sqlite3.Connection,
    catalog: Catalog,
    tx: int,
    written: int,
    only: Set[int] | None = None,
    versions: int | None = None,
) -> list[tuple[int, int, bytes, int]]:
    """(table_id, versions, digest, last) for each table that the open transaction ``tx``
    wrote versions to, ``last`` being the position of its last version there.

    ``written``: the number of rows ``tx`` changed so far (``total_changes`` since it
    began). It looks at every table
    (one empty part per table: the cost of an autocommit write would grow with the number
    of tables), unless told which tables its statements named (``only``) and how many
    history writes its triggers made (``versions``: rows changed minus the statements' own).
    Every history write adds one version or rewrites one of the same transaction, so finding
    that many versions in those tables proves there are none elsewhere; finding fewer (a
    trigger or foreign key wrote elsewhere, or a row changed twice) falls back to them all.
    """
    if only is not None and versions is not None:
        # Each of its versions was a history write counted in ``versions``, so in each of
        # those tables they are among the last ``versions`` rows: the tail is read no
        # further (``written`` also counts the statements' own rows, as many again).
        key = only if isinstance(only, frozenset) else frozenset(only)
        found = _digests(conn, _latest.get(conn, catalog, tx, key), (tx, versions))
        if sum(row[1] for row in found) == versions:
            return found
    return _digests(conn, _latest.get(conn, catalog, tx), (tx, written))


def _digests(
    conn: sqlite3.Connection, statements: Statements, args: tuple[int, ...]
) -> list[tuple[int, int, bytes, int]]:
    """Run the first statement of ``statements``; the second, if there is one, when the
    first meets a REAL to scale."""
    sql, exact = statements
    if sql is None:
        return []
    cursor = conn.cursor()
    cursor.row_factory = None
    try:
        rows = cursor.execute(sql, args).fetchall()
    except UNSCALED:
        if exact is None:
            raise
        rows = cursor.execute(exact, args).fetchall()
    return [
        (table_id, count, digest_of(text), last) for table_id, count, text, last in rows if count
    ]


def scan(conn: sqlite3.Connection, catalog: Catalog) -> Iterator[tuple[int, int, int, bytes]]:
    """(tx_id, table_id, versions, digest) for every transaction of every history table.

    Rows are read in history order, one span of each table's shapes at a time, and grouped
    here: a transaction whose versions are not contiguous (rows moved or inserted behind
    ChronoDB's back) yields more than one group, which verification reports.
    """
    for table_id in sorted({v.table_id for v in catalog.versions}):
        shapes = catalog.versions_of(table_id)
        hist = qualified(shapes[0].hist)
        for i, sv in enumerate(shapes):
            lo = 0 if i == 0 else sv.from_tx
            hi = shapes[i + 1].from_tx if i + 1 < len(shapes) else None
            if sv.to_tx is not None and i + 1 == len(shapes):
                hi = sv.to_tx + 1  # rows of the dropping transaction itself
            # Every row falls in exactly one span's range, whatever its _chrono_tx says.
            bounds: list[str] = []
            args: list[int] = []
            if i > 0:
                bounds.append(f"{SEQ} >= {seq_after(hist, f'?{len(args) + 1}')}")
                args.append(lo - 1)
            if hi is not None and i + 1 < len(shapes):
                bounds.append(f"{SEQ} < {seq_after(hist, f'?{len(args) + 1}')}")
                args.append(hi - 1)
            where = ("WHERE " + " AND ".join(bounds)) if bounds else ""
            sql = f"SELECT {TX}, {row_json(sv)} FROM {hist} {where} ORDER BY {SEQ}"
            cursor = conn.cursor()
            cursor.row_factory = None  # plain tuples: this reads every version in the file
            yield from _grouped(cursor.execute(sql, args), table_id)


def _grouped(
    rows: Iterable[tuple[int, str]], table_id: int
) -> Iterator[tuple[int, int, int, bytes]]:
    """Consecutive versions of one transaction, as (tx_id, table_id, versions, digest)."""
    for tx, group in groupby(rows, key=itemgetter(0)):
        texts = [text for _, text in group]
        yield tx, table_id, len(texts), digest_of("[" + ",".join(texts) + "]")
