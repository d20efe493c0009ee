"""The two locking strategies behind ``ChronoMap(use_rwlock=...)``.

The default is one ``threading.RLock``: acquiring it is a single C call, which
is what keeps a read at a few hundred nanoseconds. ``use_rwlock=True`` gives a
writer-preferring readers-writer lock instead, for workloads where readers run
long user code (predicates, exports) and should not wait for each other.
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Protocol


class LockContext(Protocol):
    """What ChronoMap needs from a lock: a context manager."""

    def __enter__(self) -> object: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None: ...


class RWLock:
    """Many readers or one writer; waiting writers block new readers (no writer starvation).

    Not reentrant: ChronoMap never takes it twice on one thread, because user
    callbacks and predicates run after the lock is released.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writing = False
        self._writers_waiting = 0
        self.read: LockContext = _ReadSide(self)
        self.write: LockContext = _WriteSide(self)

    def acquire_read(self) -> None:
        """Wait until no writer holds or waits for the lock, then join the readers."""
        with self._cond:
            while self._writing or self._writers_waiting:
                self._cond.wait()
            self._readers += 1

    def release_read(self) -> None:
        """Leave the readers; the last one out wakes a waiting writer."""
        with self._cond:
            self._readers -= 1
            if not self._readers:
                self._cond.notify_all()

    def acquire_write(self) -> None:
        """Wait until there are no readers and no writer, then hold the lock alone."""
        with self._cond:
            self._writers_waiting += 1
            try:
                while self._writing or self._readers:
                    self._cond.wait()
            finally:
                self._writers_waiting -= 1
            self._writing = True

    def release_write(self) -> None:
        """Release the lock and wake everyone waiting."""
        with self._cond:
            self._writing = False
            self._cond.notify_all()


class _ReadSide:
    """The read side of an RWLock as a context manager."""

    __slots__ = ("_lock",)

    def __init__(self, lock: RWLock) -> None:
        self._lock = lock

    def __enter__(self) -> None:
        self._lock.acquire_read()

    def __exit__(self, *exc_info: object) -> None:
        self._lock.release_read()


class _WriteSide:
    """The write side of an RWLock as a context manager."""

    __slots__ = ("_lock",)

    def __init__(self, lock: RWLock) -> None:
        self._lock = lock

    def __enter__(self) -> None:
        self._lock.acquire_write()

    def __exit__(self, *exc_info: object) -> None:
        self._lock.release_write()


def make_locks(use_rwlock: bool) -> tuple[LockContext, LockContext, RWLock | None]:
    """Return (read context, write context, the RWLock or None) for a new map."""
    if use_rwlock:
        rw = RWLock()
        return rw.read, rw.write, rw
    plain = threading.RLock()
    return plain, plain, None
