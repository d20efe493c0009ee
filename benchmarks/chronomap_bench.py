"""Benchmark ChronoMap against the published chronomap 2.1.0 and a plain dict.

The same workload runs on both maps: 1,000 keys with 20 versions each, timing
put, get of the newest value, get as of a timestamp, and history (first call
per key, then again). The reference
runs in its own virtualenv (created on first use under the cache directory) in
a subprocess that prints its timings as JSON, so the two packages, both named
``chronomap``, never meet in one interpreter. Each figure is the best of several
repetitions, in nanoseconds per operation; ours is also shown as a multiple of a
plain dict's set/get measured in the same run.

    python benchmarks/chronomap_bench.py            # table; exit 1 if a target is missed
    python benchmarks/chronomap_bench.py --json     # our side only, as JSON
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REFERENCE = "chronomap==2.1.0"
KEYS = 1_000
VERSIONS = 20
BASE_TS = 1_600_000_000.0
OPERATIONS = ("put", "get_latest", "get_at_timestamp", "history", "history_again")
TARGETS = {
    "put": 3.0,
    "get_latest": 8.0,
    "get_at_timestamp": 4.0,
    "history": 1.0,
    "history_again": 1.0,
}
"""Minimum speed-up over the reference (reference time / our time)."""
DICT_BASELINE = {"put": "dict_set", "get_latest": "dict_get", "get_at_timestamp": "dict_get"}


def timed_ns_per_op(run: Callable[[], int]) -> float:
    """One run of ``run`` (which returns its operation count), in ns/op."""
    start = time.perf_counter_ns()
    operations = run()
    return (time.perf_counter_ns() - start) / operations


def measure_map(repeats: int) -> dict[str, float]:
    """Time the workload on whichever ``chronomap`` this interpreter imports.

    Each repetition fills a fresh map, so ``history`` is its first call per key
    (nothing cached yet) and ``history_again`` repeats it.
    """
    from chronomap import ChronoMap

    keys = [f"key:{i}" for i in range(KEYS)]
    stamps = [BASE_TS + version for version in range(VERSIONS)]
    middle = BASE_TS + VERSIONS / 2 + 0.5
    cm = ChronoMap()

    def put() -> int:
        nonlocal cm
        cm = ChronoMap()
        for ts in stamps:
            for key in keys:
                cm.put(key, ts, timestamp=ts)
        return KEYS * VERSIONS

    def get_latest() -> int:
        get = cm.get
        for _ in range(5):
            for key in keys:
                get(key)
        return 5 * KEYS

    def get_at_timestamp() -> int:
        get = cm.get
        for _ in range(5):
            for key in keys:
                get(key, timestamp=middle)
        return 5 * KEYS

    def history() -> int:
        for key in keys:
            cm.history(key)
        return KEYS

    runs = {
        "put": put,
        "get_latest": get_latest,
        "get_at_timestamp": get_at_timestamp,
        "history": history,
        "history_again": history,
    }
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeats):
        for name, run in runs.items():
            best[name] = min(best[name], timed_ns_per_op(run))
    assert cm.get(keys[0], timestamp=middle) == BASE_TS + VERSIONS // 2
    assert len(cm.history(keys[-1])) == VERSIONS
    return best


def measure_dict(repeats: int) -> dict[str, float]:
    """The same put and get pattern on a plain dict: the floor any map is compared with."""
    keys = [f"key:{i}" for i in range(KEYS)]
    table: dict[str, float] = {}

    def dict_set() -> int:
        for version in range(VERSIONS):
            for key in keys:
                table[key] = version
        return KEYS * VERSIONS

    def dict_get() -> int:
        get = table.get
        for _ in range(5):
            for key in keys:
                get(key)
        return 5 * KEYS

    return {
        "dict_set": min(timed_ns_per_op(dict_set) for _ in range(repeats)),
        "dict_get": min(timed_ns_per_op(dict_get) for _ in range(repeats)),
    }


def reference_python(cache: Path) -> Path:
    """The interpreter of a virtualenv holding chronomap 2.1.0, created on first use."""
    venv = cache / "chronomap-2.1.0"
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"creating {venv} with {REFERENCE} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", REFERENCE],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return python


def measure_reference(cache: Path, repeats: int) -> dict[str, float]:
    """Run this script's ``--json`` side under the reference virtualenv."""
    python = reference_python(cache)
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    completed = subprocess.run(
        [str(python), "-I", str(Path(__file__).resolve()), "--json", "--repeats", str(repeats)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=cache,
    )
    return json.loads(completed.stdout)


def report(ours: dict[str, float], reference: dict[str, float], floor: dict[str, float]) -> bool:
    """Print the comparison table; return whether every target is met."""
    print(f"ChronoMap vs {REFERENCE}: {KEYS} keys x {VERSIONS} versions, best ns/op")
    header = f"{'operation':<18}{'ours':>9}{'2.1.0':>10}{'speed-up':>10}{'target':>8}"
    print(header + f"{'vs dict':>16}  ok")
    all_met = True
    for name in OPERATIONS:
        speedup = reference[name] / ours[name]
        met = speedup >= TARGETS[name]
        all_met &= met
        baseline = DICT_BASELINE.get(name)
        versus_dict = f"{ours[name] / floor[baseline]:.1f}x {baseline}" if baseline else "-"
        print(
            f"{name:<18}{ours[name]:>9.0f}{reference[name]:>10.0f}{speedup:>9.1f}x"
            f"{TARGETS[name]:>7.0f}x{versus_dict:>16}  {'yes' if met else 'NO'}"
        )
    print(f"plain dict: set {floor['dict_set']:.0f} ns, get {floor['dict_get']:.0f} ns")
    return all_met


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--json", action="store_true", help="time this interpreter's chronomap")
    parser.add_argument("--repeats", type=int, default=7, help="repetitions; the best counts")
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "chronodb-bench",
        help="where the reference virtualenv lives",
    )
    args = parser.parse_args(argv)
    if args.json:
        print(json.dumps(measure_map(args.repeats)))
        return 0
    args.cache.mkdir(parents=True, exist_ok=True)
    reference = measure_reference(args.cache, args.repeats)
    ours = measure_map(args.repeats)
    floor = measure_dict(args.repeats)
    result: dict[str, Any] = {"ours": ours, "reference": reference, "dict": floor}
    met = report(ours, reference, floor)
    print(json.dumps(result))
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
