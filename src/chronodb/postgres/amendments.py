"""Amendments on PostgreSQL: the new digests pruning and erasure record in the ledger.

Removing versions changes what an earlier transaction's versions digest to. The removing
transaction records, for each (transaction, table) whose versions changed, the digest of
what is left (``audit/leaf.py``'s ``Amendment``: versions 0 and the digest of ``[]`` when
none is); verification then expects the latest amendment instead of the leaf's own entry,
as on SQLite. The amendments are noted in a transaction-local setting
(:data:`~chronodb.postgres.names.AMENDS_SETTING`: the hex of the leaf's amendments section)
which the commit step's seal ends the leaf with (``ledger.py``).

Before removing anything, :func:`check_unchanged` refuses if a transaction about to be
amended no longer matches the ledger: amending tampered rows would write the tampering in.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping

import psycopg

from chronodb.audit.digests import EMPTY
from chronodb.audit.leaf import Amendment, Leaf
from chronodb.errors import AuditError
from chronodb.postgres import shapes
from chronodb.postgres.digests import FIXED_SETTINGS, scan_sql
from chronodb.postgres.names import AMENDS_SETTING, TX_TABLE, qualified

KINDS = ("PRUNE", "ERASE")
"""The kinds of the transactions that record amendments."""

# The leaf's amendments section (audit/leaf.py): a count, then (tx_id, table_id, versions,
# digest) each.
_COUNT = struct.Struct(">I")
_AMEND = struct.Struct(">QIQ32s")

Digests = dict[int, tuple[int, bytes]]
"""A transaction's digests by table number: (versions, digest)."""


def amending(blob: bytes) -> bool:
    """Whether leaf ``blob`` may hold amendments (its kinds name pruning or erasure): a
    cheap test that spares decoding every leaf."""
    return any(kind.encode() in blob for kind in KINDS)


def latest(leaves: Iterable[Leaf]) -> dict[int, Digests]:
    """Each amended transaction's newest amendments, by table: later leaves win."""
    out: dict[int, Digests] = {}
    for leaf in sorted(leaves, key=lambda found: found.tx_id):
        for a in leaf.amendments:
            out.setdefault(a.tx_id, {})[a.table_id] = (a.versions, a.digest)
    return out


def expected(leaf: Leaf, amended: Mapping[int, Digests]) -> list[tuple[int, int, bytes]]:
    """(table, versions, digest) that ``leaf``'s transaction's history should digest to now:
    its leaf's entries, amended; a table left without versions is not listed."""
    tables: Digests = {t.table_id: (t.versions, t.digest) for t in leaf.tables}
    tables.update(amended.get(leaf.tx_id, {}))
    return sorted((t, n, d) for t, (n, d) in tables.items() if n)


def digests(conn: psycopg.Connection, schema: str, xids: Iterable[str]) -> dict[str, Digests]:
    """What the versions of the transactions ``xids`` digest to now, by xid and table
    number, computed as the commit step seals (inside the caller's transaction)."""
    wanted = sorted(set(xids))
    out: dict[str, Digests] = {x: {} for x in wanted}
    if not wanted:
        return out
    names = [name for name, _ in FIXED_SETTINGS]
    saved = conn.execute(
        "SELECT " + ", ".join(f"current_setting('{name}')" for name in names)
    ).fetchone()
    for name, value in FIXED_SETTINGS:
        conn.execute("SELECT set_config(%s, %s, true)", (name, value))
    try:
        book = shapes.load(conn, schema)
        for number in sorted({shape.table_id for shape in book.versions}):
            for hist, columns, span in shapes.scans(book, number):
                sql = scan_sql(schema, hist, columns, many=True, span=span)
                for xid, count, digest in conn.execute(sql, (wanted,)):
                    out[str(xid)][number] = (count, bytes(digest))
    finally:
        for name, value in zip(names, saved or (), strict=False):
            conn.execute("SELECT set_config(%s, %s, true)", (name, value))
    return out


def recorded(conn: psycopg.Connection, schema: str, txs: Iterable[int]) -> dict[int, Digests]:
    """What the ledger says each of ``txs`` wrote, amended: table number -> (versions,
    digest); a transaction without a leaf is not listed."""
    wanted = sorted(set(txs))
    out: dict[int, Digests] = {}
    rows = conn.execute(
        f"SELECT tx_id, leaf FROM {qualified(schema, TX_TABLE)} "
        "WHERE tx_id = ANY (%s) AND leaf IS NOT NULL",
        (wanted,),
    ).fetchall()
    leaves = [Leaf.decode(bytes(blob)) for _, blob in rows]
    kinds = " OR ".join(f"position('{kind}'::bytea IN leaf) > 0" for kind in KINDS)
    later = conn.execute(
        f"SELECT leaf FROM {qualified(schema, TX_TABLE)} "
        f"WHERE tx_id > %s AND leaf IS NOT NULL AND ({kinds}) ORDER BY tx_id",
        (min(wanted, default=0),),
    ).fetchall()
    amended = latest(Leaf.decode(bytes(blob)) for (blob,) in later)
    for leaf in leaves:
        out[leaf.tx_id] = {t: (n, d) for t, n, d in expected(leaf, amended)}
    return out


def check_unchanged(conn: psycopg.Connection, schema: str, txs: Mapping[int, str]) -> None:
    """Raise AuditError naming the transactions (tx_id -> xid) whose versions no longer
    digest to what the ledger recorded for them."""
    if not txs:
        return
    want = recorded(conn, schema, txs)
    now = digests(conn, schema, txs.values())
    bad = [tx for tx in sorted(txs) if tx in want and now[txs[tx]] != want[tx]]
    if bad:
        shown = ", ".join(str(t) for t in bad[:10]) + (" ..." if len(bad) > 10 else "")
        raise AuditError(
            f"refusing to remove history: the versions of transaction(s) {shown} no longer "
            "match the audit ledger (run db.verify_audit_integrity() to see what changed)"
        )


def record(
    conn: psycopg.Connection, schema: str, touched: Mapping[int, set[int]], xids: Mapping[int, str]
) -> list[Amendment]:
    """Note the amendments of the transactions ``touched`` (tx_id -> table numbers; xids:
    tx_id -> xid), after their versions changed, for the open transaction's leaf."""
    now = digests(conn, schema, (xids[tx] for tx in touched))
    made = [
        Amendment(tx, table, *now[xids[tx]].get(table, (0, EMPTY)))
        for tx in sorted(touched)
        for table in sorted(touched[tx])
    ]
    if not made:
        return made
    row = conn.execute("SELECT current_setting(%s, true)", (AMENDS_SETTING,)).fetchone()
    section = bytes.fromhex(row[0]) if row is not None and row[0] else _COUNT.pack(0)
    (count,) = _COUNT.unpack_from(section)
    section = _COUNT.pack(count + len(made)) + section[_COUNT.size :]
    section += b"".join(_AMEND.pack(a.tx_id, a.table_id, a.versions, a.digest) for a in made)
    conn.execute("SELECT set_config(%s, %s, true)", (AMENDS_SETTING, section.hex()))
    return made
