"""The change feed: one poller per app turns commits from any process into change events.

SQLite tells a connection cheaply whether anyone else committed (``PRAGMA data_version``),
so the poller asks every few milliseconds; when something changed it reads the new
transactions' row changes from the history tables by their ``_chrono_tx`` index
(:func:`chronodb.sql.snapshots.changes_by_tx`) and hands them, in commit order, to the live
subscriptions. Replays for resuming clients read the same way on connections of their own.

Writers are serialised by SQLite, and a transaction id is taken inside the write lock, so
transactions commit in ``tx_id`` order: "everything up to ``last_tx``" is a complete prefix.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import time
from bisect import bisect_right
from collections.abc import Callable, Hashable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from chronodb.audit.ledger import unindexed_leaves
from chronodb.audit.proofs import leaf_hash
from chronodb.layout import LEDGER, SEQ, TX
from chronodb.server.frames import text_frame
from chronodb.sql.snapshots import changes_by_tx
from chronodb.timepoint import to_micros
from chronodb.versioning import timeline
from chronodb.versioning.catalog import Catalog, SchemaVersion
from chronodb.versioning.tables import qualified, seq_after

log = logging.getLogger("chronodb.server")
_MAX_FAILURES = 5
# Dispatch to subscribers for this long, then take in what was committed meanwhile: with a
# thousand connections one round of writes takes longer than the poll interval, and each
# subscriber should get what is newest when its turn comes, not what was newest at the start.
SLICE_SECONDS = 0.003


@dataclass(frozen=True, slots=True)
class Change:
    """One row change, with its event already encoded once for every subscriber.

    ``text`` is the ``data_change`` event's JSON; ``frame`` the same as a WebSocket frame.
    """

    table: str  # the table's name as it is spelt in its schema
    table_key: str  # the same, lower-cased
    tx_id: int
    tx_time: float
    operation: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    text: str
    frame: bytes

    @property
    def values(self) -> dict[str, Any] | None:
        """What a filter looks at: the new values, or the old ones for a delete."""
        return self.before if self.operation == "DELETE" else self.after


def _encode(table: str, row: sqlite3.Row, tx_hash: str | None) -> Change:
    before = json.loads(row["before"]) if row["before"] is not None else None
    after = json.loads(row["after"]) if row["after"] is not None else None
    event = {
        "type": "data_change",
        "table": table,
        "operation": row["operation"],
        "before": before,
        "after": after,
        "tx_id": row["tx_id"],
        "tx_time": row["tx_time"],
        "tx_hash": tx_hash,
        "user": row["user"],
    }
    text = json.dumps(event, separators=(",", ":"), default=str)
    return Change(
        table,
        table.lower(),
        row["tx_id"],
        row["tx_time"],
        row["operation"],
        before,
        after,
        text,
        text_frame(text),
    )


class Reader:
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

    def data_version(self) -> int:
        return self.conn.execute("PRAGMA data_version").fetchone()[0]

    def last_tx(self) -> int:
        return timeline.last_tx(self.conn)

    def tx_at(self, point: Any) -> int:
        """The last transaction committed at or before a point in time (0 if none)."""
        return timeline.tx_at(self.conn, to_micros(point))

    def resolve(self, table: str) -> SchemaVersion | None:
        """The table as it is now, or None if there is no such table."""
        self.refresh()
        return self.catalog.current(table)

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
        if len(out) > 1:
            out.sort(key=lambda c: c.tx_id)  # stable: each table keeps its own order
        return out

    def close(self) -> None:
        self.conn.close()


class Subscriber(Protocol):
    """What the feed needs from a subscription.

    Subscribers with the same ``table_key`` and a ``filter_key`` other than None share their
    filter: ``predicate`` runs once per change for all of them, not once per subscriber.
    """

    table_key: str
    after_tx: int  # only changes of later transactions are delivered; the feed advances it
    filter_key: Hashable | None
    predicate: Callable[[Mapping[str, Any]], bool] | None

    @property
    def unit(self) -> Hashable:
        """Subscribers of one unit (a connection) are served together, to one transaction."""

    def deliver(self, changes: list[Change]) -> None:
        """Take the matching changes since ``after_tx``, in commit order (never called empty)."""


def matching(
    predicate: Callable[[Mapping[str, Any]], bool] | None, changes: list[Change]
) -> list[Change]:
    """The changes a filter lets through (a delete is tested by its before values)."""
    if predicate is None:
        return changes
    return [c for c in changes if (v := c.values) is not None and predicate(v)]


@dataclass(eq=False)
class _Group:
    """Subscribers of one table and filter, and the matching changes not all of them have."""

    predicate: Callable[[Mapping[str, Any]], bool] | None
    members: set[Subscriber] = field(default_factory=set)
    window: list[Change] = field(default_factory=list)  # commit order
    _version: int = 0  # bumped whenever the window changes
    _memo: tuple[int, int, list[Change]] = (-1, -1, [])

    def matching(self, changes: list[Change]) -> list[Change]:
        return matching(self.predicate, changes)

    def take_in(self, changes: list[Change]) -> None:
        """Add newly read changes: the filter runs once per change, for every member."""
        passed = self.matching(changes)
        if passed:
            self.window.extend(passed)
            self._version += 1

    def after(self, tx: int) -> list[Change]:
        """The window's changes of transactions after ``tx``.

        Members at the same position get the same list object, so the frames joined or the
        batch built for one of them serve the next (see ``server/stream.py``).
        """
        version, at, changes = self._memo
        if version != self._version or at != tx:
            changes = self.window[bisect_right(self.window, tx, key=tx_of) :]
            self._memo = (self._version, tx, changes)
        return changes

    def trim(self) -> None:
        """Forget the changes every member has been given."""
        low = min((m.after_tx for m in self.members), default=None)
        keep = len(self.window) if low is None else bisect_right(self.window, low, key=tx_of)
        if keep:
            del self.window[:keep]
            self._version += 1


def tx_of(change: Change) -> int:
    return change.tx_id


@dataclass
class ChangeFeed:
    """Watches one database file and dispatches its new changes to live subscribers."""

    path: str
    interval: float = 0.005
    on_dispatch: Callable[[list[Change]], None] | None = None
    on_error: Callable[[BaseException], None] | None = None
    last_tx: int = 0
    busy: bool = False
    _live: dict[str, dict[Hashable, _Group]] = field(default_factory=dict)
    _reader: Reader | None = None
    _executor: ThreadPoolExecutor | None = None
    _task: asyncio.Task[None] | None = None
    _advanced: asyncio.Event | None = None
    _seen: int | None = None  # the reader's data_version when it last read
    _fresh: list[Change] = field(default_factory=list)  # read, not yet given to everyone
    _ring: list[list[tuple[_Group, Subscriber]]] | None = None  # by unit; None: rebuild

    async def start(self) -> None:
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="chronodb-feed")
        self._reader = await self.run(lambda r: r)
        self.last_tx = await self.run(Reader.last_tx)
        self._advanced = asyncio.Event()
        self._task = asyncio.create_task(self._poll(), name="chronodb-change-feed")

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._executor is not None:
            if self._reader is not None:
                await asyncio.get_running_loop().run_in_executor(self._executor, self._reader.close)
            self._executor.shutdown(wait=True)

    async def run(self, call: Callable[..., Any], *args: Any) -> Any:
        """Run ``call(reader, *args)`` on the poller's own connection and thread."""
        assert self._executor is not None

        def job() -> Any:
            if self._reader is None:
                self._reader = Reader(self.path)
            return call(self._reader, *args)

        return await asyncio.get_running_loop().run_in_executor(self._executor, job)

    # ------------------------------------------------------------ subscribers
    def add_live(self, sub: Subscriber) -> None:
        key = sub if sub.filter_key is None else sub.filter_key
        groups = self._live.setdefault(sub.table_key, {})
        group = groups.get(key)
        if group is None:
            group = groups[key] = _Group(sub.predicate)
        group.members.add(sub)
        self._ring = None

    def remove(self, sub: Subscriber) -> None:
        groups = self._live.get(sub.table_key)
        if groups is None:
            return
        key = sub if sub.filter_key is None else sub.filter_key
        group = groups.get(key)
        if group is not None:
            group.members.discard(sub)
            self._ring = None
            if not group.members:
                del groups[key]
        if not groups:
            del self._live[sub.table_key]

    async def advanced(self) -> None:
        """Wait until the feed read its next batch of transactions (or gave up on it)."""
        assert self._advanced is not None
        await self._advanced.wait()

    # ------------------------------------------------------------ polling
    async def _poll(self) -> None:
        assert self._reader is not None
        failures = 0
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self._read()
                if self._fresh:
                    await self._serve()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as err:  # keep watching: one bad batch must not stop the feed
                log.exception("change feed: reading new transactions failed")
                self._seen = None
                failures += 1
                if failures >= _MAX_FAILURES:
                    # A batch that can never be read (e.g. a BLOB, which JSON cannot hold)
                    # must not stop the feed for good: skip it, loudly.
                    skipped = self._reader.last_tx()
                    log.error("change feed: skipped transactions %d..%d", self.last_tx + 1, skipped)
                    self.last_tx, failures = max(self.last_tx, skipped), 0
                if self.on_error is not None:
                    self.on_error(err)
                await asyncio.sleep(0.1)

    async def _read(self) -> None:
        """Take in the changes of transactions committed since the last read, if any."""
        reader = self._reader
        assert reader is not None
        # Cheap enough to run on the event loop: no I/O beyond the shared memory.
        version = reader.data_version()
        if version == self._seen:
            return
        self._seen = version
        hi = reader.last_tx()
        if hi <= self.last_tx:
            return
        tables = list(self._live)
        self.busy = True
        try:
            changes = await self.run(Reader.changes, tables, self.last_tx, hi) if tables else []
            by_table: dict[str, list[Change]] = {}
            for change in changes:
                by_table.setdefault(change.table_key, []).append(change)
            for key, table_changes in by_table.items():
                for group in self._live.get(key, {}).values():
                    group.take_in(table_changes)
            self.last_tx = hi
            self._fresh.extend(changes)
        finally:
            self.busy = False
            self._wake()

    async def _serve(self) -> None:
        """Give every subscriber what it has not had yet, one unit (connection) at a time.

        Between slices of :data:`SLICE_SECONDS` the feed reads again, so a unit served late in
        the round gets the changes committed while the round went on, not only those read
        before it started.
        """
        groups = [group for table in self._live.values() for group in table.values()]
        for group in groups:
            group.trim()
        if self._ring is None:
            units: dict[Hashable, list[tuple[_Group, Subscriber]]] = {}
            for group in groups:
                for sub in group.members:
                    units.setdefault(sub.unit, []).append((group, sub))
            self._ring = list(units.values())
        ring, done = self._ring, self._fresh
        self._fresh = []
        deadline = time.perf_counter() + SLICE_SECONDS
        try:
            for unit in ring:
                hi = self.last_tx
                for group, sub in unit:
                    if sub.after_tx < hi and sub in group.members:
                        changes = group.after(sub.after_tx)
                        sub.after_tx = hi
                        if changes:
                            sub.deliver(changes)
                if time.perf_counter() > deadline:
                    await self._read()
                    deadline = time.perf_counter() + SLICE_SECONDS
        except BaseException:
            self._fresh[:0] = done  # a read failed mid-round: the next round serves the rest
            raise
        if self.on_dispatch is not None and done:
            self.on_dispatch(done)

    def _wake(self) -> None:
        assert self._advanced is not None
        self._advanced.set()
        self._advanced = asyncio.Event()
