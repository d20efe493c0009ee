"""The small interface the SQL layer needs from a storage engine.

SQLite is one implementation; PostgreSQL will be another. The SQL layer never touches a
connection directly: it runs statements, opens and ends transactions, and asks for a new
transaction number and time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol, TypeVar

R = TypeVar("R")
S = TypeVar("S")


class Backend(Protocol):
    in_transaction: bool

    def run(self, sql: str, params: Any = ()) -> Any:
        """Run one statement; returns a DB-API cursor."""

    def run_many(self, sql: str, rows: Iterable[Any]) -> Any:
        """Run one statement for each parameter row."""

    def begin(self, *, single: bool = False) -> None:
        """Start a write transaction, waiting for other writers (``single``: for one
        statement, committed after it)."""

    def commit(self) -> None: ...

    def rollback(self) -> None: ...

    def allocate_tx(self, now_us: int, user: str) -> tuple[int, int]:
        """Open a new transaction; returns (tx_id, tx_time in microseconds).

        Must be called inside :meth:`begin`; tx ids and times strictly increase, together.
        It has a record in ``_chrono_tx`` only if ``user`` differs from the newest record's.
        """

    def discard_tx(self) -> None:
        """Forget the open transaction, and its record (the transaction wrote nothing)."""

    def settle(self, changed: int, own: int) -> bool:
        """End a one-statement transaction that versioned nothing (``changed`` rows in all,
        ``own`` by the statement itself); True if it did, and is the caller's to commit."""

    def write_alone(
        self,
        sql: str,
        params: Any,
        now_us: int,
        user: str,
        wrap: Callable[[Any], R],
        seal: Callable[[tuple[int, int], int, int], S] | None = None,
    ) -> tuple[R, tuple[int, int] | None, S | None]:
        """Run one write statement as a transaction of its own: begin, record, run,
        :meth:`settle`, ``seal``, commit. Returns ``wrap(cursor)``, the transaction (None
        if it versioned nothing) and what ``seal`` returned."""

    def schema_cookie(self) -> int:
        """A number that changes whenever any process changes the schema."""

    def close(self) -> None: ...
