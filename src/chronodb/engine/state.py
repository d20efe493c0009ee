"""The engine's state: what it holds between calls, defined once for all its parts."""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chronodb.versioning.catalog import Catalog

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from contextlib import contextmanager

    from chronodb.audit.leaf import Amendment
    from chronodb.audit.ledger import Ledger
    from chronodb.audit.verified import Verification
    from chronodb.engine.common import Committed
    from chronodb.sql import temporal
    from chronodb.sql.classify import Route
    from chronodb.storage.base import Backend


@dataclass(frozen=True)
class Mark:
    """What a transaction had done when a savepoint was made."""

    amendments: int
    kinds: int
    rows_written: int
    changes: int


class EngineState:
    """The state every part of :class:`~chronodb.engine.Engine` works on."""

    def __init__(
        self,
        backend: Backend,
        *,
        path: str,
        user: str,
        read_only: bool = False,
        auto_create_tables: bool = True,
        time_travel: bool = True,
        ledger: bool = True,
        adopt: bool = True,
    ) -> None:
        self.backend = backend
        self.conn: sqlite3.Connection = backend.conn
        self.path = path
        self.user = user
        self.read_only = read_only
        self.auto_create_tables = auto_create_tables
        self.time_travel = time_travel
        self.lock = threading.RLock()
        self.catalog = Catalog()
        self.routes: dict[str, Route] = {}
        self.plans: dict[str, temporal.Plan] = {}
        self.open_tx: tuple[int, int] | None = None  # (tx_id, tx_time_us) of the open one
        self.explicit = False
        self.last_commit: Committed | None = None  # what the last explicit COMMIT made
        # Why SQLite rolled the open explicit transaction back by itself (ON CONFLICT
        # ROLLBACK, RAISE(ROLLBACK), a full disk), until COMMIT or ROLLBACK ends it.
        self._aborted: str | None = None
        self._changes_at_alloc = 0
        self._rows_written = 0  # rows the open transaction's statements changed themselves
        # Tables the open transaction's statements name (None: some statement named none the
        # seal can rely on); the ledger's seal reads these first. See write_target.
        self._targets: set[str] | None = None
        self.tx_has_ddl = False
        # Moves with every catalog load and every statement of this engine that may change
        # the schema or plans (CREATE INDEX and the other plain statements, VACUUM, a
        # rollback): the optimizer's schema cookie, read without asking SQLite.
        self.schema_changes = 0
        self._plain_since_begin = False  # a plain statement ran since the last BEGIN
        self.closed = False
        # The audit ledger: statement kinds and pruning/erasure amendments of the open
        # transaction, sealed into one leaf just before COMMIT.
        self.ledger: Ledger | None = None
        self._ledger_wanted = ledger
        # Whether opening versions the tables the file holds unversioned (adoption.py).
        self._adopt = adopt
        self._kinds: list[str] = []
        self._amendments: list[Amendment] = []
        # The seal of a one-statement transaction, by its SQL (see Sealing._sealer).
        self._sealers: dict[str, Callable[[tuple[int, int], int, int], str | bytes]] = {}
        # The open transaction's savepoints, oldest first: (name, and the transaction's
        # state when it was made), so that ROLLBACK TO forgets what it undid.
        self._savepoints: list[tuple[str, Mark]] = []
        # This connection's last verification of the ledger (the database keeps the last
        # one of any connection: audit/verified.py).
        self.last_verification: Verification | None = None

    if TYPE_CHECKING:
        # What one part of the engine calls in another (the parts are mixed into Engine).

        def reload_catalog(self) -> None: ...

        def refresh_catalog(self) -> bool: ...

        @contextmanager
        def transaction(self) -> Iterator[None]: ...

        @contextmanager
        def atomic(self) -> Iterator[None]: ...

        def _allocate(self) -> tuple[int, int]: ...

        def _ensure_tx(self) -> tuple[int, int]: ...

        def _rolled_back(self) -> None: ...

        def note_abort(self, err: BaseException) -> None: ...

        def _refuse_if_aborted(self) -> None: ...

        def _seal(self, tx: tuple[int, int]) -> str | None: ...

        def _note_target(self, sql: str | None, ddl: bool) -> None: ...

        def _note_statement(self, sql: str) -> None: ...

        def _sealer(self, sql: str) -> Callable[[tuple[int, int], int, int], str | bytes]: ...
