"""on_change and subscribe: who is told about a write, with what, and when."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from chronomap import ChronoMap, ChronoMapTypeError, Subscription


def test_on_change_gets_key_old_new_timestamp() -> None:
    cm = ChronoMap()
    changes: list[tuple[Any, ...]] = []
    cm.on_change(lambda key, old, new, ts: changes.append((key, old, new, ts)))
    cm.put("key1", "value1", timestamp=1)
    cm["key1"] = "value2"
    cm.put("key2", "value3", timestamp=3)
    cm.put_many({"a": 1, "b": 2}, timestamp=4)
    assert changes[0] == ("key1", None, "value1", 1.0)
    assert changes[1][:3] == ("key1", "value1", "value2")
    assert changes[2] == ("key2", None, "value3", 3.0)
    assert changes[3:] == [("a", None, 1, 4.0), ("b", None, 2, 4.0)]


def test_deletes_do_not_notify() -> None:
    cm = ChronoMap()
    calls: list[str] = []
    cm.on_change(lambda key, *_: calls.append(key))
    cm["a"] = 1
    del cm["a"]
    cm.delete_many(["x"])
    assert calls == ["a"]


def test_several_callbacks_and_removal() -> None:
    cm = ChronoMap()
    first: list[str] = []
    second: list[Any] = []

    def callback(key: str, old: Any, new: Any, ts: float) -> None:
        first.append(key)

    cm.on_change(callback)
    cm.on_change(lambda k, o, n, t: second.append(n))
    cm["key"] = "value"
    assert cm.remove_change_callback(callback) is True
    assert cm.remove_change_callback(callback) is False
    cm["key2"] = "value2"
    assert first == ["key"]
    assert second == ["value", "value2"]


def test_failing_callback_is_logged_and_the_write_stands(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cm = ChronoMap()
    after: list[str] = []

    def bad(key: str, old: Any, new: Any, ts: float) -> None:
        raise RuntimeError("Callback failed")

    cm.on_change(bad)
    cm.on_change(lambda key, *_: after.append(key))
    with caplog.at_level(logging.ERROR, logger="chronomap"):
        cm["key"] = "value"
    assert "Error in change callback" in caplog.text
    assert cm["key"] == "value"
    assert after == ["key"]


@pytest.mark.parametrize("use_rwlock", [False, True])
def test_callbacks_run_outside_the_lock(use_rwlock: bool) -> None:
    cm = ChronoMap(use_rwlock=use_rwlock)
    seen: list[Any] = []

    def mirror(key: str, old: Any, new: Any, ts: float) -> None:
        seen.append(cm.get(key))
        if not key.startswith("copy:"):
            cm.put(f"copy:{key}", new)

    cm.on_change(mirror)
    cm["k"] = 1
    assert cm["copy:k"] == 1
    assert seen == [1, 1]


def test_subscribe_to_one_key() -> None:
    cm = ChronoMap()
    calls: list[tuple[Any, ...]] = []

    def callback(key: str, old: Any, new: Any, ts: float) -> None:
        calls.append((key, old, new))

    subscription = cm.subscribe("watched", callback)
    assert isinstance(subscription, Subscription)
    assert subscription.key == "watched"
    cm["other"] = 0
    cm["watched"] = 1
    cm["watched"] = 2
    assert calls == [("watched", None, 1), ("watched", 1, 2)]
    assert subscription() is True
    assert subscription.cancel() is False
    cm["watched"] = 3
    assert len(calls) == 2
    cm.subscribe("watched", callback)
    assert cm.unsubscribe("watched", callback) is True
    assert cm.unsubscribe("watched", callback) is False
    assert cm.unsubscribe("never", callback) is False
    cm["watched"] = 4
    assert len(calls) == 2
    assert "watched" in repr(subscription)


def test_two_subscribers_on_one_key() -> None:
    cm = ChronoMap()
    one: list[int] = []
    two: list[int] = []
    cm.subscribe("k", lambda k, o, n, t: one.append(n))
    sub = cm.subscribe("k", lambda k, o, n, t: two.append(n))
    cm["k"] = 1
    sub.cancel()
    cm["k"] = 2
    assert one == [1, 2]
    assert two == [1]


def test_callbacks_must_be_callable() -> None:
    cm = ChronoMap()
    with pytest.raises(ChronoMapTypeError):
        cm.on_change("not callable")  # type: ignore[arg-type]
    with pytest.raises(ChronoMapTypeError):
        cm.subscribe("k", 42)  # type: ignore[arg-type]
