"""Full verification: recompute every digest from the stored rows and compare with the ledger.

What is checked, in order:

0. the file itself: SQLite's ``integrity_check`` (``quick=True``: ``quick_check``) of every
   page and index (``storage/filecheck.py`` says what each costs and misses); a damaged
   file is reported as problems of kind "file damaged", and reading on past the damage
   reports what it could not read the same way, never raising;
1. every leaf decodes and hashes to its stored ``leaf_hash``; leaf indexes have no gaps;
2. every transaction record (``_chrono_tx``) has a leaf, every leaf a record, and they
   agree on time and user;
3. the Merkle root recomputed from the leaves equals the stored tree's root and every
   saved digest (``_chrono_digests``) at its size;
4. every transaction's row versions, table by table, hash to the digest its leaf (or a
   later pruning/erasure amendment) recorded;
5. every current table equals its history's newest versions.

What it cannot catch: someone who rewrites the whole file and recomputes every hash. A
digest kept elsewhere (``AuditTrail.digest()`` exported to a file) catches that.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from chronodb.audit.digests import EMPTY, scan
from chronodb.audit.leaf import Leaf
from chronodb.audit.ledger import BATCH, unindexed_leaves
from chronodb.audit.merkle import MemoryNodeStore, MerkleTree, SQLiteNodeStore
from chronodb.audit.proofs import HASH_SIZE, leaf_hash
from chronodb.errors import AuditError, CorruptDatabaseError
from chronodb.layout import (
    DELETED,
    DIGESTS,
    LEDGER,
    LEDGER_HASH,
    MERKLE,
    NEWEST,
    OP,
    ROWID_KEY,
    TRANSACTIONS,
    TX,
)
from chronodb.storage.filecheck import file_problems
from chronodb.versioning.catalog import Catalog, SchemaVersion
from chronodb.versioning.tables import qualified, quote

_CURRENT = ("current row",)
DAMAGED = "file damaged"


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing found wrong: ``kind`` says what, ``detail`` says how."""

    kind: str
    detail: str
    tx_id: int | None = None
    table: str | None = None
    row: Any = None


@dataclass
class VerificationReport:
    ok: bool
    checked: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    tree_size: int = 0
    root: str | None = None

    @property
    def first_problem(self) -> Problem | None:
        """A damaged file first, else the earliest problem in the ledger or history, else
        in the current tables.

        Current tables are checked against history, so a damaged history also shows there;
        the history problem is the cause (and damage to the file, of both).
        """
        for group in (
            [p for p in self.problems if p.kind == DAMAGED],
            [p for p in self.problems if not p.kind.startswith(_CURRENT)],
            self.problems,
        ):
            with_tx = [p for p in group if p.tx_id is not None]
            if with_tx:
                return min(with_tx, key=lambda p: p.tx_id or 0)
            if group:
                return group[0]
        return None

    def __bool__(self) -> bool:
        return self.ok

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        first = self.first_problem
        data["first_problem"] = asdict(first) if first else None
        return data

    def summary(self) -> str:
        head = "OK" if self.ok else f"FAILED ({len(self.problems)} problem(s))"
        counts = ", ".join(f"{v} {k}" for k, v in self.checked.items())
        lines = [f"Audit verification {head}: checked {counts} in {self.seconds:.2f}s"]
        first = self.first_problem
        if first:
            where = " ".join(
                x
                for x in (
                    f"tx {first.tx_id}" if first.tx_id is not None else "",
                    f"table {first.table}" if first.table else "",
                    f"row {first.row!r}" if first.row is not None else "",
                )
                if x
            )
            at = f" at {where}" if where else ""
            lines.append(f"first problem: {first.kind}{at}: {first.detail}")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def check_digests(
    saved: Iterable[tuple[int, bytes]], tree: MerkleTree, report: VerificationReport
) -> None:
    """Compare each saved digest (tree size, root) with ``tree`` (every leaf, recomputed):
    one that no longer matches means the ledger was rewritten since it was taken."""
    checked = 0
    for tree_size, saved_root in saved:
        checked += 1
        if tree_size > tree.size or tree.root(tree_size) != bytes(saved_root):
            report.problems.append(
                Problem(
                    "history rewritten",
                    f"the saved digest of size {tree_size} no longer matches the ledger",
                )
            )
    report.checked["digests"] = checked


def _table_names(catalog: Catalog) -> dict[int, str]:
    names: dict[int, str] = {}
    for v in catalog.versions:
        names[v.table_id] = v.name
    return names


def _check_nodes(
    conn: sqlite3.Connection,
    store: MemoryNodeStore,
    tx_of_index: list[int],
    bad_leaves: set[int],
) -> list[Problem]:
    """Compare every stored node with the tree recomputed from the leaf hashes.

    A leaf node that differs names its transaction; inner nodes are reported only when no
    leaf explains them (an edited leaf changes every node above it).
    """
    found = 0
    leaf_level: list[Problem] = []
    inner: list[Problem] = []
    for level, idx, digest in conn.execute(
        f"SELECT level, idx, CAST(hash AS BLOB) FROM main.{MERKLE} ORDER BY level, idx"
    ):
        want = store.get(level, idx)
        found += want is not None
        if want is None or want == bytes(digest):
            continue
        where = f"node (level {level}, index {idx}) differs from the leaves"
        if level == 0:
            if idx not in bad_leaves:
                leaf_level.append(Problem("merkle tree edited", where, tx_of_index[idx]))
        elif not bad_leaves:
            inner.append(Problem("merkle tree edited", where))
    out = leaf_level or inner[:1]
    if found < len(store):
        out.append(Problem("merkle tree edited", f"{len(store) - found} node(s) are missing"))
    return out


def _wrote_history(conn: sqlite3.Connection, catalog: Catalog, tx_id: int) -> bool:
    for hist in sorted({v.hist for v in catalog.versions}):
        found = conn.execute(
            f"SELECT 1 FROM {qualified(hist)} WHERE {TX} = ? LIMIT 1", (tx_id,)
        ).fetchone()
        if found:
            return True
    return False


def _check_hash_index(
    conn: sqlite3.Connection, hashes: list[bytes], tx_of_index: list[int], stored_size: int
) -> list[Problem]:
    """Every leaf in the stored tree has exactly one hash -> transaction entry."""
    want = {hashes[i]: tx_of_index[i] for i in range(stored_size)}
    got = {
        bytes(h): t
        for h, t in conn.execute(f"SELECT CAST(leaf_hash AS BLOB), tx_id FROM main.{LEDGER_HASH}")
    }
    if got == want:
        return []
    wrong = sorted(
        {t for h, t in got.items() if want.get(h) != t}
        | {t for h, t in want.items() if got.get(h) != t}
    )
    return [
        Problem(
            "ledger hash index edited",
            f"{len(wrong)} entry(ies) of {LEDGER_HASH} differ from the leaves",
            wrong[0] if wrong else None,
        )
    ]


def _check_current(conn: sqlite3.Connection, sv: SchemaVersion, limit: int = 5) -> list[Problem]:
    """Rows of the current table that differ from the newest version of their key.

    Each differing key is named, with the transaction of the version it should equal: an
    edited row has a live version, a deleted one a live version but no row, an inserted one
    no live version.
    """
    hist, table = qualified(sv.hist), qualified(sv.name)
    rowid = sv.keys == (ROWID_KEY,)
    cur_keys = ["rowid"] if rowid else [quote(c.name) for c in sv.key_columns]
    hist_keys = [quote(k) for k in sv.keys]
    # Values compare exactly: BINARY whatever the column's collation, and storage class too
    # (EXCEPT takes 'alice' = 'ALICE' under NOCASE, and 5 = 5.0); the keys come first.
    cur = ", ".join(
        [f"{k} COLLATE BINARY" for k in cur_keys]
        + [f"{quote(c.name)} COLLATE BINARY, typeof({quote(c.name)})" for c in sv.columns]
    )
    old = ", ".join(f"h.{k}" for k in hist_keys) + "".join(
        f", h.{quote(c.hist)} COLLATE BINARY, typeof(h.{quote(c.hist)})" for c in sv.columns
    )
    # A key's newest version has its largest _chrono_seq (history is append-only), so one
    # pass over the key index finds them all, instead of one seek per key.
    conn.execute(f"DROP TABLE IF EXISTS temp.{NEWEST}")
    conn.execute(
        f"CREATE TEMP TABLE {NEWEST} AS SELECT {old} FROM {hist} AS h WHERE h.rowid IN "
        f"(SELECT max(rowid) FROM {hist} GROUP BY {', '.join(hist_keys)}) AND h.{OP} <> '{DELETED}'"
    )
    newest = f"SELECT * FROM temp.{NEWEST}"
    n = len(cur_keys)
    try:
        edited = [tuple(r)[:n] for r in conn.execute(f"SELECT {cur} FROM {table} EXCEPT {newest}")]
        gone = [tuple(r)[:n] for r in conn.execute(f"{newest} EXCEPT SELECT {cur} FROM {table}")]
    finally:
        conn.execute(f"DROP TABLE IF EXISTS temp.{NEWEST}")
    by_key = " AND ".join(f"{k} IS ?" for k in hist_keys)
    here = " AND ".join(f"{k} IS ?" for k in cur_keys)
    problems = []
    for key in list(dict.fromkeys(edited + gone))[:limit]:
        last = conn.execute(
            f"SELECT {TX}, {OP} FROM {hist} WHERE {by_key} ORDER BY {TX} DESC LIMIT 1", key
        ).fetchone()
        live = last is not None and last[1] != "D"
        exists = conn.execute(f"SELECT 1 FROM {table} WHERE {here}", key).fetchone()
        if not live:
            kind, detail = "current row inserted", "the row has no live version in history"
        elif exists:
            kind, detail = "current row edited", "the row differs from its newest version"
        else:
            kind, detail = "current row deleted", "the row's newest version is live"
        problems.append(
            Problem(
                kind,
                detail,
                last[0] if live else None,
                sv.name,
                key[0] if len(key) == 1 else key,
            )
        )
    return problems


def _leaves(
    conn: sqlite3.Connection, catalog: Catalog, unindexed: set[int]
) -> Iterator[tuple[int, int, bytes, bytes]]:
    """(leaf_index, tx_id, leaf, leaf_hash) of every leaf in order: the indexed ones (CAST: a
    tamperer may have stored text where a BLOB belongs), then those still on history rows,
    numbered after them; their transactions are added to ``unindexed``."""
    last_tx, size = 0, 0
    for index, tx_id, blob, stored in conn.execute(
        "SELECT leaf_index, tx_id, CAST(leaf AS BLOB), CAST(leaf_hash AS BLOB) "
        f"FROM main.{LEDGER} ORDER BY leaf_index"
    ):
        last_tx, size = max(last_tx, tx_id), index + 1
        yield index, tx_id, bytes(blob), bytes(stored)
    for i, (tx_id, blob) in enumerate(unindexed_leaves(conn, catalog, last_tx)):
        unindexed.add(tx_id)
        yield size + i, tx_id, blob, leaf_hash(blob)


def verify(
    conn: sqlite3.Connection,
    catalog: Catalog,
    progress: Callable[[int, int], None] | None = None,
    *,
    quick: bool = False,
) -> VerificationReport:
    """Check the file, then the ledger, history and tables against each other (see above)."""
    start = time.perf_counter()
    report = VerificationReport(ok=True)
    report.problems += [Problem(DAMAGED, line) for line in file_problems(conn, quick=quick)]
    report.checked["file"] = 1
    try:
        _verify(conn, catalog, progress, report)
    except (sqlite3.DatabaseError, CorruptDatabaseError) as err:
        report.problems.append(Problem(DAMAGED, f"verification stopped: {err}"))
    report.ok = not report.problems
    report.seconds = time.perf_counter() - start
    return report


def _verify(
    conn: sqlite3.Connection,
    catalog: Catalog,
    progress: Callable[[int, int], None] | None,
    report: VerificationReport,
) -> None:
    problems = report.problems
    names = _table_names(catalog)

    # 1. leaves
    leaves: dict[int, Leaf] = {}
    hashes: list[bytes] = []
    tx_of_index: list[int] = []
    bad_leaves: set[int] = set()
    missing_indexes: list[int] = []
    unindexed: set[int] = set()  # transactions whose leaves are still on history rows
    for index, tx_id, blob, stored in _leaves(conn, catalog, unindexed):
        missing_indexes += range(len(hashes), index)
        while len(hashes) < index:  # keep positions: index i is hashes[i]
            hashes.append(b"")
            tx_of_index.append(-1)
        hashes.append(stored)
        tx_of_index.append(tx_id)
        if tx_id not in unindexed and leaf_hash(blob) != stored:
            bad_leaves.add(index)
            problems.append(
                Problem("ledger leaf edited", "the leaf does not hash to its leaf_hash", tx_id)
            )
        try:
            leaf = Leaf.decode(blob)
        except AuditError as err:
            bad_leaves.add(index)
            problems.append(Problem("ledger leaf edited", str(err), tx_id))
            continue
        if leaf.tx_id != tx_id:
            bad_leaves.add(index)
            problems.append(Problem("ledger leaf edited", f"leaf names tx {leaf.tx_id}", tx_id))
        leaves[tx_id] = leaf
    report.checked["leaves"] = len(hashes) - len(missing_indexes)
    stored_tree = MerkleTree(SQLiteNodeStore(conn))
    size = max(len(hashes), stored_tree.size)
    missing_indexes += range(len(hashes), size)  # leaves deleted from the end

    # 2. transaction records; a record without a leaf is a deleted leaf where an index is
    # missing between its neighbours' leaves, else an inserted record
    tx_ids: set[int] = set()
    for tx_id, tx_time, user in conn.execute(
        f"SELECT tx_id, tx_time, user FROM main.{TRANSACTIONS} ORDER BY tx_id"
    ):
        tx_ids.add(tx_id)
        sealed = leaves.get(tx_id)
        if sealed is None:
            before = max((i for i, t in enumerate(tx_of_index) if 0 <= t < tx_id), default=-1)
            gap = [i for i in missing_indexes if i > before]
            after = min((i for i, t in enumerate(tx_of_index) if t > tx_id), default=size)
            if gap and gap[0] < after:
                missing_indexes.remove(gap[0])
                problems.append(
                    Problem("ledger leaf deleted", f"leaf index {gap[0]} is missing", tx_id)
                )
            elif _wrote_history(conn, catalog, tx_id):
                # The newest leaves may not be in the stored tree yet: a transaction whose
                # versions are in history lost its leaf; one with none was made up.
                problems.append(
                    Problem("ledger leaf deleted", "the transaction's leaf is missing", tx_id)
                )
            else:
                problems.append(
                    Problem(
                        "transaction record inserted", "no ledger leaf for this transaction", tx_id
                    )
                )
        elif sealed.tx_time != tx_time or sealed.user != (user or ""):
            problems.append(
                Problem("transaction record edited", "time or user differs from its leaf", tx_id)
            )
    missing_indexes_seen = bool(missing_indexes)
    for index in missing_indexes:
        problems.append(Problem("ledger leaf deleted", f"leaf index {index} is missing"))
    for tx_id in sorted(leaves.keys() - tx_ids - unindexed):
        problems.append(Problem("transaction record deleted", "leaf without a record", tx_id))
    report.checked["transactions"] = len(tx_ids)

    # 3. the stored Merkle tree, node by node, and the saved digests. The stored tree may
    # lag the leaves by fewer than BATCH (ledger.py): its nodes are compared with a tree of
    # the leaves it covers, the root and digests with the tree of all leaves.
    memory = MerkleTree(MemoryNodeStore())
    complete = len(hashes) == size and all(len(h) == HASH_SIZE for h in hashes)
    if complete:
        memory.append_leaf_hashes(hashes)
    report.tree_size = size
    if size and memory.size == size:
        report.root = memory.root().hex()
        stored_size = stored_tree.size
        if stored_size > size or size - stored_size >= BATCH:
            problems.append(
                Problem(
                    "merkle tree edited",
                    f"the stored tree covers {stored_size} of {size} leaves",
                )
            )
        else:
            covered = MemoryNodeStore()
            MerkleTree(covered).append_leaf_hashes(hashes[:stored_size])
            problems += _check_nodes(conn, covered, tx_of_index, bad_leaves)
            problems += _check_hash_index(conn, hashes, tx_of_index, stored_size)
    digests = conn.execute(f"SELECT tree_size, root FROM main.{DIGESTS} ORDER BY tree_size")
    check_digests(digests, memory, report)

    # 4. row versions against leaves (amendments from pruning and erasure win)
    expected: dict[tuple[int, int], tuple[int, bytes]] = {}
    for leaf in leaves.values():
        for t in leaf.tables:
            expected[(leaf.tx_id, t.table_id)] = (t.versions, t.digest)
    amended: set[tuple[int, int]] = set()
    for leaf in sorted(leaves.values(), key=lambda x: x.tx_id):
        for a in leaf.amendments:
            expected[(a.tx_id, a.table_id)] = (a.versions, a.digest)
            amended.add((a.tx_id, a.table_id))
    found: set[tuple[int, int]] = set()
    versions = 0
    total = sum(n for n, _ in expected.values())
    for tx_id, table_id, count, digest in scan(conn, catalog):
        versions += count
        if progress is not None:
            progress(versions, total)
        key = (tx_id, table_id)
        table = names.get(table_id)
        want = expected.get(key)
        if key in found:
            # History order is transaction order: these versions came after a later one's.
            problems.append(
                Problem(
                    "history rows inserted",
                    f"{count} version(s) out of transaction order in history",
                    tx_id,
                    table,
                )
            )
            continue
        found.add(key)
        if want is None and tx_id not in tx_ids and missing_indexes_seen:
            # Its record (which holds its leaf) is gone, but its versions are not.
            problems.append(
                Problem(
                    "transaction record deleted",
                    f"the record and leaf are gone; {count} version(s) remain in history",
                    tx_id,
                    table,
                )
            )
        elif want is None:
            problems.append(
                Problem(
                    "history rows inserted",
                    f"{count} version(s) with no ledger entry",
                    tx_id,
                    table,
                )
            )
        elif want != (count, digest):
            if want[0] != count:
                kind = "history rows deleted" if count < want[0] else "history rows inserted"
                detail = f"expected {want[0]} version(s), found {count}"
            else:
                kind, detail = "history row edited", "a version's values differ from the ledger"
            problems.append(Problem(kind, detail, tx_id, table))
    for key in expected.keys() - found:
        versions_expected, digest = expected[key]
        if versions_expected == 0 and digest == EMPTY:
            continue  # pruned or erased entirely, as an amendment recorded
        problems.append(
            Problem(
                "history rows deleted",
                f"all {versions_expected} version(s) are missing",
                key[0],
                names.get(key[1]),
            )
        )
    report.checked["row_versions"] = versions
    if amended:
        report.notes.append(
            f"{len(amended)} transaction/table pair(s) were pruned or erased; their remaining "
            "versions were checked against the digests recorded when that happened"
        )

    # 5. current tables against history
    for sv in catalog.live_tables():
        problems += _check_current(conn, sv)
    report.checked["tables"] = len(catalog.live_tables())
