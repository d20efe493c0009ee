"""Change notifications: ``on_change`` callbacks for every key, ``subscribe`` for one.

Callbacks run after the map's lock is released, so a callback may read or write
the map without deadlocking. A failing callback is logged ("Error in change
callback") and never undoes or blocks the write that triggered it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Hashable
from typing import Any

from chronomap.errors import ChronoMapTypeError

logger = logging.getLogger("chronomap")

ChangeCallback = Callable[[Any, Any, Any, float], object]
"""``callback(key, old_value, new_value, timestamp)``; ``old_value`` is None for a new key."""


class Subscription:
    """What ``subscribe()`` returns: call it, or ``cancel()``, to stop the callback.

    It is also awaitable (resolving to itself), so ``AsyncChronoMap.subscribe``
    works with or without ``await``.
    """

    __slots__ = ("_hub", "callback", "key")

    def __init__(self, hub: ChangeHub, key: Hashable, callback: ChangeCallback) -> None:
        self._hub = hub
        self.key = key
        self.callback = callback

    def cancel(self) -> bool:
        """Unsubscribe; True if the callback was still subscribed."""
        return self._hub.unsubscribe(self.key, self.callback)

    __call__ = cancel

    def __await__(self) -> Generator[None, None, Subscription]:
        yield from ()
        return self

    def __repr__(self) -> str:
        return f"Subscription(key={self.key!r}, callback={self.callback!r})"


class ChangeHub:
    """The callbacks of one map. Lists are replaced, never mutated, so emit needs no lock."""

    __slots__ = ("_by_key", "_global", "active")

    def __init__(self) -> None:
        self._global: tuple[ChangeCallback, ...] = ()
        self._by_key: dict[Hashable, tuple[ChangeCallback, ...]] = {}
        self.active = False

    def add(self, callback: ChangeCallback) -> None:
        """Call ``callback`` on every change of every key."""
        _check_callable(callback)
        self._global = (*self._global, callback)
        self.active = True

    def remove(self, callback: ChangeCallback) -> bool:
        """Stop calling ``callback``; True if it was registered."""
        if callback not in self._global:
            return False
        remaining = list(self._global)
        remaining.remove(callback)
        self._global = tuple(remaining)
        self._refresh()
        return True

    def subscribe(self, key: Hashable, callback: ChangeCallback) -> Subscription:
        """Call ``callback`` on every change of ``key`` only."""
        _check_callable(callback)
        self._by_key = {**self._by_key, key: (*self._by_key.get(key, ()), callback)}
        self.active = True
        return Subscription(self, key, callback)

    def unsubscribe(self, key: Hashable, callback: ChangeCallback) -> bool:
        """Stop calling ``callback`` for ``key``; True if it was subscribed."""
        current = self._by_key.get(key, ())
        if callback not in current:
            return False
        remaining = list(current)
        remaining.remove(callback)
        by_key = dict(self._by_key)
        if remaining:
            by_key[key] = tuple(remaining)
        else:
            del by_key[key]
        self._by_key = by_key
        self._refresh()
        return True

    def emit(self, key: Hashable, old: Any, new: Any, timestamp: float) -> None:
        """Call every callback interested in ``key``; log and swallow their errors."""
        for callback in (*self._global, *self._by_key.get(key, ())):
            try:
                callback(key, old, new, timestamp)
            except Exception:
                logger.exception("Error in change callback %r for key %r", callback, key)

    def _refresh(self) -> None:
        self.active = bool(self._global or self._by_key)


def _check_callable(callback: object) -> None:
    if not callable(callback):
        raise ChronoMapTypeError(f"callback must be callable, got {callback!r}")
