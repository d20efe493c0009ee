"""AsyncChronoMap: ChronoMap's surface as coroutines."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from chronomap import AsyncChronoMap, ChronoMap, ChronoMapKeyError, Subscription


async def test_put_get_delete() -> None:
    cm = AsyncChronoMap()
    assert await cm.put("key", "v1", timestamp=100) is None
    await cm.put("key", "v2", timestamp=200)
    assert await cm.get("key") == "v2"
    assert await cm.get("key", timestamp=150) == "v1"
    assert await cm.get("missing", default="d") == "d"
    with pytest.raises(ChronoMapKeyError):
        await cm.get("missing", strict=True)
    assert await cm.delete("key") is True
    assert await cm.get("key") is None
    assert await cm.delete("key") is False


async def test_collections_and_queries() -> None:
    cm = AsyncChronoMap(use_rwlock=True)
    await cm.put_many({"a": 1, "b": 2, "c": 3}, timestamp=10)
    await cm.put("a", 5, timestamp=20)
    assert await cm.keys() == ["a", "b", "c"]
    assert await cm.values() == [5, 2, 3]
    assert await cm.items() == [("a", 5), ("b", 2), ("c", 3)]
    assert await cm.latest() == {"a": 5, "b": 2, "c": 3}
    assert len(cm) == 3
    assert "a" in cm
    assert [key async for key in cm] == ["a", "b", "c"]
    assert await cm.history("a") == [(10.0, 1), (20.0, 5)]
    assert [version async for version in cm.iter_history("a")] == [(10.0, 1), (20.0, 5)]
    assert await cm.get_range("a", start_ts=15) == [(20.0, 5)]
    assert await cm.get_latest_keys(1) == [("a", 20.0, 5)]
    assert await cm.get_keys_by_value(2) == ["b"]
    assert await cm.query(lambda k, v: v > 2) == {"a": 5, "c": 3}
    assert await cm.aggregate(sum) == 10
    assert await cm.count(lambda k, v: v < 5) == 2
    assert await cm.prune_history("a", keep_last=1) == 1
    assert await cm.prune_all_history(keep_last=1) == 0
    assert await cm.delete_many(["b", "c"]) == 2
    await cm.clear()
    assert len(cm) == 0
    assert await cm.clean_expired_keys() == 0


async def test_snapshots_diff_merge() -> None:
    cm = AsyncChronoMap()
    await cm.put("key", "v1")
    snap = await cm.snapshot()
    assert isinstance(snap, AsyncChronoMap)
    assert snap.snapshot_time is not None
    await cm.put("key", "v2")
    assert await snap.get("key") == "v1"
    assert await cm.diff(snap) == {"key"}
    assert await cm.diff_detailed(snap) == [("key", "v1", "v2")]
    await cm.rollback(snap)
    assert await cm.get("key") == "v1"
    other = AsyncChronoMap()
    await other.put("new", 1)
    await cm.merge(other, strategy="overwrite")
    assert await cm.get("new") == 1
    plain = ChronoMap()
    plain["sync"] = True
    await cm.merge(plain)
    assert await cm.get("sync") is True
    assert cm == cm.sync
    assert cm != "something else"
    assert repr(cm).startswith("AsyncChronoMap(keys=")


async def test_snapshot_context_rolls_back() -> None:
    cm = AsyncChronoMap()
    await cm.put("counter", 10)
    with pytest.raises(RuntimeError):
        async with cm.snapshot_context() as inside:
            assert inside is cm
            await cm.put("counter", 100)
            raise RuntimeError("Rollback!")
    assert await cm.get("counter") == 10
    async with cm.snapshot_context():
        await cm.put("counter", 11)
    assert await cm.get("counter") == 11


async def test_sync_and_async_callbacks() -> None:
    cm = AsyncChronoMap()
    log: list[tuple[Any, ...]] = []

    async def async_cb(key: str, old: Any, new: Any, ts: float) -> None:
        log.append(("async", key, new))

    def sync_cb(key: str, old: Any, new: Any, ts: float) -> None:
        log.append(("sync", key, new))

    cm.on_change(sync_cb)  # works without await, as in chronomap 2.1.0
    await cm.on_change(async_cb)  # and with it
    await cm.put("k", "v")
    assert log == [("sync", "k", "v"), ("async", "k", "v")]
    assert await cm.remove_change_callback(async_cb) is True
    assert cm.remove_change_callback(sync_cb)
    assert not cm.remove_change_callback(sync_cb)
    await cm.put("k", "w")
    assert len(log) == 2


async def test_subscriptions() -> None:
    cm = AsyncChronoMap()
    seen: list[Any] = []

    async def watcher(key: str, old: Any, new: Any, ts: float) -> None:
        seen.append((old, new))

    subscription = await cm.subscribe("k", watcher)
    assert isinstance(subscription, Subscription)
    await cm.put("k", 1)
    await cm.put("other", 0)
    assert seen == [(None, 1)]
    assert subscription() is True
    await cm.put("k", 2)
    assert seen == [(None, 1)]
    cm.subscribe("k", watcher)
    assert await cm.unsubscribe("k", watcher) is True
    assert await cm.unsubscribe("k", watcher) is False


async def test_failing_async_callback_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    cm = AsyncChronoMap()

    async def bad(key: str, old: Any, new: Any, ts: float) -> None:
        raise RuntimeError("nope")

    cm.on_change(bad)
    with caplog.at_level(logging.ERROR, logger="chronomap"):
        await cm.put("k", 1)
    assert "Error in change callback" in caplog.text
    assert await cm.get("k") == 1


async def test_stats_with_or_without_await() -> None:
    cm = AsyncChronoMap()
    await cm.put("a", 1)
    await cm.get("a")
    await cm.snapshot()
    assert cm.get_stats()["writes"] == 1
    assert await cm.get_stats() == {"reads": 1, "writes": 1, "deletes": 0, "snapshots": 1}
    await cm.reset_stats()
    assert await cm.get_stats() == {"reads": 0, "writes": 0, "deletes": 0, "snapshots": 0}


async def test_persistence_and_export(tmp_path: Path) -> None:
    cm = AsyncChronoMap()
    await cm.put("temp", 20, timestamp=100)
    await cm.put("temp", 22, timestamp=200)
    await cm.save_json(tmp_path / "s.json")
    await cm.save_pickle(tmp_path / "s.pkl", compress=True)
    for loaded in (
        await AsyncChronoMap.load_json(tmp_path / "s.json"),
        await AsyncChronoMap.load_pickle(tmp_path / "s.pkl"),
        await AsyncChronoMap.from_dict(await cm.to_dict()),
        await AsyncChronoMap.from_dict(await cm.to_dict(compress=True), use_rwlock=True),
    ):
        assert isinstance(loaded, AsyncChronoMap)
        assert await loaded.history("temp") == [(100.0, 20), (200.0, 22)]
    df = await cm.to_dataframe()
    assert df["value"].tolist() == [20, 22]
    await cm.to_csv(tmp_path / "h.csv")
    await cm.to_parquet(tmp_path / "h.parquet")
    assert (tmp_path / "h.csv").read_text().count("\n") == 3
    assert (tmp_path / "h.parquet").stat().st_size > 0
