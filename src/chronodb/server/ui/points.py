"""Points in time from a page's URL: ``?as_of=`` as a transaction id, ISO-8601 or epoch time.

Parsing is :func:`chronodb.introspect.point`'s, as ``chronodb export --as-of`` reads it; this
module adds what pages need: the SQL clause for the point, and where it falls on the
database's timeline of transactions.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any

from chronodb.database import ChronoDB
from chronodb.errors import TimestampError
from chronodb.formatting import iso_time
from chronodb.introspect import point
from chronodb.timepoint import from_micros

#: How many of the latest transactions the time slider shows as ticks.
MAX_TICKS = 500


@dataclass(frozen=True, slots=True)
class Point:
    """A point a page shows the database at: ``kind`` "TRANSACTION" (``value`` a transaction
    id) or "TIMESTAMP" (``value`` microseconds since the epoch); ``text`` as the URL said."""

    text: str
    kind: str
    value: int

    @property
    def arg(self) -> Any:
        """The point as the library's ``as_of`` arguments take it."""
        return self.value if self.kind == "TRANSACTION" else from_micros(self.value)

    def clause(self) -> tuple[str, list[Any]]:
        """The temporal clause after a table name, and its parameter."""
        return f"AS OF {self.kind} ?", [self.arg]

    def label(self) -> str:
        if self.kind == "TRANSACTION":
            return f"transaction {self.value}"
        return iso_time(from_micros(self.value))


def parse_point(text: str | None, name: str = "as_of") -> Point | None:
    """The point ``?name=`` names, None when the parameter is absent or empty (now)."""
    if text is None or not text.strip():
        return None
    try:
        kind, value = point(text.strip())
    except TimestampError as err:
        raise TimestampError(f"?{name}={text!r:.80} is not a point: {err}", value=text) from None
    return Point(text.strip(), kind, value)


@dataclass(frozen=True, slots=True)
class Tick:
    tx_id: int
    tx_time: float
    user: str | None
    kind: str | None = None
    kinds: tuple[str, ...] = ()  # its statements' kinds, where the ledger records them

    def to_dict(self) -> dict[str, Any]:
        return {
            "tx_id": self.tx_id,
            "tx_time": self.tx_time,
            "time": iso_time(self.tx_time),
            "user": self.user,
            "kind": self.kind,
            "kinds": list(self.kinds),
        }


class Timeline:
    """The latest transactions, oldest first, and lookups of a point on them."""

    def __init__(self, db: ChronoDB, limit: int | None = MAX_TICKS) -> None:
        self._db = db
        self.ticks = [
            Tick(t["tx_id"], t["tx_time"], t.get("user"), t.get("kind"), tuple(t.get("kinds", ())))
            for t in reversed(db.transactions(limit=limit))
        ]
        self.complete = limit is None or len(self.ticks) < limit

    def dicts(self) -> list[dict[str, Any]]:
        return [t.to_dict() for t in self.ticks]

    def index(self, at: Point | None) -> int | None:
        """The index of the latest tick at or before ``at`` (the last one for now); None if
        the point is before every tick shown."""
        if at is None:
            return len(self.ticks) - 1 if self.ticks else None
        if at.kind == "TRANSACTION":
            keys = [t.tx_id for t in self.ticks]
            found = bisect.bisect_right(keys, at.value) - 1
        else:
            keys_us = [round(t.tx_time * 1_000_000) for t in self.ticks]
            found = bisect.bisect_right(keys_us, at.value) - 1
        return found if found >= 0 else None

    def seconds(self, at: Point | None) -> float | None:
        """``at`` as epoch seconds, for calls that take times; None for now. A transaction id
        is the time of the latest transaction at or before it (0 before the first)."""
        if at is None:
            return None
        if at.kind == "TIMESTAMP":
            return from_micros(at.value)
        i = self.index(at)
        if i is None and not self.complete:
            return Timeline(self._db, None).seconds(at)
        return 0.0 if i is None else self.ticks[i].tx_time
