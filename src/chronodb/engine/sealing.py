"""Sealing into the audit ledger: each write transaction's leaf, appended just before its
commit, and the amendments pruning and erasure record."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from chronodb.audit.digests import EMPTY as EMPTY_DIGEST
from chronodb.audit.digests import table_digests
from chronodb.audit.guard import check_unchanged
from chronodb.audit.leaf import Amendment
from chronodb.engine.state import EngineState
from chronodb.sql.classify import write_target

if TYPE_CHECKING:
    pass

_SEALERS = 1024  # statement texts whose seals an engine keeps (see Sealing._sealer)

_FIRST_WORD = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/)*(\w+)", re.S)


@functools.lru_cache(maxsize=4096)
def statement_kind(sql: str) -> str:
    """The statement's first keyword (INSERT, UPDATE, ...), recorded in the ledger."""
    found = _FIRST_WORD.match(sql)
    return found.group(1).upper() if found else "WRITE"


@functools.lru_cache(maxsize=4096)
def _seal_hint(sql: str) -> tuple[tuple[str], tuple[str] | None]:
    """(kinds, targets) of a one-statement transaction running ``sql``, for its seal."""
    target = write_target(sql)
    return (statement_kind(sql),), None if target is None else (target,)


class Sealing(EngineState):
    """The part of :class:`~chronodb.engine.Engine` that writes the audit ledger."""

    def _seal(self, tx: tuple[int, int]) -> str | None:
        """Append the open transaction's leaf to the ledger; returns its hash (hex)."""
        if self.ledger is None:
            return None
        written = self.backend.total_changes() - self._changes_at_alloc
        targets = None if self._amendments or self.tx_has_ddl else self._targets
        digest = self._seal_leaf(
            tx, written, written - self._rows_written, self._kinds, self._amendments, targets
        )
        self._kinds = []
        self._amendments = []
        return digest

    def _seal_leaf(
        self,
        tx: tuple[int, int],
        written: int,
        versions: int,
        kinds: Sequence[str],
        amendments: Sequence[Any],
        targets: Iterable[str] | None,
    ) -> str:
        """Append transaction ``tx``'s leaf to the ledger; returns its hash (hex).

        ``written``: rows changed since its record; ``versions``: how many of those are
        history versions; ``targets``: the tables its statements write, a hint for finding
        them (None: not known).
        """
        assert self.ledger is not None
        if self.backend.compiled:
            # SQLite compiled something: perhaps because another connection changed the
            # schema (a table it created, which this write filled). The leaf must count that
            # table's versions, so the catalog is brought up to date first.
            self.refresh_catalog()
        tables = self.ledger.table_ids(tuple(targets)) if targets else None
        digest = self.ledger.seal(
            tx[0],
            tx[1],
            self.user,
            kinds,
            amendments,
            written,
            tables=tables,
            versions=versions,
        )
        return digest.hex()

    def _sealer(self, sql: str) -> Callable[[tuple[int, int], int, int], str | bytes]:
        """The ledger's seal of a one-statement transaction running ``sql``, for
        :meth:`SQLiteBackend.write_alone` to call with its counts before the commit; made
        once per statement text (every autocommit write asks for one).

        It returns the leaf's hash (hex), or the leaf itself when sealed by one statement:
        its hash is then computed only if the Result's ``tx_hash`` is asked for.
        """
        found = self._sealers.get(sql)
        if found is not None:
            return found
        kinds, targets = _seal_hint(sql)
        ledger = self.ledger
        assert ledger is not None
        alone = targets[0] if targets is not None else None
        backend = self.backend
        seal_alone = ledger.seal_alone

        def seal(tx: tuple[int, int], changed: int, own: int) -> str | bytes:
            versions = changed - (own if own > 0 else 0)
            # One history write to the table it names: sealed by one statement, unless
            # SQLite compiled something since the catalog was read (see _seal_leaf).
            if versions == 1 and alone is not None and not backend.compiled:
                leaf = seal_alone(tx[0], tx[1], self.user, kinds, alone)
                if leaf is not None:
                    return leaf
            return self._seal_leaf(tx, changed, versions, kinds, (), targets)

        if len(self._sealers) >= _SEALERS:
            self._sealers.clear()
        self._sealers[sql] = seal
        return seal

    def _note_statement(self, sql: str) -> None:
        """Note a plain write's kind and table for the open transaction's seal (what
        :meth:`_note_target` and the kind list note, from the statement's cached hint)."""
        kinds, targets = _seal_hint(sql)
        kind = kinds[0]
        if kind not in self._kinds:
            self._kinds.append(kind)
        noted = self._targets
        if noted is not None:
            if targets is None:
                self._targets = None
            else:
                noted.add(targets[0])

    def _note_target(self, sql: str | None, ddl: bool) -> None:
        """Add the table ``sql`` writes to the seal's hint (only the ledger reads it)."""
        if self.ledger is None or self._targets is None:
            return
        target = None if sql is None or ddl else write_target(sql)
        if target is None:
            self._targets = None
        else:
            self._targets.add(target)

    def store_leaves(self, *, merkle: bool = True) -> bool:
        """Index the ledger's pending leaves (and, ``merkle``, store their tree nodes) in a
        write transaction of its own. False if this connection cannot now: read-only, or
        inside a transaction; its ledger then keeps the unindexed leaves in memory."""
        ledger = self.ledger
        assert ledger is not None
        if self.read_only or self.explicit:
            ledger.refresh()
            return False
        with self.lock:
            self.backend.begin()
            try:
                self.refresh_catalog()  # the leaves on tables another process made
                ledger.index()
                if merkle:
                    ledger.catch_up()
                self.backend.commit()
            except BaseException:
                self.backend.rollback()
                raise
        return True

    def index_leaves(self) -> None:
        """Index the ledger's leaves still on history tails (inside a write transaction)."""
        if self.ledger is not None:
            self.ledger.index()

    def ledger_check(self, force: bool) -> Callable[[Any], None] | None:
        """What prune/erase ask before removing versions: do they still match the ledger?"""
        if self.ledger is None or force:
            return None
        return lambda txs: check_unchanged(self.conn, self.catalog, txs)

    def amend(self, touched: set[tuple[int, int]]) -> None:
        """Record the new digests of earlier transactions whose versions were just removed."""
        if self.ledger is None:
            return
        by_tx: dict[int, set[int]] = {}
        for tx_id, table_id in touched:
            by_tx.setdefault(tx_id, set()).add(table_id)
        for tx_id in sorted(by_tx):
            now = {t: (n, d) for t, n, d in table_digests(self.conn, self.catalog, tx_id)}
            for table_id in sorted(by_tx[tx_id]):
                versions, digest = now.get(table_id, (0, EMPTY_DIGEST))
                self._amendments.append(Amendment(tx_id, table_id, versions, digest))
