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

Every function returns SQL text for a table subquery with the table's columns; a point is
an SQL expression (a literal or a placeholder) given once. A point is bounded by the
reader's horizon (``install.horizon``, taken before the reader's snapshot, or
``bounds.expression``, taken inside the statement and checked against its snapshot):
transactions can become visible out of id order while they flush, and the horizon is the
last id below which none is still missing.
"""

from __future__ import annotations

from chronodb.postgres.install import qualified
from chronodb.postgres.names import (
    CHANGED_KEYS,
    FROM,
    LOW,
    NEXT,
    OP,
    PENDING,
    PENDING_SETTING,
    POINT,
    SEQ,
    TO,
    TX,
    TX_TABLE,
    XID,
    changed_of,
    key_list,
    quote,
)
from chronodb.postgres.tables import Versioned

PERIOD = ("sys_from", "sys_to")  # the columns a range of versions adds, in seconds


def _bounded(horizon: str | None, tx_id: str = "tx_id") -> str:
    return "" if horizon is None else f" AND {tx_id} <= {horizon}"


def point_at_tx(v: Versioned, tx: str, horizon: str | None = None) -> str:
    """The point AS OF TRANSACTION ``tx``: the newest committed id <= it (and <= the
    ``horizon``, an SQL expression, if given), and its seq_hi."""
    return (
        f"SELECT tx_id AS n, seq_hi AS b FROM {qualified(v.schema, TX_TABLE)} "
        f"WHERE tx_id <= {tx}{_bounded(horizon)} ORDER BY tx_id DESC LIMIT 1"
    )


def point_at_time(v: Versioned, micros: str, horizon: str | None = None) -> str:
    """The point AS OF a time (µs since the epoch): the last transaction at or before it
    (and at or before the ``horizon``, if given).

    Times increase with ids, so the newest by time is the newest by id.
    """
    return (
        f"SELECT tx_id AS n, seq_hi AS b FROM {qualified(v.schema, TX_TABLE)} "
        f"WHERE tx_time <= {micros}{_bounded(horizon)} ORDER BY tx_time DESC LIMIT 1"
    )


def _newest(v: Versioned, match: str) -> str:
    """The newest version matching ``match`` (on alias ``h``) visible at point ``p``."""
    h = qualified(v.schema, v.hist)
    tx = qualified(v.schema, TX_TABLE)
    return (
        f"SELECT h.* FROM {h} AS h JOIN {tx} AS x ON x.xid = h.{XID} "
        f"WHERE {match} AND h.{SEQ} <= p.b AND x.tx_id <= p.n "
        f"ORDER BY h.{SEQ} DESC LIMIT 1"
    )


def _select(v: Versioned, alias: str) -> str:
    """The columns of ``alias``, a row of the table itself."""
    return ", ".join(f"{alias}.{quote(c)}" for c in v.columns)


def _stored(v: Versioned, alias: str) -> str:
    """The columns of ``alias``, a history row, named as the table's."""
    if not v.stored:
        return _select(v, alias)
    return ", ".join(
        f"{alias}.{quote(h)} AS {quote(c)}" for c, h in zip(v.columns, v.stored, strict=True)
    )


def as_of(v: Versioned, point: str, *, writer: bool = True) -> str:
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
    tx = qualified(v.schema, TX_TABLE)
    same_key = " AND ".join(f"c.{quote(k)} = t.{quote(k)}" for k in v.keys)
    seek_key = " AND ".join(f"h.{quote(v.stored_of(k))} = c.{quote(k)}" for k in v.keys)
    # The open transaction's pending row, by ctid ('' or unset when it wrote nothing).
    own = (
        f"(SELECT q.seq_lo FROM {qualified(v.schema, PENDING)} AS q "
        f"WHERE q.ctid = nullif(current_setting('{PENDING_SETTING}', true), '')::tid)"
    )
    later = f"(SELECT min(t.seq_lo) FROM {tx} AS t WHERE t.tx_id > p.n)"
    changed = qualified(v.schema, changed_of(v.hist))
    return (
        f"(WITH {POINT} AS ({point}), "
        f"{LOW} AS (SELECT least(p.b + 1, {later}{', ' + own if writer else ''}) AS lo "
        f"FROM {POINT} AS p), "
        f"{CHANGED_KEYS} AS (SELECT * FROM {changed}((SELECT lo FROM {LOW}))) "
        f"SELECT {_select(v, 't')} FROM {qualified(v.schema, v.table)} AS t "
        f"WHERE EXISTS (SELECT FROM {POINT}) "
        f"AND NOT EXISTS (SELECT FROM {CHANGED_KEYS} AS c WHERE {same_key}) "
        f"UNION ALL SELECT {_stored(v, 'v')} FROM {POINT} AS p CROSS JOIN {CHANGED_KEYS} AS c "
        f"CROSS JOIN LATERAL ({_newest(v, seek_key)}) AS v WHERE v.{OP} <> 'D')"
    )


def as_of_history(v: Versioned, point: str) -> str:
    """``v``'s rows at ``point``, from one pass over its history (no current rows read).

    Each key's newest committed version at or before the point, by ``DISTINCT ON`` over
    history: for a point before most of the changes, where :func:`as_of` would seek most
    keys one by one, a scan and a sort cost less.
    """
    h = qualified(v.schema, v.hist)
    tx = qualified(v.schema, TX_TABLE)
    keys = key_list(v.history_keys, "h")
    return (
        f"(SELECT {_stored(v, 's')} FROM (SELECT DISTINCT ON ({keys}) h.* "
        f"FROM ({point}) AS p, {h} AS h JOIN {tx} AS x ON x.xid = h.{XID} "
        f"WHERE h.{SEQ} <= p.b AND x.tx_id <= p.n ORDER BY {keys}, h.{SEQ} DESC) AS s "
        f"WHERE s.{OP} <> 'D')"
    )


def as_of_key(v: Versioned, point: str, key: list[str]) -> str:
    """The row of ``v`` with key ``key`` (SQL expressions, in key order) at ``point``: one
    seek, for a query that fixes the whole key (``WHERE id = %s``)."""
    match = " AND ".join(
        f"h.{quote(k)} = {ref}" for k, ref in zip(v.history_keys, key, strict=True)
    )
    return (
        f"(SELECT {_stored(v, 'v')} FROM ({point}) AS p "
        f"CROSS JOIN LATERAL ({_newest(v, match)}) AS v WHERE v.{OP} <> 'D')"
    )


def versions(
    v: Versioned,
    condition: str = "true",
    horizon: str | None = None,
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
    h = qualified(v.schema, v.hist)
    tx = qualified(v.schema, TX_TABLE)
    keys = key_list(v.history_keys, "h")
    window = f"OVER (PARTITION BY {keys} ORDER BY h.{SEQ})"
    end, next_tx, before = f"lead(x.tx_time) {window}", f"lead(x.tx_id) {window}", ""
    if until is not None:
        end, next_tx = f"coalesce({end}, {until[1]})", f"coalesce({next_tx}, {until[0]})"
        before = f" AND x.tx_id < {until[0]}"
    return (
        f"(SELECT {_stored(v, 'w')}, w.{FROM} / 1e6::float8 AS {PERIOD[0]}, "
        f"w.{TO} / 1e6::float8 AS {PERIOD[1]} FROM ("
        f"SELECT h.*, x.tx_id AS {TX}, x.tx_time AS {FROM}, "
        f"{end} AS {TO}, {next_tx} AS {NEXT} "
        f"FROM {h} AS h JOIN {tx} AS x ON x.xid = h.{XID}{_bounded(horizon, 'x.tx_id')}"
        f"{before}) AS w "
        f"WHERE w.{OP} <> 'D' AND w.{NEXT} IS DISTINCT FROM w.{TX} "
        f"AND ({condition}))"
    )


def range_condition(kind: str, lo: str | None = None, hi: str | None = None) -> str:
    """SQL:2011 period predicates (``FOR SYSTEM_TIME ALL``, ``BETWEEN``, ``FROM … TO``,
    ``CONTAINED IN``) on microsecond bounds, for :func:`versions`."""
    end_after = f"(w.{TO} IS NULL OR w.{TO} > {lo})"
    if kind == "ALL":
        return "true"
    if kind == "BETWEEN":
        return f"w.{FROM} <= {hi} AND {end_after}"
    if kind == "FROM":
        return f"w.{FROM} < {hi} AND {end_after}"
    if kind == "CONTAINED IN":
        return f"w.{FROM} >= {lo} AND w.{TO} IS NOT NULL AND w.{TO} <= {hi}"
    raise ValueError(f"unknown period predicate: {kind}")
