"""The readers-writer lock: readers share, writers are alone, waiting writers go first."""

from __future__ import annotations

import threading
import time

from chronomap import RWLock

HANG = 15.0  # seconds: only bounds a hang (a loaded machine can be slow)


def wait_for_waiters(lock: RWLock, count: int) -> None:
    """Wait until ``count`` threads are blocked waiting for ``lock``."""
    deadline = time.monotonic() + HANG
    while len(lock._cond._waiters) < count:  # type: ignore[attr-defined]
        assert time.monotonic() < deadline, "the threads never blocked on the lock"
        time.sleep(0.001)


def test_readers_share_the_lock() -> None:
    lock = RWLock()
    inside = threading.Barrier(3, timeout=HANG)

    def reader() -> None:
        with lock.read:
            inside.wait()  # only passes if all three readers hold the lock at once

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(HANG)
    assert not inside.broken


def test_writer_excludes_readers_and_writers() -> None:
    lock = RWLock()
    events: list[str] = []
    lock.acquire_write()

    def reader() -> None:
        with lock.read:
            events.append("read")

    def writer() -> None:
        with lock.write:
            events.append("write")

    threads = [threading.Thread(target=reader), threading.Thread(target=writer)]
    for thread in threads:
        thread.start()
    wait_for_waiters(lock, 2)
    assert events == []
    events.append("released")
    lock.release_write()
    for thread in threads:
        thread.join(HANG)
    assert events[0] == "released"
    assert sorted(events[1:]) == ["read", "write"]


def test_waiting_writer_blocks_new_readers() -> None:
    lock = RWLock()
    order: list[str] = []
    lock.acquire_read()
    writer = threading.Thread(
        target=lambda: (lock.acquire_write(), order.append("write"), lock.release_write())
    )
    writer.start()
    wait_for_waiters(lock, 1)  # the writer is now waiting for our read lock
    reader = threading.Thread(
        target=lambda: (lock.acquire_read(), order.append("read"), lock.release_read())
    )
    reader.start()
    wait_for_waiters(lock, 2)  # and the new reader waits behind it
    assert order == []
    lock.release_read()
    writer.join(HANG)
    reader.join(HANG)
    assert order == ["write", "read"]
