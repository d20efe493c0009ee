"""What both backends' engines share: routing a statement by its text, and the transaction
around a ``with`` body."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chronodb.errors import SQLError, TemporalError
from chronodb.sql.classify import Route, classify

_ROUTE_CACHE_LIMIT = 20_000


@dataclass(frozen=True)
class Committed:
    """A write transaction an explicit COMMIT made: its id, time (epoch seconds) and
    ledger hash (hex; None without a leaf)."""

    tx_id: int
    tx_time: float
    tx_hash: str | None


class Common:
    """Mixed into :class:`~chronodb.engine.Engine` and the PostgreSQL engine, which hold
    ``routes``, ``time_travel``, ``explicit``, ``last_commit`` and
    ``begin``/``commit``/``rollback``.

    ``last_commit``: the transaction the engine's last explicit COMMIT made, None if that
    transaction wrote nothing (or none was committed yet). Read it under the engine's lock
    taken before BEGIN, so that no other thread's transaction comes between."""

    routes: dict[str, Route]
    time_travel: bool
    explicit: bool
    last_commit: Committed | None

    if TYPE_CHECKING:

        def begin(self) -> None: ...

        def commit(self) -> None: ...

        def rollback(self) -> None: ...

    def route(self, sql: str) -> Route:
        """How ``sql`` runs (read, write, temporal, DDL, transaction control...), cached."""
        route = self.routes.get(sql)
        if route is not None:
            return route
        if not isinstance(sql, str):
            raise SQLError(f"SQL must be a string, not {type(sql).__name__}")
        route = classify(sql)
        if route in (Route.TEMPORAL, Route.TEMPORAL_WRITE) and not self.time_travel:
            raise TemporalError("Time travel is disabled (features.time_travel.enabled: false)")
        if len(self.routes) > _ROUTE_CACHE_LIMIT:
            self.routes.clear()
        self.routes[sql] = route
        return route

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """A transaction around the ``with`` body: committed on success, rolled back on an
        exception."""
        self.begin()
        try:
            yield
        except BaseException:
            if self.explicit:
                self.rollback()
            raise
        else:
            if self.explicit:
                self.commit()
