"""The small interface the engine needs from a storage backend.

SQLite is one implementation. The engine (``chronodb/engine``) runs statements on the
backend's ``conn``, opens and ends write transactions through the backend, asks it for a new
transaction number and time, and for the counts and schema cookie that tell it what
happened since.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol, TypeVar

R = TypeVar("R")
S = TypeVar("S")


class Backend(Protocol):
    # The DB-API connection statements run on (reads, and writes inside a transaction).
    conn: Any
    in_transaction: bool
    # Whether the backend compiled a statement since the engine last cleared this: only
    # then can another connection have changed the schema the engine's plans rely on.
    compiled: bool
    # Called inside the write lock when another connection committed since this one last
    # wrote, so that the engine can follow its schema changes.
    on_foreign_commit: Callable[[], None] | None

    def run(self, sql: str, params: Any = ()) -> Any:
        """Run one statement; returns a DB-API cursor."""

    def run_many(self, sql: str, rows: Iterable[Any]) -> Any:
        """Run one statement for each parameter row."""

    def begin(self, *, single: bool = False) -> None:
        """Start a write transaction, waiting for other writers (``single``: for one
        statement, committed after it)."""

    def use_wal(self) -> None:
        """Switch the file to write-ahead logging, once the engine has set it up (a backend
        without such a mode does nothing)."""

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

    def total_changes(self) -> int:
        """Rows changed through this connection since it opened (triggers' included)."""

    def close(self) -> None: ...
