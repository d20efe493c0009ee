"""Trimming history on PostgreSQL (pruning, erasure), and checking it against the tables.

Both trims run inside the caller's open transaction, which becomes a write transaction of
its own kind ("PRUNE", "ERASE"): it queues the commit step, which gives it an id and seals
its leaf with the amendments it noted (``amendments.py``), so verification still passes and
proofs of the transactions it amended still verify. Trims take :data:`MAINTAIN_LOCK` until
their transaction ends, one at a time; writers never wait for it. They remove only versions
of committed transactions at or below the horizon, which no writer touches again; a key's
row lock orders an erasure with the writers of that key.

Pruning keeps, as on SQLite, everything AS OF the cut or later needs: of each key's versions
written by transactions at or before the cut, the newest (unless it is a tombstone), and
every later one. The oldest surviving version of a key then reads as its insert.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import psycopg

from chronodb.postgres import amendments
from chronodb.postgres.install import horizon, queue_commit
from chronodb.postgres.ledger import renote
from chronodb.postgres.names import (
    CATALOG,
    ERASURES,
    KINDS_SETTING,
    MAINTAIN_LOCK,
    OP,
    SEQ,
    SEQ_NEXT,
    TX_TABLE,
    USER_SETTING,
    XID,
    key_list,
    qualified,
    quote,
)
from chronodb.postgres.rows import one
from chronodb.postgres.tables import Versioned, lookup
from chronodb.versioning.integrity import times_out_of_order


def _setting(conn: psycopg.Connection, name: str) -> str:
    row = conn.execute("SELECT coalesce(current_setting(%s, true), '')", (name,)).fetchone()
    return row[0] if row is not None else ""


def _queue(conn: psycopg.Connection, schema: str, kinds: str, kind: str) -> None:
    """Make the open transaction a write transaction of kinds ``kinds`` and then ``kind``:
    queue its commit step, if its writes have not yet."""
    listed = [k for k in kinds.split(",") if k]
    if kind not in listed:
        listed.append(kind)
    conn.execute("SELECT set_config(%s, %s, true)", (KINDS_SETTING, ",".join(listed)))
    # Last: under SET CONSTRAINTS ALL IMMEDIATE, queuing runs the commit step at once.
    seq = f"nextval('{qualified(schema, SEQ_NEXT)}')"
    conn.execute(
        f"DO $queue$ DECLARE queued text; BEGIN {queue_commit(schema, 'queued', seq)}; END $queue$"
    )


def _ranked(schema: str, hist: str, keys: Sequence[str]) -> str:
    """The versions of transactions at or before ``%(cut)s`` in ``hist``: ctid ``c``,
    tx_id ``t``, xid ``x``, op ``o``, and ``r``, 1 for each key's newest, counting back."""
    return (
        f"SELECT h.ctid AS c, x.tx_id AS t, h.{XID} AS x, h.{OP} AS o, row_number() OVER "
        f"(PARTITION BY {key_list(keys, 'h')} ORDER BY h.{SEQ} DESC) AS r "
        f"FROM {qualified(schema, hist)} AS h JOIN {qualified(schema, TX_TABLE)} AS x "
        f"ON x.xid = h.{XID} WHERE x.tx_id <= %(cut)s"
    )


def prune(conn: psycopg.Connection, schema: str, older_than: int, *, force: bool = False) -> int:
    """Remove the versions AS OF ``older_than`` (µs) and later do not need; returns how many.

    The cut is the newest transaction at or before ``older_than`` (and the horizon).
    Raises AuditError, before removing anything, if a transaction whose versions would
    change no longer matches the ledger, unless ``force``.
    """
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (MAINTAIN_LOCK,))
    bound = horizon(conn, schema)
    row = conn.execute(
        f"SELECT max(tx_id) FROM {qualified(schema, TX_TABLE)} WHERE tx_time <= %s AND tx_id <= %s",
        (older_than, bound),
    ).fetchone()
    if row is None or row[0] is None:
        return 0
    cut = {"cut": row[0]}
    tables = [
        (v.number, v.hist, v.history_keys)
        for (name,) in conn.execute(
            f"SELECT table_name FROM {qualified(schema, CATALOG)} ORDER BY number"
        ).fetchall()
        if (v := lookup(conn, name, schema)) is not None
    ]
    # What changes: versions that go (not a key's newest, or a tombstone) and each key's
    # newest, an update, which becomes its first (rewritten as an insert).
    touched: dict[int, set[int]] = {}
    xids: dict[int, str] = {}
    for number, hist, keys in tables:
        for tx, xid in conn.execute(
            f"SELECT DISTINCT v.t, v.x::text FROM ({_ranked(schema, hist, keys)}) AS v "
            "WHERE v.r > 1 OR v.o <> 'I'",
            cut,
        ):
            touched.setdefault(tx, set()).add(number)
            xids[tx] = xid
    if not touched:
        return 0
    if not force:
        amendments.check_unchanged(conn, schema, xids)
    removed = 0
    changed = set().union(*touched.values())
    for number, hist, keys in tables:
        if number not in changed:
            continue
        h = qualified(schema, hist)
        ranked = _ranked(schema, hist, keys)
        conn.execute(
            f"UPDATE {h} AS h SET {OP} = 'I' FROM ({ranked}) AS v "
            "WHERE h.ctid = v.c AND v.r = 1 AND v.o = 'U'",
            cut,
        )
        deleted = conn.execute(
            f"DELETE FROM {h} AS h USING ({ranked}) AS v "
            "WHERE h.ctid = v.c AND (v.r > 1 OR v.o = 'D')",
            cut,
        )
        removed += max(deleted.rowcount, 0)
    amendments.record(conn, schema, touched, xids)
    _queue(conn, schema, _setting(conn, KINDS_SETTING), "PRUNE")
    return removed


def erase(
    conn: psycopg.Connection,
    v: Versioned,
    key: Sequence[Any],
    reason: str | None = None,
    *,
    force: bool = False,
) -> int:
    """Remove the row of ``v`` with ``key`` (values in key order) and every version of it;
    record that (not what) it was erased. Returns how many versions went.

    Raises AuditError, before removing anything, if a transaction that wrote the row no
    longer matches the ledger, unless ``force``.
    """
    schema = v.schema
    table, hist = qualified(schema, v.table), qualified(schema, v.hist)
    match = " AND ".join(f"h.{quote(k)} = %s" for k in v.keys)
    # History names a key column as it was first versioned: a renamed one keeps its old name.
    past = " AND ".join(f"h.{quote(k)} = %s" for k in v.history_keys)
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (MAINTAIN_LOCK,))
    # The row's lock first: a writer of the row finishes before its history is read.
    conn.execute(f"SELECT FROM {table} AS h WHERE {match} FOR UPDATE", key)
    found = conn.execute(
        f"SELECT x.tx_id, h.{XID}::text, count(*) FROM {hist} AS h "
        f"LEFT JOIN {qualified(schema, TX_TABLE)} AS x ON x.xid = h.{XID} "
        f"WHERE {past} GROUP BY 1, 2",
        key,
    ).fetchall()
    removed = sum(count for _, _, count in found)
    xids = {tx: xid for tx, xid, _ in found if tx is not None}
    if not force:
        amendments.check_unchanged(conn, schema, xids)
    kinds = _setting(conn, KINDS_SETTING)
    # Its delete trigger writes a tombstone (and queues the commit step): it goes too.
    conn.execute(f"DELETE FROM {table} AS h WHERE {match}", key)
    conn.execute(f"DELETE FROM {hist} AS h WHERE {past}", key)
    renote(conn, schema, v.number, v.hist)  # its own versions of the row went too
    who = f"coalesce(nullif(current_setting('{USER_SETTING}', true), ''), current_user)"
    conn.execute(
        f'INSERT INTO {qualified(schema, ERASURES)} (table_name, row_key, versions, xid, "user", '
        f"reason) VALUES (%s, %s, %s, pg_current_xact_id(), {who}, %s)",
        (v.table, json.dumps(list(key), default=str), removed, reason),
    )
    amendments.record(conn, schema, {tx: {v.number} for tx in xids}, xids)
    _queue(conn, schema, kinds, "ERASE")
    return removed


def check(conn: psycopg.Connection, schema: str) -> list[str]:
    """Problems where history and the tables disagree, one sentence each, in SQLite's
    wording (``versioning/integrity.py``); empty when they agree. Run it in one snapshot.

    Checks that transaction times increase with ids, that every version names a recorded
    transaction (the open transaction's own excepted), that along each key history order is
    transaction order, and that each table's rows equal, exactly (byte images), the newest
    version of each key.
    """
    problems = times_out_of_order(conn, qualified(schema, TX_TABLE))
    catalog = conn.execute(
        f"SELECT table_name, hist, keys FROM {qualified(schema, CATALOG)} ORDER BY number"
    ).fetchall()
    for table, hist, keys in catalog:
        exist = conn.execute(
            "SELECT to_regclass(%s) IS NOT NULL AND to_regclass(%s) IS NOT NULL",
            (qualified(schema, table), qualified(schema, hist)),
        ).fetchone()
        if not (exist and exist[0]):
            problems.append(f"{table}: table or its history table {hist} is missing")
            continue
        problems += _check_table(conn, schema, table, hist, keys)
    return problems


def _check_table(
    conn: psycopg.Connection, schema: str, table: str, hist: str, keys: Sequence[str]
) -> list[str]:
    problems: list[str] = []
    versioned = lookup(conn, table, schema)
    if versioned is None:
        return [f"{table}: not a versioned table any more"]
    # History names a column as it was first versioned: a renamed one keeps its old name.
    keys = versioned.history_keys
    h, t = qualified(schema, hist), qualified(schema, table)
    tx_table = qualified(schema, TX_TABLE)
    dangling = conn.execute(
        f"SELECT count(*), min(h.{XID}::text::numeric)::text FROM {h} AS h "
        f"WHERE NOT EXISTS (SELECT FROM {tx_table} AS x WHERE x.xid = h.{XID}) "
        f"AND h.{XID} IS DISTINCT FROM pg_current_xact_id_if_assigned()"
    ).fetchone()
    if dangling is not None and dangling[0]:
        problems.append(
            f"{hist}: {dangling[0]} version(s) name missing transactions (first xid {dangling[1]})"
        )
    disorder = conn.execute(
        f"SELECT s, t, prev FROM (SELECT h.{SEQ} AS s, x.tx_id AS t, lag(x.tx_id) OVER "
        f"(PARTITION BY {key_list(keys, 'h')} ORDER BY h.{SEQ}) AS prev FROM {h} AS h "
        f"JOIN {tx_table} AS x ON x.xid = h.{XID}) AS w WHERE t < prev ORDER BY s LIMIT 1"
    ).fetchone()
    if disorder is not None:
        problems.append(
            f"{hist}: the version at position {disorder[0]} (transaction {disorder[1]}) "
            f"comes after one of transaction {disorder[2]}: history is out of order"
        )
    same_key = " AND ".join(
        f"n.{quote(h)} = c.{quote(k)}" for h, k in zip(keys, versioned.keys, strict=True)
    )
    now, past = key_list(versioned.columns, "c"), key_list(versioned.history_columns, "n")
    exact = f"record_image_eq(ROW({past}), ROW({now}))"
    newest = (
        f"SELECT * FROM (SELECT DISTINCT ON ({key_list(keys, 'h')}) h.* FROM {h} AS h "
        f"ORDER BY {key_list(keys, 'h')}, h.{SEQ} DESC) AS l WHERE l.{OP} <> 'D'"
    )
    only_now, only_past, count_now, count_past = one(
        conn.execute(
            f"WITH n AS MATERIALIZED ({newest}) SELECT "
            f"(SELECT count(*) FROM {t} AS c WHERE NOT EXISTS "
            f"(SELECT FROM n WHERE {same_key} AND {exact})), "
            f"(SELECT count(*) FROM n WHERE NOT EXISTS "
            f"(SELECT FROM {t} AS c WHERE {same_key} AND {exact})), "
            f"(SELECT count(*) FROM {t}), (SELECT count(*) FROM n)"
        )
    )
    if only_now or only_past or count_now != count_past:
        problems.append(
            f"{table}: current rows differ from history AS OF the latest transaction "
            f"({only_now} row(s) only in the table, {only_past} only in history, "
            f"{count_now} vs {count_past} rows)"
        )
    return problems
