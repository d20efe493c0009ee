"""Benchmark the audit ledger end to end, as ratios measured in one run (issue 4 targets).

1. Versioned write throughput with the ledger on vs. off (``ChronoDB(path, ledger=False)``):
   batched (``executemany`` of 20k UPDATEs in one transaction) and autocommit UPDATEs, best
   of several repetitions; the drop should be at most 25%.
2. Full verification (``audit_trail.verify()``) in row versions per second on a database
   with at least 300k row versions; target 300,000/s.
3. ``audit_trail.verify_transaction`` latency with 1,000,000 transactions; target < 1 ms.
   Writing a million transactions through ``execute`` would take minutes, so the file gets
   a small real history through the public API and the rest of the million as synthetic
   transactions appended straight to ``_chrono_tx`` (with their leaves) and the Merkle tree
   (leaves with no row versions) - the same tables and tree a real million would fill.
   Proof size is compared with 32*log2(n) bytes.

    python benchmarks/audit_bench.py            # full size
    python benchmarks/audit_bench.py --quick    # smaller, for a smoke run
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from wal_cycle import checkpointed

from chronodb import ChronoDB
from chronodb.audit.leaf import Leaf
from chronodb.audit.proofs import leaf_hash, verify_inclusion
from chronodb.database import engine_of

DROP_TARGET = 25.0
VERIFY_TARGET = 300_000
LATENCY_TARGET_MS = 1.0


def best_of(reps: int, fn) -> float:
    return min(fn() for _ in range(reps))


def write_rates(tmp: Path, rows: int, autocommits: int, reps: int) -> dict[tuple[bool, str], float]:
    """Updates/s for ledger off/on x batched/autocommit, best of ``reps``.

    The four cases take turns within each repetition, so a busy moment on this shared
    machine hits both sides of a comparison alike. Each run counts the WAL checkpoint of what
    it wrote (``wal_cycle.checkpointed``): the ledger writes no page of its own, so leaving
    checkpoints out would overstate its share of a write.
    """
    dbs = {}
    for ledger in (False, True):
        db = ChronoDB(tmp / f"writes-{ledger}.db", ledger=ledger)
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER, name TEXT)")
        db.executemany("INSERT INTO t VALUES (?, 0, 'row')", [(i,) for i in range(rows)])
        dbs[ledger] = db
    counter = iter(range(1, 10**9))

    def batched(db: ChronoDB) -> float:
        n = next(counter)
        updates = [(n, i) for i in range(rows)]

        def work() -> int:
            db.executemany("UPDATE t SET v = ? WHERE id = ?", updates)
            return rows

        done = checkpointed(db.execute, work)
        return done / done.seconds

    def autocommit(db: ChronoDB) -> float:
        n = next(counter)

        def work() -> int:
            for i in range(autocommits):
                db.execute("UPDATE t SET v = ? WHERE id = ?", (n, i))
            return autocommits

        done = checkpointed(db.execute, work)
        return done / done.seconds

    best: dict[tuple[bool, str], float] = {}
    for _ in range(reps):
        for kind, run in (("batched", batched), ("autocommit", autocommit)):
            for ledger, db in dbs.items():
                best[(ledger, kind)] = max(best.get((ledger, kind), 0.0), run(db))
    for db in dbs.values():
        db.close()
    return best


def verify_rate(tmp: Path, versions: int) -> tuple[int, float, bool]:
    """(row versions, versions/s, ok) for a full verification."""
    db = ChronoDB(tmp / "verify.db")
    db.execute("CREATE TABLE acct (id INTEGER PRIMARY KEY, owner TEXT, balance REAL)")
    db.execute("CREATE TABLE stock (shop TEXT, sku INTEGER, qty INTEGER, PRIMARY KEY (shop, sku))")
    rows = 20_000
    db.executemany("INSERT INTO acct VALUES (?, ?, ?)", [(i, f"o{i}", 0.0) for i in range(rows)])
    db.executemany("INSERT INTO stock VALUES ('s', ?, 0)", [(i,) for i in range(rows)])
    written = 2 * rows
    n = 0
    while written < versions:
        n += 1
        db.executemany("UPDATE acct SET balance = ? WHERE id = ?", [(n, i) for i in range(rows)])
        written += rows
        for i in range(100):  # and some small transactions
            db.execute("UPDATE stock SET qty = ? WHERE shop = 's' AND sku = ?", (n, i))
            written += 1
    db.close()
    db = ChronoDB(tmp / "verify.db", read_only=True)
    seconds = best_of(2, lambda: _timed_verify(db))
    report = db.audit_trail.verify()
    db.close()
    count = report.checked["row_versions"]
    return count, count / seconds, report.ok


def _timed_verify(db: ChronoDB) -> float:
    start = time.perf_counter()
    db.audit_trail.verify()
    return time.perf_counter() - start


def inclusion(tmp: Path, total: int, samples: int) -> tuple[int, float, float, float, bool]:
    """(tree size, median verify_transaction ms, mean proof bytes, 32*log2(n), all ok)."""
    path = tmp / "million.db"
    db = ChronoDB(path, user="bench")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)")
    real = [db.execute("INSERT INTO t VALUES (?, ?)", (i, i)).tx_hash for i in range(500)]
    real += [db.execute("UPDATE t SET v = -1 WHERE id = ?", (i,)).tx_hash for i in range(500)]
    conn = engine_of(db).conn  # the synthetic history is written behind ChronoDB on purpose
    synthetic = total - db.audit_trail.digest(save=False).tree_size  # indexes every leaf
    first = conn.execute("SELECT max(tx_id), max(tx_time) FROM _chrono_tx").fetchone()
    conn.execute("BEGIN IMMEDIATE")
    ledger = engine_of(db).ledger
    ledger.catch_up()  # the stored tree covers every real leaf before synthetic ones follow
    start_index = ledger.size
    txs, blobs = [], []
    for k in range(1, synthetic + 1):
        tx_id, us = first[0] + k, first[1] + k
        txs.append((tx_id, us, "bench"))
        blobs.append((tx_id, Leaf(tx_id, us, "bench", ("UPDATE",), ()).encode()))
    hashes = [leaf_hash(b) for _, b in blobs]
    conn.executemany(
        "INSERT INTO _chrono_tx (tx_id, tx_time, user, leaf_index, leaf, leaf_hash) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [
            (*tx, start_index + i, b, h)
            for i, (tx, (_, b), h) in enumerate(zip(txs, blobs, hashes, strict=True))
        ],
    )
    ledger.tree.append_leaf_hashes(hashes)
    conn.executemany(
        "INSERT INTO _chrono_ledger_hash (leaf_hash, tx_id) VALUES (?, ?)",
        [(h, t) for (t, _), h in zip(blobs, hashes, strict=True)],
    )
    conn.execute("COMMIT")
    size = db.audit_trail.digest(save=False).tree_size
    rng = random.Random(4)
    picks = [rng.choice(real) for _ in range(samples // 2)]
    picks += [hashes[rng.randrange(len(hashes))].hex() for _ in range(samples // 2)]
    times, ok = [], True
    for h in picks:
        start = time.perf_counter()
        ok &= db.audit_trail.verify_transaction(h)
        times.append(time.perf_counter() - start)
    proofs = [db.audit_trail.prove(h) for h in picks[:200]]
    ok &= all(
        verify_inclusion(
            bytes.fromhex(p["leaf_hash"]),
            p["leaf_index"],
            p["tree_size"],
            [bytes.fromhex(x) for x in p["hashes"]],
            bytes.fromhex(p["root"]),
        )
        for p in proofs
    )
    proof_bytes = statistics.mean(32 * len(p["hashes"]) for p in proofs)
    db.close()
    return size, statistics.median(times) * 1e3, proof_bytes, 32 * math.log2(size), ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    args = parser.parse_args(argv)
    rows, autocommits, reps = (2_000, 200, 3) if args.quick else (20_000, 2_000, 7)
    versions = 30_000 if args.quick else 300_000
    total = 20_000 if args.quick else 1_000_000
    met = True
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        print("Audit ledger benchmark (one run; ratios against ledger=False measured alongside)")
        rates = write_rates(tmp, rows, autocommits, reps)
        for label, what in (
            ("batched", f"executemany of {rows:,} UPDATEs, one tx"),
            ("autocommit", f"{autocommits:,} single UPDATEs"),
        ):
            off, on = rates[(False, label)], rates[(True, label)]
            drop = (1 - on / off) * 100
            met &= drop <= DROP_TARGET
            print(
                f"  writes {label:10s} ledger off {off:>10,.0f}/s  on {on:>10,.0f}/s  "
                f"drop {drop:5.1f}%  (target <= {DROP_TARGET:.0f}%; {what}, best of {reps})"
            )
        count, rate, ok = verify_rate(tmp, versions)
        met &= ok and rate >= VERIFY_TARGET
        print(
            f"  full verification     {count:,} row versions  {rate:>12,.0f} versions/s  "
            f"ok={ok}  (target >= {VERIFY_TARGET:,}/s)"
        )
        size, ms, proof_bytes, ideal, ok = inclusion(tmp, total, 2_000)
        met &= ok and ms < LATENCY_TARGET_MS
        print(
            f"  verify_transaction    {size:,} transactions  {ms:.3f} ms median  ok={ok}  "
            f"(target < {LATENCY_TARGET_MS} ms; 1,000 real, the rest synthetic leaves)"
        )
        print(
            f"  proof size            {proof_bytes:.0f} B mean vs 32*log2(n) = {ideal:.0f} B "
            f"(ratio {proof_bytes / ideal:.2f})"
        )
    print("  all targets met" if met else "  some target MISSED")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
