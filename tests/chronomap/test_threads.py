"""Threads writing and reading at once: no version lost, every history sorted."""

from __future__ import annotations

import random
import sys
import threading

import pytest

from chronomap import ChronoMap

THREADS = 8
WRITES = 400


@pytest.fixture(autouse=True)
def frequent_thread_switches():
    """Switch threads every few bytecodes so the threads really interleave."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


@pytest.mark.parametrize("use_rwlock", [False, True], ids=["rlock", "rwlock"])
def test_eight_threads_write_and_read(use_rwlock: bool) -> None:
    cm = ChronoMap(use_rwlock=use_rwlock)
    keys = [f"key{i}" for i in range(5)]
    start = threading.Barrier(THREADS)
    errors: list[BaseException] = []
    changes: list[str] = []
    cm.on_change(lambda key, old, new, ts: changes.append(key))

    def work(worker: int) -> None:
        rng = random.Random(worker)
        try:
            start.wait()
            for i in range(WRITES):
                key = rng.choice(keys)
                # Timestamps collide across threads and arrive out of order.
                cm.put(key, (worker, i), timestamp=rng.randint(0, 1000))
                assert cm.get(key) is not None
                cm.get(key, timestamp=rng.randint(0, 1000))
                history = cm.history(rng.choice(keys))
                assert [ts for ts, _ in history] == sorted(ts for ts, _ in history)
                if i % 50 == 0:
                    cm.latest()
                    cm.query(lambda k, v: v[0] == worker)
                    cm.snapshot()
        except BaseException as error:  # collected and re-raised in the main thread
            errors.append(error)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    written = {(worker, i) for worker in range(THREADS) for i in range(WRITES)}
    kept = [value for key in keys for _, value in cm.history(key)]
    assert len(kept) == len(written)
    assert set(kept) == written
    for key in keys:
        stamps = [ts for ts, _ in cm.history(key)]
        assert stamps == sorted(stamps)
    assert len(changes) == THREADS * WRITES
    stats = cm.get_stats()
    assert stats["writes"] == THREADS * WRITES
    if not use_rwlock:  # counters are exact under the exclusive lock
        assert stats["reads"] == 2 * THREADS * WRITES


def test_concurrent_puts_of_distinct_keys() -> None:
    cm = ChronoMap()

    def put_values(first: int) -> None:
        for i in range(first, first + 100):
            cm.put(f"key{i}", i)

    threads = [threading.Thread(target=put_values, args=(n * 100,)) for n in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(cm) == 500
    assert cm.latest() == {f"key{i}": i for i in range(500)}
