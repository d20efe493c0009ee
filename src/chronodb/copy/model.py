"""What a copy carries from one backend to the other, in neither backend's layout.

A source reader (``sqlite_source.py``) fills a :class:`Dump`; a destination writer
(``postgres_target.py``) installs it. Everything the audit ledger seals is carried as it was
written: transaction ids and times, users, table numbers, the leaves' bytes, and each
version's values, so the copy's ledger has the source's leaves and root.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from chronodb.audit.merkle import MemoryNodeStore, MerkleTree
from chronodb.audit.proofs import leaf_hash
from chronodb.versioning.catalog import SchemaVersion
from chronodb.versioning.views import ViewDefinition

Progress = Callable[[int, int], None]
"""Called with (done so far, all there is to do) as a copy goes: versions, or for a file
copied to a file, pages."""

EVERY = 1000
"""Versions between two progress reports."""


def reporting(
    items: Iterator[Version], done: int, total: int, progress: Progress | None
) -> Iterator[Version]:
    """``items``, calling ``progress`` every :data:`EVERY` of them (counting on from ``done``)."""
    if progress is None:
        yield from items
        return
    for count, item in enumerate(items, 1):
        yield item
        if count % EVERY == 0:
            progress(done + count, total)


class Refused(Exception):
    """What a copy cannot do, in words for the user (``copy/__init__.py`` raises it as a
    CopyError naming the databases)."""


@dataclass(frozen=True, slots=True)
class Transaction:
    """One committed write transaction: its id, time (µs since the epoch), user and leaf."""

    tx_id: int
    tx_time: int
    user: str
    leaf: bytes | None


@dataclass(frozen=True, slots=True)
class Version:
    """One history row: the transaction that wrote it, its op, its values by history
    column (a tombstone holds its key's only)."""

    tx_id: int
    op: str
    values: dict[str, object]


@dataclass
class Table:
    """One versioned table, live or dropped, with every shape it had (oldest first)."""

    table_id: int
    shapes: list[SchemaVersion]
    kinds: dict[str, str] = field(default_factory=dict)
    """Each history column's storage class in the source: 'integer', 'real', 'text', 'blob',
    or '' where every value is NULL (then ``affinity`` decides)."""
    affinity: dict[str, str] = field(default_factory=dict)
    """Each history column's declared type, from its newest shape."""
    native: dict[str, str] = field(default_factory=dict)
    """Each history column's PostgreSQL type, when the source is PostgreSQL (empty else)."""
    counts: dict[int, int] = field(default_factory=dict)
    """Versions per transaction id."""

    @property
    def live(self) -> SchemaVersion | None:
        last = self.shapes[-1]
        return last if last.to_tx is None else None

    @property
    def history_columns(self) -> list[str]:
        """Every history column any shape had, in the order they appeared."""
        seen: dict[str, None] = {}
        for shape in self.shapes:
            for column in shape.columns:
                seen.setdefault(column.hist, None)
        return list(seen)


@dataclass
class Dump:
    """A database's history, ledger and schema over time, read in one snapshot."""

    transactions: list[Transaction]
    tables: list[Table]
    views: list[ViewDefinition]
    views_now: dict[str, str]
    """The views the source holds now: name -> CREATE VIEW statement."""
    erasures: list[tuple[str, str, int, int, str | None, str | None]]
    """(table, key JSON, versions, tx_id, user, reason) of every erased key."""
    digests: list[tuple[int, bytes, float, bytes | None, bytes | None]]
    """Saved digests: (tree size, root, created, signature, public key)."""
    versions: Callable[[Table], Iterator[Version]]
    """A table's history in transaction order, each transaction's versions in the order its
    ledger digests them (read while the source's snapshot is open). Values are as SQLite
    holds them: an integer, a float, a string, bytes or None."""
    current: Callable[[Table], Iterator[tuple[object, ...]]]
    """A live table's rows now, in its live shape's column order."""

    @property
    def total_versions(self) -> int:
        return sum(sum(t.counts.values()) for t in self.tables)

    def ledger(self) -> tuple[int, str]:
        """The Merkle tree over the leaves read: its size and root (hex), as the source's
        ``audit_trail.digest()`` gives them for the same state."""
        tree = MerkleTree(MemoryNodeStore())
        tree.append_leaf_hashes(leaf_hash(t.leaf) for t in self.transactions if t.leaf)
        return tree.size, tree.root().hex()
