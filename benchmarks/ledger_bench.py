"""Benchmark the audit ledger's Merkle tree at a million leaves in a SQLite file.

Builds the tree with ``append_many`` into ``SQLiteNodeStore`` (one transaction),
then times, over random leaves and sizes: root, inclusion proof generation and
``verify_inclusion``, consistency proof generation and ``verify_consistency``.
Proof sizes are compared with 32 * log2(n) bytes, the size of a balanced tree's
audit path. Targets from issue 4: verifying one transaction's inclusion (proof
generation + verification) under 1 ms, proofs about 32 * log2(n) bytes.

    python benchmarks/ledger_bench.py                  # 1,000,000 leaves
    python benchmarks/ledger_bench.py --leaves 100000  # quicker
"""

from __future__ import annotations

import argparse
import math
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

from chronodb.audit import (
    MerkleTree,
    SQLiteNodeStore,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)

SAMPLES = 2_000
INCLUSION_TARGET_US = 1_000.0


def leaf(i: int) -> bytes:
    """A leaf about the size of a ledger entry (tx metadata and row digests)."""
    return b"tx:%012d:" % i + bytes(64)


def per_call_us(fn, args_list) -> float:
    """Median microseconds per call over ``args_list``."""
    times = []
    for args in args_list:
        start = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leaves", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    n = args.leaves
    rng = random.Random(4)

    with tempfile.TemporaryDirectory() as tmp:
        conn = sqlite3.connect(Path(tmp) / "ledger.db", isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        tree = MerkleTree(SQLiteNodeStore(conn))

        start = time.perf_counter()
        conn.execute("BEGIN")
        tree.append_many(leaf(i) for i in range(n))
        conn.execute("COMMIT")
        build = time.perf_counter() - start
        rows = conn.execute("SELECT count(*) FROM _chrono_merkle").fetchone()[0]

        root = tree.root()
        indices = [rng.randrange(n) for _ in range(SAMPLES)]
        proofs = [tree.inclusion_proof(i) for i in indices]
        hashes = [leaf_hash(leaf(i)) for i in indices]
        assert all(
            verify_inclusion(h, p.leaf_index, n, p.hashes, root)
            for h, p in zip(hashes, proofs, strict=True)
        )
        sizes1 = [rng.randrange(1, n) for _ in range(SAMPLES // 4)]
        roots1 = {m: tree.root(m) for m in sizes1}
        cproofs = [tree.consistency_proof(m) for m in sizes1]
        assert all(p.verify(roots1[p.size1], root) for p in cproofs)

        root_us = per_call_us(tree.root, [(rng.randrange(1, n + 1),) for _ in range(SAMPLES)])
        gen_us = per_call_us(tree.inclusion_proof, [(i,) for i in indices])
        ver_us = per_call_us(
            verify_inclusion,
            [(h, p.leaf_index, n, p.hashes, root) for h, p in zip(hashes, proofs, strict=True)],
        )
        cgen_us = per_call_us(tree.consistency_proof, [(m,) for m in sizes1])
        cver_us = per_call_us(
            verify_consistency, [(p.size1, n, p.hashes, roots1[p.size1], root) for p in cproofs]
        )
        conn.close()

    ideal = 32 * math.log2(n)
    incl_bytes = statistics.mean(32 * len(p.hashes) for p in proofs)
    cons_bytes = statistics.mean(32 * len(p.hashes) for p in cproofs)
    max_incl = max(32 * len(p.hashes) for p in proofs)
    print(f"Merkle ledger benchmark: {n:,} leaves, SQLite file store (WAL)")
    print(
        f"  build (append_many, one tx)  {build:8.2f} s   {n / build:,.0f} leaves/s, {rows:,} rows"
    )
    print(f"  root                         {root_us:8.1f} us  (median)")
    print(f"  inclusion proof generation   {gen_us:8.1f} us")
    print(f"  verify_inclusion             {ver_us:8.1f} us")
    print(f"  consistency proof generation {cgen_us:8.1f} us")
    print(f"  verify_consistency           {cver_us:8.1f} us")
    print(
        f"  inclusion proof size         {incl_bytes:8.0f} B mean, {max_incl} B max"
        f"  vs 32*log2(n) = {ideal:.0f} B  (ratio {incl_bytes / ideal:.2f})"
    )
    print(
        f"  consistency proof size       {cons_bytes:8.0f} B mean"
        f"  vs 32*log2(n) = {ideal:.0f} B  (ratio {cons_bytes / ideal:.2f})"
    )
    total = gen_us + ver_us
    ok = total < INCLUSION_TARGET_US and max_incl <= 32 * math.ceil(math.log2(n))
    print(
        f"  prove + verify one leaf      {total:8.1f} us  target < {INCLUSION_TARGET_US:.0f} us:"
        f" {'met' if ok else 'MISSED'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
