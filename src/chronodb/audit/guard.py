"""Refuse to remove history that no longer matches the ledger.

Pruning and erasure record new digests (amendments) for the transactions whose versions
they remove. Done on tampered rows, that would write the tampering into the ledger; so the
transactions about to be amended are checked first, against their leaf or their latest
amendment.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from chronodb.audit.digests import table_digests
from chronodb.audit.leaf import Leaf
from chronodb.errors import AuditError
from chronodb.layout import TRANSACTIONS
from chronodb.versioning.catalog import Catalog

_AMENDING = (
    f"SELECT CAST(leaf AS BLOB) FROM main.{TRANSACTIONS} WHERE leaf IS NOT NULL AND "
    "(instr(leaf, CAST('PRUNE' AS BLOB)) OR instr(leaf, CAST('ERASE' AS BLOB))) ORDER BY tx_id"
)


def recorded(conn: sqlite3.Connection, txs: Iterable[int]) -> dict[int, dict[int, tuple]]:
    """What the ledger says each transaction wrote: table_id -> (versions, digest)."""
    wanted = set(txs)
    out: dict[int, dict[int, tuple]] = {}
    for tx in wanted:
        row = conn.execute(
            f"SELECT CAST(leaf AS BLOB) FROM main.{TRANSACTIONS} "
            "WHERE tx_id = ? AND leaf IS NOT NULL",
            (tx,),
        ).fetchone()
        if row is not None:
            leaf = Leaf.decode(bytes(row[0]))
            out[tx] = {t.table_id: (t.versions, t.digest) for t in leaf.tables}
    for (blob,) in conn.execute(_AMENDING):  # later amendments win
        for a in Leaf.decode(bytes(blob)).amendments:
            if a.tx_id in wanted:
                out.setdefault(a.tx_id, {})[a.table_id] = (a.versions, a.digest)
    return out


def check_unchanged(conn: sqlite3.Connection, catalog: Catalog, txs: Iterable[int]) -> None:
    """Raise AuditError naming the transactions whose versions differ from the ledger."""
    txs = sorted(set(txs))
    if not txs:
        return
    want = recorded(conn, txs)
    bad = []
    for tx in txs:
        now = {t: (n, d) for t, n, d in table_digests(conn, catalog, tx) if n}
        expected = {t: v for t, v in want.get(tx, {}).items() if v[0]}
        if tx in want and now != expected:
            bad.append(tx)
    if bad:
        shown = ", ".join(str(t) for t in bad[:10]) + (" ..." if len(bad) > 10 else "")
        raise AuditError(
            f"refusing to remove history: the versions of transaction(s) {shown} no longer "
            "match the audit ledger (run db.audit_trail.verify() to see what changed)"
        )
