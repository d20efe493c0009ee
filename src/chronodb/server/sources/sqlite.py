"""The change source of a SQLite file: its history tables, and ``PRAGMA data_version``.

SQLite tells a connection cheaply whether anyone else committed (``PRAGMA data_version``),
so the doorbell asks every few milliseconds; the reader then reads the new transactions' row
changes from the history tables by their ``_chrono_tx`` index
(:func:`chronodb.sql.snapshots.changes_by_tx`). Writers are serialised by SQLite and a
transaction id is taken inside the write lock, so transactions commit in ``tx_id`` order:
"everything up to ``last_tx``" is a complete prefix.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Hashable, Iterable
from typing import TYPE_CHECKING, Any

from chronodb.audit.ledger import unindexed_leaves
from chronodb.audit.proofs import leaf_hash
from chronodb.layout import LEDGER, SEQ, TX
from chronodb.server.events import Change, encode, in_commit_order
from chronodb.server.sources import TableShape
from chronodb.sql.snapshots import changes_by_tx
from chronodb.timepoint import to_micros
from chronodb.versioning import timeline
from chronodb.versioning.catalog import Catalog
from chronodb.versioning.tables import qualified, seq_after

if TYPE_CHECKING:
    from chronodb.database import ChronoDB


def _encode(table: str, row: sqlite3.Row, tx_hash: str | None) -> Change:
    before = json.loads(row["before"]) if row["before"] is not None else None
    after = json.loads(row["after"]) if row["after"] is not None else None
    return encode(
        table, row["operation"], before, after, row["tx_id"], row["tx_time"], tx_hash, row["user"]
    )


class SqliteReader:
    """A read connection to the database file with its own copy of the catalog."""

    def __init__(self, path: str) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA query_only = ON")
        self.catalog = Catalog()
        self.has_ledger = False

    def refresh(self) -> None:
        cookie = self.conn.execute("PRAGMA schema_version").fetchone()[0]
        if cookie != self.catalog.schema_cookie:
            self.catalog.load(self.conn)
            self.has_ledger = bool(
                self.conn.execute(f"SELECT 1 FROM sqlite_schema WHERE name = '{LEDGER}'").fetchone()
            )

    def tx_hashes(self, lo: int, hi: int) -> dict[int, str]:
        """The audit ledger's hash (hex) of each transaction in ``(lo, hi]``."""
        if not self.has_ledger:
            return {}
        rows = self.conn.execute(
            f"SELECT tx_id, leaf_hash FROM main.{LEDGER} WHERE tx_id > ? AND tx_id <= ?",
            (lo, hi),
        )
        hashes = {tx: bytes(digest).hex() for tx, digest in rows}
        # The newest leaves may still be on history tails (audit/ledger.py).
        after = max(hashes, default=lo)
        for tx, blob in unindexed_leaves(self.conn, self.catalog, after, hi):
            hashes[tx] = leaf_hash(blob).hex()
        return hashes

    def last_tx(self) -> int:
        return timeline.last_tx(self.conn)

    def tx_at(self, point: Any) -> int:
        """The last transaction committed at or before a point in time (0 if none)."""
        return timeline.tx_at(self.conn, to_micros(point))

    def resolve(self, table: str) -> TableShape | None:
        """The table as it is now, or None if there is no such table."""
        self.refresh()
        sv = self.catalog.current(table)
        if sv is None:
            return None
        return TableShape(sv.name, tuple(c.name for c in sv.columns), str(sv.from_tx))

    def step_after(self, table: str, lo: int, versions: int) -> int | None:
        """A transaction bound ``hi`` such that ``(lo, hi]`` holds about ``versions`` of
        ``table``'s row versions (at least one transaction's), or None if fewer are left.

        Transaction ids are times, so a replay steps by history rows, not by ids.
        """
        self.refresh()
        bounds = []
        for hist in {sv.hist for sv in self.catalog.versions if sv.name.lower() == table}:
            h = qualified(hist)
            row = self.conn.execute(
                f"SELECT {TX} FROM {h} WHERE {SEQ} >= {seq_after(h, '?1')} "
                f"ORDER BY {SEQ} LIMIT 1 OFFSET ?2",
                (lo, max(versions - 1, 0)),
            ).fetchone()
            if row is not None:
                bounds.append(row[0])
        return min(bounds) if bounds else None

    def changes(self, tables: Iterable[str], lo: int, hi: int) -> list[Change]:
        """Row changes of ``tables`` made by transactions ``(lo, hi]``, in commit order."""
        self.refresh()
        out: list[Change] = []
        hashes: dict[int, str] | None = None
        for key in tables:
            for sv in self.catalog.versions:
                if sv.name.lower() != key:
                    continue
                # The shape sv describes the table over [from_tx, to_tx).
                start = max(lo, sv.from_tx - 1)
                end = hi if sv.to_tx is None else min(hi, sv.to_tx - 1)
                if start >= end:
                    continue
                rows = self.conn.execute(changes_by_tx(sv, "?1", "?2"), (start, end)).fetchall()
                if rows and hashes is None:
                    hashes = self.tx_hashes(lo, hi)
                out.extend(_encode(sv.name, r, (hashes or {}).get(r["tx_id"])) for r in rows)
        return in_commit_order(out)

    def close(self) -> None:
        self.conn.close()


class DataVersionBell:
    """Rings when the file's ``PRAGMA data_version`` moved: checked every ``interval``
    seconds, on a connection of its own (cheap enough for the event loop: shared memory)."""

    def __init__(self, path: str, interval: float) -> None:
        self.path, self.interval = path, interval
        self._conn: sqlite3.Connection | None = None
        self._seen: int | None = None

    async def start(self) -> None:
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)

    async def wait(self) -> None:
        await asyncio.sleep(self.interval)

    def rang(self) -> bool:
        assert self._conn is not None
        version = self._conn.execute("PRAGMA data_version").fetchone()[0]
        if version == self._seen:
            return False
        self._seen = version
        return True

    async def close(self) -> None:
        if self._conn is not None:
            self._conn.close()


class SqliteSource:
    """A database file's changes (see the module's docstring)."""

    def __init__(self, path: str, interval: float = 0.005) -> None:
        self.location = path
        self.interval = interval

    def reader(self) -> SqliteReader:
        return SqliteReader(self.location)

    def doorbell(self) -> DataVersionBell:
        return DataVersionBell(self.location, self.interval)

    def schema_version(self, db: ChronoDB) -> Hashable:
        return db.execute("PRAGMA schema_version").rows[0][0]
