"""The change feed: one per app, turning commits from any process into change events.

Its change source (``server/sources/``) says when something may have been committed (a
doorbell: SQLite's ``PRAGMA data_version``, PostgreSQL's NOTIFY) and reads the new
transactions' row changes from history on a connection and thread of its own; the feed hands
them, in commit order, to the live subscriptions. Replays for resuming clients read the same
way on readers of their own. Every read stops at the reader's ``last_tx``, up to which no
transaction is missing: "everything up to ``last_tx``" is a complete prefix.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from bisect import bisect_right
from collections.abc import Callable, Hashable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from chronodb.server.events import Change, tx_of
from chronodb.server.sources import ChangeSource, Doorbell, Reader, change_source

log = logging.getLogger("chronodb.server")
_MAX_FAILURES = 5
# Dispatch to subscribers for this long, then take in what was committed meanwhile: with a
# thousand connections one round of writes takes longer than the poll interval, and each
# subscriber should get what is newest when its turn comes, not what was newest at the start.
SLICE_SECONDS = 0.003


class Subscriber(Protocol):
    """What the feed needs from a subscription.

    Subscribers with the same ``table_key`` and a ``filter_key`` other than None share their
    filter: ``predicate`` runs once per change for all of them, not once per subscriber.
    """

    after_tx: int  # only changes of later transactions are delivered; the feed advances it

    def __hash__(self) -> int:
        """A subscriber without a shared filter is a group of its own, keyed by itself."""

    @property
    def table_key(self) -> str:
        """The table whose changes the subscriber takes."""

    @property
    def filter_key(self) -> Hashable | None:
        """The filter's identity, shared by subscribers whose filters are the same."""

    @property
    def predicate(self) -> Callable[[Mapping[str, Any]], bool] | None:
        """The filter a change's values must pass, if any."""

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


@dataclass
class ChangeFeed:
    """Watches one database and dispatches its new changes to live subscribers.

    ``source``: a :class:`ChangeSource`, or a database file or ``postgresql://`` URL to
    make one for (``interval``: seconds between checks of a SQLite file).
    """

    source: ChangeSource | str
    interval: float = 0.005
    on_dispatch: Callable[[list[Change]], None] | None = None
    on_error: Callable[[BaseException], None] | None = None
    last_tx: int = 0
    busy: bool = False
    _live: dict[str, dict[Hashable, _Group]] = field(default_factory=dict)
    _reader: Reader | None = None
    _doorbell: Doorbell | None = None
    _executor: ThreadPoolExecutor | None = None
    _task: asyncio.Task[None] | None = None
    _advanced: asyncio.Event | None = None
    _again: bool = True  # read even if the doorbell did not ring (after a failed read)
    _fresh: list[Change] = field(default_factory=list)  # read, not yet given to everyone
    _ring: list[list[tuple[_Group, Subscriber]]] | None = None  # by unit; None: rebuild

    def __post_init__(self) -> None:
        if isinstance(self.source, str):
            self.source = change_source(self.source, interval=self.interval)

    @property
    def changes(self) -> ChangeSource:
        """Where the changes come from; replays open readers of their own on it."""
        assert not isinstance(self.source, str)
        return self.source

    async def start(self) -> None:
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="chronodb-feed")
        self._doorbell = self.changes.doorbell()
        await self._doorbell.start()  # before the first read: no commit falls between
        self.last_tx = await self.run(lambda r: r.last_tx())
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
        if self._doorbell is not None:
            await self._doorbell.close()
        if self._executor is not None:
            if self._reader is not None:
                await asyncio.get_running_loop().run_in_executor(self._executor, self._reader.close)
            self._executor.shutdown(wait=True)

    async def run(self, call: Callable[..., Any], *args: Any) -> Any:
        """Run ``call(reader, *args)`` on the feed's own reader and thread."""
        assert self._executor is not None

        def job() -> Any:
            if self._reader is None:
                self._reader = self.changes.reader()
            return call(self._reader, *args)

        return await asyncio.get_running_loop().run_in_executor(self._executor, job)

    # ------------------------------------------------------------ subscribers
    def add_live(self, sub: Subscriber) -> None:
        key: Hashable = sub if sub.filter_key is None else sub.filter_key
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
        key: Hashable = sub if sub.filter_key is None else sub.filter_key
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
        assert self._doorbell is not None
        failures = 0
        while True:
            await self._doorbell.wait()
            try:
                await self._read()
                if self._fresh:
                    await self._serve()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as err:  # keep watching: one bad batch must not stop the feed
                log.exception("change feed: reading new transactions failed")
                self._again = True
                failures += 1
                if failures >= _MAX_FAILURES:
                    # A batch that can never be read (e.g. a BLOB, which JSON cannot hold)
                    # must not stop the feed for good: skip it, loudly.
                    with contextlib.suppress(Exception):
                        skipped = await self.run(lambda r: r.last_tx())
                        log.error(
                            "change feed: skipped transactions %d..%d", self.last_tx + 1, skipped
                        )
                        self.last_tx, failures = max(self.last_tx, skipped), 0
                if self.on_error is not None:
                    self.on_error(err)
                await asyncio.sleep(0.1)

    async def _read(self) -> None:
        """Take in the changes of transactions committed since the last read, if any."""
        assert self._doorbell is not None
        if not self._doorbell.rang() and not self._again:
            return
        self._again = False
        hi = await self.run(lambda r: r.last_tx())
        if hi <= self.last_tx:
            return
        tables = list(self._live)
        self.busy = True
        try:
            lo = self.last_tx
            changes = await self.run(lambda r: r.changes(tables, lo, hi)) if tables else []
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
