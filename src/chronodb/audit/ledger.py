"""The ledger's storage: one leaf per committed write transaction, and the Merkle tree over them.

``seal`` runs inside the writing transaction, just before COMMIT, so a transaction and its
leaf are committed together or not at all. The leaf goes into the ``_chrono_leaf`` column of
the transaction's last history row in one of the tables it wrote: a page the write dirties
anyway (a transaction that wrote no version, such as DDL, a prune or an erasure, puts it in
a ``_chrono_tx`` record instead). Leaves are *indexed* later: copied, in transaction order
with their position in the log and their hash, into ``_chrono_tx`` records (the view
``_chrono_ledger`` shows them). Writers index every ``INDEX_EVERY`` seals, before any seal
that needs a record, before pruning or erasing history, and on close; a reader that can
write indexes before it reads, and one that cannot keeps the unindexed leaves in memory
(:meth:`Ledger.refresh`). The Merkle nodes and the hash -> transaction index are stored
later still, the same way, every ``BATCH`` leaves at least. A reader that cannot write
completes the stored tree in memory (``view()``, cached and extended as leaves arrive).
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable, Iterator, Sequence, Set
from typing import Literal

from chronodb.audit.digests import (
    UNSCALED,
    edge,
    newest_digests,
    one_version,
    shape_at,
    text_columns,
)
from chronodb.audit.leaf import NO_AMENDMENTS, Amendment, header, one_prefix
from chronodb.audit.leaf import encode as encode_leaf
from chronodb.audit.merkle import MemoryNodeStore, MerkleTree, Node, SQLiteNodeStore
from chronodb.audit.proofs import leaf_hash
from chronodb.layout import (
    DIGESTS,
    LEAF,
    LEAF_OF_ONE,
    LEDGER,
    LEDGER_HASH,
    MERKLE,
    SEQ,
    TRANSACTIONS,
    TX,
)
from chronodb.versioning.catalog import Catalog, SchemaVersion
from chronodb.versioning.tables import qualified, seq_after

_sha256 = hashlib.sha256

BATCH = 65_536
INDEX_EVERY = BATCH  # seals between a writer's indexings: the backlog a reader may meet

LEDGER_DDL = (
    f"CREATE VIEW IF NOT EXISTS {LEDGER} AS SELECT tx_id, leaf_index, leaf, leaf_hash "
    f"FROM {TRANSACTIONS} WHERE leaf IS NOT NULL",
    f"CREATE TABLE IF NOT EXISTS {LEDGER_HASH} ("
    " leaf_hash BLOB PRIMARY KEY,"
    " tx_id INTEGER NOT NULL) WITHOUT ROWID",
    f"CREATE TABLE IF NOT EXISTS {DIGESTS} ("
    " tree_size INTEGER PRIMARY KEY,"
    " root BLOB NOT NULL,"
    " created REAL NOT NULL,"
    " signature BLOB,"
    " public_key BLOB)",
)
OBJECTS = frozenset((LEDGER, LEDGER_HASH, DIGESTS, MERKLE))

_NEWEST = (
    f"SELECT leaf_index, tx_id, CAST(leaf_hash AS BLOB) FROM main.{TRANSACTIONS} "
    "WHERE leaf_index IS NOT NULL ORDER BY tx_id DESC LIMIT ?"
)
_INDEXED = (
    f"SELECT tx_id, leaf_index FROM main.{TRANSACTIONS} WHERE leaf_index IS NOT NULL "
    "ORDER BY tx_id DESC LIMIT 1"
)
_INDEX = (
    f"INSERT INTO main.{TRANSACTIONS} (tx_id, tx_time, user, leaf_index, leaf, leaf_hash) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (tx_id) DO UPDATE SET "
    "leaf_index = excluded.leaf_index, leaf = excluded.leaf, leaf_hash = excluded.leaf_hash"
)


def create(conn: sqlite3.Connection) -> None:
    have = {r[1] for r in conn.execute(f"PRAGMA main.table_info({TRANSACTIONS})")}
    for column, kind in (("leaf_index", "INTEGER"), ("leaf", "BLOB"), ("leaf_hash", "BLOB")):
        if column not in have:  # a file made before the ledger kept its leaves here
            conn.execute(f"ALTER TABLE {TRANSACTIONS} ADD COLUMN {column} {kind}")
    for statement in LEDGER_DDL:
        conn.execute(statement)
    SQLiteNodeStore(conn)  # creates _chrono_merkle


class _Overlay:
    """A node store that reads through to the stored tree and keeps new nodes in memory."""

    def __init__(self, base: SQLiteNodeStore) -> None:
        self.base = base
        self.extra = MemoryNodeStore()
        self._base_count = base.leaf_count()

    def get(self, level: int, index: int) -> bytes | None:
        found = self.extra.get(level, index)
        return found if found is not None else self.base.get(level, index)

    def put(self, level: int, index: int, digest: bytes) -> None:
        self.extra.put(level, index, digest)

    def put_many(self, nodes: Iterable[Node]) -> None:
        self.extra.put_many(nodes)

    def leaf_count(self) -> int:
        return max(self._base_count, self.extra.leaf_count())


def unindexed_leaves(
    conn: sqlite3.Connection, catalog: Catalog, after: int, upto: int | None = None
) -> list[tuple[int, bytes]]:
    """(tx_id, leaf) of the leaves on history tails of the transactions in ``(after, upto]``,
    in transaction order: those not indexed yet when ``after`` is the last indexed one."""
    found: dict[int, bytes] = {}
    bound = "" if upto is None else " AND {seq} < {upto}"
    for hist in sorted({v.hist for v in catalog.versions}):
        h = qualified(hist)
        below = bound.format(seq=SEQ, upto=seq_after(h, "?2"))
        try:
            rows = conn.execute(
                f"SELECT {TX}, CAST({LEAF} AS BLOB) FROM {h} "
                f"WHERE {SEQ} >= {seq_after(h, '?1')}{below} AND {LEAF} IS NOT NULL",
                (after,) if upto is None else (after, upto),
            ).fetchall()
        except sqlite3.OperationalError:  # a file not yet upgraded, open read-only
            continue
        for tx, blob in rows:
            found[tx] = bytes(blob)
    return sorted(found.items())


_OnePlans = tuple[list, int, dict[int, str | None], dict[str, tuple[int, str] | Literal[False]]]
"""(versions list, its edge, statements by table id, (table id, statement) by name)."""


class Ledger:
    """Appends leaves; indexes them; reads them back by transaction or by hash."""

    def __init__(self, conn: sqlite3.Connection, catalog: Catalog) -> None:
        self.conn = conn
        self.catalog = catalog
        self.store = SQLiteNodeStore(conn)
        self.tree = MerkleTree(self.store)  # the stored tree: may lag by < BATCH leaves
        # (stored size, total, tree, pending hash -> tx) of the last view()
        self._view: tuple[int, int, MerkleTree, dict[bytes, int]] | None = None
        self._since_index = 0  # seals since this ledger last indexed
        # The UPDATE that puts a leaf on a table's history tail, by table id, for the
        # catalog's versions list it was built from (a table's live shape names its history)
        self._tail_sql: tuple[list, dict[int, str]] | None = None
        # A reader's unindexed leaves (see refresh): (leaf_index, tx_id, leaf, leaf_hash)
        self._unindexed: list[tuple[int, int, bytes, bytes]] = []
        # The one-version seal's statements (see _one_plans) for a catalog's versions list;
        # the leaf's bytes before its digest while _run_one runs (see leaf.one_prefix),
        # and the leaf it made
        self._one_sql: _OnePlans | None = None
        self._one: bytes | None = None
        self._one_leaf: bytes | None = None
        # Table ids by the names statements write (see table_ids), for a versions list
        self._ids: tuple[list, dict[tuple[str, ...], frozenset[int] | None]] | None = None
        conn.create_function(LEAF_OF_ONE, 1, self._leaf_of_one)
        self._cursor = conn.cursor()  # _seal_one's: each statement runs to completion

    def seal(
        self,
        tx_id: int,
        tx_time: int,
        user: str,
        kinds: Sequence[str],
        amendments: Sequence[Amendment] = (),
        written: int = 0,
        *,
        tables: Set[int] | None = None,
        versions: int | None = None,
    ) -> bytes:
        """Add the leaf of the open transaction ``tx_id``; returns its hash.

        ``written``: rows the transaction changed (an upper bound on the versions it wrote).
        ``tables`` and ``versions``: where its versions probably are, and how many history
        writes it made (see :func:`newest_digests`).
        """
        one = None
        if versions == 1 and not amendments and tables is not None and len(tables) == 1:
            one = self._seal_one(tx_id, tx_time, user, kinds, next(iter(tables)))
        if one is not None:
            leaf, on_tail = one, True
        else:
            found = newest_digests(self.conn, self.catalog, tx_id, written, tables, versions)
            tables_ = [row[:3] for row in found]
            leaf = encode_leaf(tx_id, tx_time, user, kinds, tables_, amendments)
            on_tail = self._on_tail(tx_id, found, leaf)
        digest = leaf_hash(leaf)
        if on_tail:
            self._since_index += 1
            if self._since_index >= INDEX_EVERY:
                self.index()
        else:
            self.index()  # the record's leaf follows every leaf before it
            self._append([(tx_id, tx_time, user, leaf, digest)])
        return digest

    def table_ids(self, names: tuple[str, ...]) -> frozenset[int] | None:
        """The ids of the tables ``names`` (as statements name them), None if one is not
        a versioned table now."""
        catalog = self.catalog
        cached = self._ids
        if cached is None or cached[0] is not catalog.versions:
            cached = self._ids = (catalog.versions, {})
        ids = cached[1]
        if names not in ids:
            found = [catalog.current(name) for name in names]
            ids[names] = (
                frozenset(sv.table_id for sv in found if sv is not None) if all(found) else None
            )
        return ids[names]

    def seal_alone(
        self, tx_id: int, tx_time: int, user: str, kinds: tuple[str, ...], name: str
    ) -> bytes | None:
        """Seal a one-statement transaction that made one history write, to the table a
        statement calls ``name``, in one statement; returns the leaf, or None if it must be
        sealed the general way (:meth:`seal`).

        The commonest seal (an autocommit UPDATE or DELETE of one row): the statement is
        found by the name alone, without going through the table ids.
        """
        plans = self._one_plans(tx_id)
        if plans is None:
            return None
        by_name = plans[3]
        plan = by_name.get(name)
        if plan is None:
            sv = self.catalog.current(name)
            plan = by_name[name] = False if sv is None else (sv.table_id, self._one_version(sv))
        if not plan:
            return None
        table_id, sql = plan
        leaf = self._run_one(sql, tx_id, one_prefix(tx_id, tx_time, user, kinds, table_id))
        if leaf is None:
            return None
        self._since_index += 1
        if self._since_index >= INDEX_EVERY:
            self.index()
        return leaf

    def _seal_one(
        self, tx_id: int, tx_time: int, user: str, kinds: Sequence[str], table_id: int
    ) -> bytes | None:
        """Seal a transaction that made one history write, to table ``table_id``, in one
        statement; returns its leaf, or None if it must be sealed the general way.

        That write made one version; if the table's last version is the transaction's, that
        is it, and no other table holds one (see :func:`newest_digests`). The statement puts
        the leaf on that version, made from its canonical JSON by :meth:`_leaf_of_one`
        (``one_version``), so the version is read once and no second statement runs.
        """
        plans = self._one_plans(tx_id)
        if plans is None:
            return None
        by_id = plans[2]
        if table_id not in by_id:
            sv = shape_at(self.catalog, table_id, tx_id)
            by_id[table_id] = None if sv is None else self._one_version(sv)
        sql = by_id[table_id]
        if sql is None:
            return None
        return self._run_one(sql, tx_id, one_prefix(tx_id, tx_time, user, tuple(kinds), table_id))

    def _one_version(self, sv: SchemaVersion) -> str:
        """The one-version seal's statement for shape ``sv`` (see :func:`one_version`)."""
        return one_version(sv, text_columns(self.conn, sv))

    def _one_plans(self, tx_id: int) -> _OnePlans | None:
        """The one-version seal's statements, for the catalog now: by table id, and (table
        id, statement) by the name a statement writes (False: no versioned table). None if
        a shape begins or ends at or after ``tx_id``: such a transaction is sealed the
        general way."""
        catalog = self.catalog
        cached = self._one_sql
        if cached is None or cached[0] is not catalog.versions:
            cached = self._one_sql = (catalog.versions, edge(catalog.versions), {}, {})
        return None if tx_id <= cached[1] else cached

    def _run_one(self, sql: str, tx_id: int, prefix: bytes) -> bytes | None:
        """Run a one-version seal ``sql`` for transaction ``tx_id``, whose leaf begins with
        ``prefix`` (see :func:`one_prefix`); returns the leaf it put on the version, None if
        it put none."""
        self._one, self._one_leaf = prefix, None
        try:
            self._cursor.execute(sql, (tx_id,))
        except UNSCALED:
            return None  # a REAL to scale: the general way does
        finally:
            self._one = None
        leaf, self._one_leaf = self._one_leaf, None
        return leaf

    def _leaf_of_one(self, version: str) -> bytes | None:
        """The leaf of :meth:`_run_one`'s transaction, whose one version's canonical JSON
        is ``version``."""
        prefix = self._one
        if prefix is None:
            return None
        digest = _sha256(("[" + version + "]").encode()).digest()  # as digests.digest_of
        leaf = self._one_leaf = prefix + digest + NO_AMENDMENTS
        return leaf

    def _on_tail(
        self, tx_id: int, found: Sequence[tuple[int, int, bytes, int]], leaf: bytes
    ) -> bool:
        """Put ``leaf`` on the transaction's last version in a table it wrote, if any.

        ``found``: :func:`newest_digests`' rows, which say where that version is.
        """
        catalog = self.catalog
        cached = self._tail_sql
        if cached is None or cached[0] is not catalog.versions:
            cached = self._tail_sql = (catalog.versions, {})
        statements = cached[1]
        for table_id, count, _, last in found:
            if not count:
                continue
            sql = statements.get(table_id)
            if sql is None:
                sv = shape_at(catalog, table_id, tx_id)
                if sv is None:
                    continue
                sql = statements[table_id] = (
                    f"UPDATE {qualified(sv.hist)} SET {LEAF} = ?1 WHERE {SEQ} = ?2"
                )
            if self.conn.execute(sql, (leaf, last)).rowcount == 1:
                return True
        return False

    def _append(self, leaves: Iterable[tuple[int, int, str, bytes, bytes]]) -> None:
        """Index leaves (tx_id, tx_time, user, leaf, hash), in order, after the last one."""
        size = self.indexed_size
        self.conn.executemany(
            _INDEX,
            (
                (tx, at, who, size + i, leaf, digest)
                for i, (tx, at, who, leaf, digest) in enumerate(leaves)
            ),
        )

    def index(self) -> int:
        """Index the leaves still on history tails (inside a write); returns how many.

        Stores the pending Merkle nodes too once they are ``BATCH`` behind.
        """
        self._since_index = 0
        _, waiting = self._waiting()
        if waiting:
            heads = [(tx, header(blob), blob) for tx, blob in waiting]
            self._append((tx, at, who, blob, leaf_hash(blob)) for tx, (_, at, who), blob in heads)
        self._unindexed = []
        if self.size - self.tree.size >= BATCH:
            self.catch_up()
        return len(waiting)

    def refresh(self) -> None:
        """For a reader that cannot write: find the leaves not indexed yet, keep them here."""
        size, waiting = self._waiting()
        self._unindexed = [
            (size + i, tx, blob, leaf_hash(blob)) for i, (tx, blob) in enumerate(waiting)
        ]

    def _waiting(self) -> tuple[int, list[tuple[int, bytes]]]:
        """How many leaves are indexed, and (tx_id, leaf) of those still on history rows."""
        last = self.conn.execute(_INDEXED).fetchone()
        after, size = (0, 0) if last is None else (last[0], last[1] + 1)
        return size, unindexed_leaves(self.conn, self.catalog, after)

    def rolled_back(self) -> None:
        """The open transaction was rolled back, perhaps after its seal: nothing to forget
        (its leaf went with its rows), but count again from the last indexing."""
        self._since_index = 0

    def pending(self) -> list[tuple[int, int, bytes]]:
        """(leaf_index, tx_id, leaf_hash) of the leaves not yet in the stored tree."""
        waiting = self.indexed_size - self.tree.size
        rows = self.conn.execute(_NEWEST, (waiting,)).fetchall() if waiting > 0 else []
        out = [(i, t, bytes(h)) for i, t, h in reversed(rows)]
        return out + [(i, t, h) for i, t, _, h in self._unindexed]

    def catch_up(self) -> int:
        """Store the indexed leaves' pending Merkle nodes and hash entries (inside a write)."""
        rows = [row for row in self.pending() if row[0] < self.indexed_size]
        if rows:
            self.tree.append_leaf_hashes(h for _, _, h in rows)
            self.conn.executemany(
                f"INSERT INTO main.{LEDGER_HASH} (leaf_hash, tx_id) VALUES (?, ?)",
                ((h, t) for _, t, h in rows),
            )
        return len(rows)

    def view(self) -> MerkleTree:
        """The tree over every committed leaf, without writing: pending ones in memory."""
        stored, total = self.tree.size, self.size
        cached = self._view
        if cached is not None and cached[0] == stored and cached[1] <= total:
            _, seen, tree, hashes = cached
            if seen < total:
                new = [(t, h) for i, t, h in self.pending() if i >= seen]
                tree.append_leaf_hashes(h for _, h in new)
                hashes.update((h, t) for t, h in new)
        else:
            tree = MerkleTree(_Overlay(self.store))
            rows = self.pending()
            tree.append_leaf_hashes(h for _, _, h in rows)
            hashes = {h: t for _, t, h in rows}
        self._view = (stored, total, tree, hashes)
        return tree

    def leaf_of(self, tx_id: int) -> tuple[int | None, bytes] | None:
        """(leaf_index, leaf) of one transaction, indexed or not (index None: not yet)."""
        row = self.conn.execute(
            f"SELECT leaf_index, CAST(leaf AS BLOB) FROM main.{TRANSACTIONS} "
            "WHERE tx_id = ? AND leaf IS NOT NULL",
            (tx_id,),
        ).fetchone()
        if row is not None:
            return row[0], bytes(row[1])
        for index, tx, blob, _ in self._unindexed:
            if tx == tx_id:
                return index, blob
        for _, blob in unindexed_leaves(self.conn, self.catalog, tx_id - 1, tx_id):
            return None, blob
        return None

    def hash_of(self, tx_id: int) -> bytes | None:
        found = self.leaf_of(tx_id)
        return None if found is None else leaf_hash(found[1])

    def leaves_after(self, tx_id: int) -> Iterator[bytes]:
        """The leaves of the transactions after ``tx_id``, in order (the reader's view)."""
        for (blob,) in self.conn.execute(
            f"SELECT CAST(leaf AS BLOB) FROM main.{TRANSACTIONS} "
            "WHERE tx_id > ? AND leaf IS NOT NULL ORDER BY tx_id",
            (tx_id,),
        ):
            yield bytes(blob)
        for _, tx, blob, _ in self._unindexed:
            if tx > tx_id:
                yield blob

    def find(self, digest: bytes) -> tuple[int, int, bytes] | None:
        """(leaf_index, tx_id, leaf) of the indexed leaf with this hash."""
        row = self.conn.execute(
            f"SELECT tx_id FROM main.{LEDGER_HASH} WHERE leaf_hash = ?", (digest,)
        ).fetchone()
        if row is not None:
            tx_id = row[0]
        else:
            self.view()
            assert self._view is not None
            tx_id = self._view[3].get(digest)
        if tx_id is None:
            return None
        found = self.leaf_of(tx_id)
        if found is None or found[0] is None or leaf_hash(found[1]) != digest:
            return None
        return found[0], tx_id, found[1]

    @property
    def indexed_size(self) -> int:
        last = self.conn.execute(_INDEXED).fetchone()
        return 0 if last is None else last[1] + 1

    @property
    def size(self) -> int:
        """Leaves indexed, and those this reader found unindexed (see :meth:`refresh`)."""
        return self.indexed_size + len(self._unindexed)
