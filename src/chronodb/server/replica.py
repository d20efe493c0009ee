"""Reads served from a PostgreSQL standby (``chronodb serve PRIMARY --read-url STANDBY``).

Writes, the change feed's LISTEN (a standby delivers no NOTIFY) and subscriptions stay on
the primary; reads (HTTP GETs, GraphQL queries, the UI's pages, SQL that only reads) go to
the standby. A standby replays the primary's WAL a little later, so before each read the
server asks the primary for its newest transaction id (one index lookup) and the standby
for its horizon (``_chrono_horizon()``, which on a standby is the last id below which every
transaction it will ever show is replayed). If the standby has reached the primary's id the
read runs there; else the server polls the standby for up to ``wait`` seconds, and then
reads on the primary. So a read answers what the primary would have answered when it
arrived, AS OF any point: a point the standby has not replayed is read where it exists, and
a client reads its own writes. A standby that cannot be reached sends the reads to the
primary until it can.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool

from chronodb.errors import ServerError
from chronodb.layout import PG_HORIZON, TRANSACTIONS

if TYPE_CHECKING:
    from starlette.requests import HTTPConnection

    from chronodb.database import ChronoDB

DEFAULT_WAIT = 0.5
"""Seconds a read waits for the standby to replay the primary's newest transaction."""

_NEWEST = f"SELECT coalesce(max(tx_id), 0) FROM {TRANSACTIONS}"
_HORIZON = f"SELECT {PG_HORIZON}()"


class Reads:
    """Where a read runs: ``standby`` once it has replayed what ``primary`` committed, else
    the primary connection the caller names."""

    def __init__(
        self,
        primary: ChronoDB,
        standby: ChronoDB,
        *,
        wait: float = DEFAULT_WAIT,
        counter: Callable[[str], None] = lambda server: None,
    ) -> None:
        self.primary = primary
        self.standby = standby
        self.wait = wait
        self._count = counter  # told "standby" or "primary" for each read

    def choose(self, fallback: ChronoDB) -> ChronoDB:
        """The standby if it has replayed the primary's newest transaction (waiting up to
        ``wait`` seconds for it), else ``fallback`` (a connection to the primary)."""
        newest = self.primary.execute(_NEWEST).scalar()
        deadline = time.monotonic() + self.wait
        pause = 0.001
        while True:
            try:
                caught_up = self.standby.execute(_HORIZON).scalar() >= newest
            except ServerError:
                # Unreachable, or its connection dropped (the next call connects again):
                # the primary answers meanwhile.
                caught_up, deadline = False, 0.0
            if caught_up:
                self._count("standby")
                return self.standby
            if time.monotonic() >= deadline:
                self._count("primary")
                return fallback
            time.sleep(pause)
            pause = min(pause * 2, 0.02)


async def reading(conn: HTTPConnection, fallback: ChronoDB | None = None) -> ChronoDB:
    """The database a read of this request runs on: the app's standby when it is caught up
    (``Reads``), else ``fallback`` (default: the app's primary connection). Without
    ``--read-url`` this is the primary, with no query asked."""
    state = conn.app.state
    primary: ChronoDB = fallback if fallback is not None else state.db
    reads: Reads | None = getattr(state, "reads", None)
    if reads is None:
        return primary
    return await run_in_threadpool(reads.choose, primary)
