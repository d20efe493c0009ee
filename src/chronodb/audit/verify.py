"""Full verification: recompute every digest from the stored rows and compare with the ledger.

What is checked, in order:

1. every leaf decodes and hashes to its stored ``leaf_hash``; leaf indexes have no gaps;
2. every transaction record (``_chrono_tx``) has a leaf, every leaf a record, and they
   agree on time and user;
3. the Merkle root recomputed from the leaves equals the stored tree's root and every
   saved digest (``_chrono_digests``) at its size;
4. every transaction's row versions, table by table, hash to the digest its leaf (or a
   later pruning/erasure amendment) recorded;
5. every current table equals its history's newest versions, and its triggers exist.

What it cannot catch: someone who rewrites the whole file and recomputes every hash. A
digest kept elsewhere (``AuditTrail.digest()`` exported to a file) catches that.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from chronodb.audit.digests import EMPTY, scan
from chronodb.audit.leaf import Leaf
from chronodb.audit.merkle import MemoryNodeStore, MerkleTree, SQLiteNodeStore
from chronodb.audit.proofs import leaf_hash
from chronodb.errors import AuditError
from chronodb.versioning.catalog import Catalog
from chronodb.versioning.tables import quote, trigger_names


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
        with_tx = [p for p in self.problems if p.tx_id is not None]
        if with_tx:
            return min(with_tx, key=lambda p: p.tx_id or 0)
        return self.problems[0] if self.problems else None

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
            lines.append(f"first problem: {first.kind} at {where}: {first.detail}")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def _table_names(catalog: Catalog) -> dict[int, str]:
    names: dict[int, str] = {}
    for v in catalog.versions:
        names[v.table_id] = v.name
    return names


def verify(
    conn: sqlite3.Connection,
    catalog: Catalog,
    progress: Callable[[int, int], None] | None = None,
) -> VerificationReport:
    start = time.perf_counter()
    report = VerificationReport(ok=True)
    problems = report.problems
    names = _table_names(catalog)

    # 1. leaves
    leaves: dict[int, Leaf] = {}
    hashes: list[bytes] = []
    expected_index = 0
    for index, tx_id, blob, stored in conn.execute(
        "SELECT leaf_index, tx_id, leaf, leaf_hash FROM _chrono_ledger ORDER BY leaf_index"
    ):
        blob, stored = bytes(blob), bytes(stored)
        if index != expected_index:
            problems.append(
                Problem("ledger leaf deleted", f"leaf index {expected_index} is missing", tx_id)
            )
            expected_index = index
        expected_index += 1
        digest = leaf_hash(blob)
        if digest != stored:
            problems.append(Problem("ledger leaf edited", "leaf does not hash to its hash", tx_id))
        hashes.append(stored)
        try:
            leaf = Leaf.decode(blob)
        except AuditError as err:
            problems.append(Problem("ledger leaf edited", str(err), tx_id))
            continue
        if leaf.tx_id != tx_id:
            problems.append(Problem("ledger leaf edited", f"leaf names tx {leaf.tx_id}", tx_id))
        leaves[tx_id] = leaf
    report.checked["leaves"] = len(hashes)

    # 2. transaction records
    seen_tx = 0
    for tx_id, tx_time, user in conn.execute(
        "SELECT tx_id, tx_time, user FROM _chrono_tx ORDER BY tx_id"
    ):
        seen_tx += 1
        leaf = leaves.get(tx_id)
        if leaf is None:
            problems.append(
                Problem("transaction record inserted", "no ledger leaf for this transaction", tx_id)
            )
        elif leaf.tx_time != tx_time or leaf.user != (user or ""):
            problems.append(
                Problem("transaction record edited", "time or user differs from its leaf", tx_id)
            )
    tx_ids = {r[0] for r in conn.execute("SELECT tx_id FROM _chrono_tx")}
    for tx_id in leaves.keys() - tx_ids:
        problems.append(Problem("transaction record deleted", "leaf without a record", tx_id))
    report.checked["transactions"] = seen_tx

    # 3. Merkle tree and saved digests
    memory = MerkleTree(MemoryNodeStore())
    memory.append_leaf_hashes(hashes)
    size = len(hashes)
    report.tree_size = size
    if size:
        root = memory.root()
        report.root = root.hex()
        stored_tree = MerkleTree(SQLiteNodeStore(conn))
        try:
            stored_root = stored_tree.root(size) if stored_tree.size >= size else None
        except AuditError:
            stored_root = None
        if stored_root != root:
            problems.append(Problem("merkle tree edited", "stored tree root differs from leaves"))
    digests = conn.execute("SELECT tree_size, root FROM _chrono_digests ORDER BY tree_size")
    checked_digests = 0
    for tree_size, saved_root in digests:
        checked_digests += 1
        if tree_size > size or memory.root(tree_size) != bytes(saved_root):
            problems.append(
                Problem(
                    "history rewritten",
                    f"the saved digest of size {tree_size} no longer matches the ledger",
                )
            )
    report.checked["digests"] = checked_digests

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
    for tx_id, table_id, count, digest in scan(conn, catalog):
        versions += count
        if progress is not None:
            progress(versions, 0)
        key = (tx_id, table_id)
        found.add(key)
        table = names.get(table_id)
        want = expected.get(key)
        if want is None:
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

    # 5. current tables against history, and the triggers that keep them together
    from chronodb.sql import snapshots  # local: avoid a cycle at import time

    present = {r[0] for r in conn.execute("SELECT name FROM sqlite_schema WHERE type='trigger'")}
    for sv in catalog.live_tables():
        missing = [n for n in trigger_names(sv) if n not in present]
        if missing:
            problems.append(
                Problem("versioning triggers dropped", ", ".join(missing), table=sv.name)
            )
        cols = ", ".join(quote(c.name) for c in sv.columns)
        latest = snapshots.as_of(sv, "(SELECT coalesce(max(tx_id), 0) FROM _chrono_tx)", sv)
        key_cols = [c.name for c in sv.key_columns] or None
        for label, sql in (
            (
                "current row not in history",
                f"SELECT {cols} FROM {quote(sv.name)} EXCEPT SELECT {cols} FROM ({latest})",
            ),
            (
                "history row missing from current table",
                f"SELECT {cols} FROM ({latest}) EXCEPT SELECT {cols} FROM {quote(sv.name)}",
            ),
        ):
            for row in conn.execute(sql).fetchmany(5):
                row_key = tuple(row[c] for c in key_cols) if key_cols else tuple(row)
                problems.append(
                    Problem(
                        "current table edited" if "current row" in label else "current row deleted",
                        label,
                        table=sv.name,
                        row=row_key[0] if len(row_key) == 1 else row_key,
                    )
                )
    report.checked["tables"] = len(catalog.live_tables())
    report.ok = not problems
    report.seconds = time.perf_counter() - start
    return report
