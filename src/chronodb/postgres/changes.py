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
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from chronodb.postgres.install import qualified
from chronodb.postgres.names import OP, PREFIX, SEQ, TX, TX_TABLE, XID, key_list, quote
from chronodb.postgres.tables import Versioned

AT = f"{PREFIX}at"  # in the SQL: a change's transaction time (µs)
WHO = f"{PREFIX}who"  # and its user
LEAF = f"{PREFIX}leaf"  # and its ledger leaf


def _value(c: str) -> str:
    """A column's value as JSON text, whatever its type (each branch compiles for any)."""
    return (
        f"CASE WHEN {c} IS NULL THEN 'null' "
        f"WHEN pg_typeof({c}) = 'bytea'::regtype "
        f"""THEN '{{"$hex":"' || upper(encode({c}::text::bytea, 'hex')) || '"}}' """
        f"WHEN pg_typeof({c}) IN ('double precision'::regtype, 'real'::regtype) "
        f"AND {c}::text IN ('Infinity', '-Infinity', 'NaN') "
        f"THEN CASE {c}::text WHEN 'Infinity' THEN '9e999' WHEN '-Infinity' THEN '-9e999' "
        f"ELSE 'null' END ELSE to_json({c})::text END"
    )


def _object(columns: Sequence[tuple[str, str]], alias: str) -> str:
    """History row ``alias`` as a JSON object of ``columns`` (name, history column), without
    spaces (as SQLite writes it)."""
    pairs = " || ',' || ".join(
        f"{_literal(_json_string(c))} || ':' || {_value(f'{alias}.{quote(h)}')}" for c, h in columns
    )
    return f"('{{' || {pairs} || '}}')" if columns else "'{}'"


def _json_string(text: str) -> str:
    """``text`` as a JSON string (the column names are known when the SQL is built)."""
    return json.dumps(text, ensure_ascii=False, separators=(",", ":"))


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def changes(v: Versioned, lo: str, hi: str, horizon: str) -> str:
    """The changes to ``v`` by the transactions with times in ``(lo, hi]`` (µs; SQL
    expressions) and ids up to ``horizon``, in commit order, as a table subquery."""
    h = qualified(v.schema, v.hist)
    tx = qualified(v.schema, TX_TABLE)
    stored = v.history_keys  # history's name of each key column: a renamed one keeps its old
    keys = key_list(stored, "h")
    columns = list(zip(v.columns, v.history_columns, strict=True))
    named = ", ".join(f"c.{quote(h)} AS {quote(k)}" for k, h in zip(v.keys, stored, strict=True))
    span = f"FROM {tx} AS r WHERE r.tx_time > {lo} AND r.tx_time <= {hi} AND r.tx_id <= {horizon}"
    same_key = " AND ".join(f"q.{quote(k)} = c.{quote(k)}" for k in stored)
    alive = f"(p.{OP} IS NOT NULL AND p.{OP} <> 'D')"
    return (
        f"(SELECT CASE WHEN c.{OP} = 'D' THEN 'DELETE' WHEN {alive} THEN 'UPDATE' "
        f"ELSE 'INSERT' END AS operation, c.{TX} AS tx_id, c.{AT} / 1e6::float8 AS tx_time, "
        f'c.{WHO} AS "user", {named}, '
        f"CASE WHEN {alive} THEN {_object(columns, 'p')} END AS before, "
        f"CASE WHEN c.{OP} <> 'D' THEN {_object(columns, 'c')} END AS after "
        f"FROM (SELECT DISTINCT ON ({keys}, x.tx_id) h.*, x.tx_id AS {TX}, x.tx_time AS {AT}, "
        f'x."user" AS {WHO} FROM {h} AS h JOIN {tx} AS x ON x.xid = h.{XID} '
        f"WHERE h.{SEQ} >= (SELECT min(r.seq_lo) {span}) "
        f"AND h.{SEQ} <= (SELECT max(r.seq_hi) {span}) "
        f"AND x.tx_time > {lo} AND x.tx_time <= {hi} AND x.tx_id <= {horizon} "
        f"ORDER BY {keys}, x.tx_id, h.{SEQ} DESC) AS c "
        f"LEFT JOIN LATERAL (SELECT q.* FROM {h} AS q JOIN {tx} AS y ON y.xid = q.{XID} "
        f"WHERE {same_key} AND q.{SEQ} < c.{SEQ} AND y.tx_id < c.{TX} "
        f"ORDER BY q.{SEQ} DESC LIMIT 1) AS p ON true "
        f"WHERE NOT (c.{OP} = 'D' AND NOT {alive}) "
        f"ORDER BY c.{TX}, c.{SEQ}, {key_list(stored, 'c')})"
    )


def by_transactions(v: Versioned, stored: Sequence[str]) -> str:
    """The changes to ``v`` by the transactions with ids in ``(%(lo)s, %(hi)s]``, in commit
    order, as rows: the history columns ``stored`` of the change's version (a transaction's
    last per key), its op, tx_id, tx_time (µs), user and leaf, then the same ``stored``
    columns of the key's previous version (the newest by another transaction: writers of a
    key are serialised by its row lock), its op and its tx_id (NULLs if there is none).

    The change feed reads it for the transactions after a subscriber's position, and the
    facade's ``changes`` for those of a period; each names the columns as it needs."""
    h = qualified(v.schema, v.hist)
    tx = qualified(v.schema, TX_TABLE)
    keys = key_list(v.history_keys, "h")
    same_key = " AND ".join(f"q.{quote(k)} = c.{quote(k)}" for k in v.history_keys)

    def cols(alias: str) -> str:
        return ", ".join(f"{alias}.{quote(c)}" for c in stored)

    return (
        f'WITH x AS MATERIALIZED (SELECT tx_id, xid, tx_time, "user", seq_lo, seq_hi, leaf '
        f"FROM {tx} WHERE tx_id > %(lo)s AND tx_id <= %(hi)s) "
        f"SELECT {cols('c')}, c.{OP}, c.{TX}, c.{AT}, c.{WHO}, c.{LEAF}, "
        f"{cols('p')}, p.{OP}, p.{TX} FROM ("
        f"SELECT DISTINCT ON (x.tx_id, {keys}) h.*, x.tx_id AS {TX}, x.tx_time AS {AT}, "
        f'x."user" AS {WHO}, x.leaf AS {LEAF} '
        f"FROM {h} AS h JOIN x ON x.xid = h.{XID} "
        f"WHERE h.{SEQ} >= (SELECT min(seq_lo) FROM x) AND h.{SEQ} <= (SELECT max(seq_hi) FROM x) "
        f"ORDER BY x.tx_id, {keys}, h.{SEQ} DESC) AS c "
        f"LEFT JOIN LATERAL (SELECT q.*, y.tx_id AS {TX} FROM {h} AS q "
        f"JOIN {tx} AS y ON y.xid = q.{XID} "
        f"WHERE {same_key} AND q.{SEQ} < c.{SEQ} AND q.{XID} <> c.{XID} "
        f"ORDER BY q.{SEQ} DESC LIMIT 1) AS p ON true "
        f"ORDER BY c.{TX}, c.{SEQ}"
    )
