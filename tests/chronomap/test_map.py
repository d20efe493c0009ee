"""ChronoMap's behaviour, method by method, including the errors."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

import pytest

from chronomap import (
    ChronoMap,
    ChronoMapKeyError,
    ChronoMapTypeError,
    ChronoMapValueError,
    SnapshotContext,
)
from chronomap import map as map_module


@pytest.fixture(params=[False, True], ids=["rlock", "rwlock"])
def cm(request: pytest.FixtureRequest) -> ChronoMap:
    return ChronoMap(use_rwlock=request.param)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """A fake ``time.time`` for the map module: set ``clock[0]`` to move time."""
    now = [1_000_000.0]
    monkeypatch.setattr(map_module, "_time", lambda: now[0])
    return now


# ---------------------------------------------------------------- put / get


def test_put_get_latest(cm: ChronoMap) -> None:
    cm.put("k", "v1")
    cm.put("k", "v2")
    assert cm.get("k") == "v2"
    assert cm["k"] == "v2"
    assert cm.put("x", 1) is None


def test_get_at_timestamp(cm: ChronoMap) -> None:
    cm.put("k", "a", timestamp=100)
    cm.put("k", "b", timestamp=200)
    assert cm.get("k", timestamp=99) is None
    assert cm.get("k", timestamp=100) == "a"
    assert cm.get("k", timestamp=150) == "a"
    assert cm.get("k", 150) == "a"  # timestamp is the second positional argument
    assert cm.get("k", timestamp=200) == "b"
    assert cm.get("k", timestamp=10**9) == "b"


def test_out_of_order_writes_stay_sorted(cm: ChronoMap) -> None:
    for ts in (300, 100, 200, 50, 250):
        cm.put("k", ts, timestamp=ts)
    assert [ts for ts, _ in cm.history("k")] == [50, 100, 200, 250, 300]
    assert cm.get("k") == 300
    assert cm.get("k", timestamp=220) == 200


def test_same_timestamp_last_write_wins(cm: ChronoMap) -> None:
    cm.put("k", "v1", timestamp=100)
    cm.put("k", "v2", timestamp=100)
    assert cm.get("k", timestamp=100) == "v2"
    assert cm.history("k") == [(100, "v1"), (100, "v2")]


def test_timestamps_in_every_form(cm: ChronoMap) -> None:
    cm.put("e", "login", timestamp="2025-10-21T12:00:00")
    cm.put("e", "logout", timestamp=datetime(2025, 10, 21, 13, 0, 0))
    assert cm.get("e", timestamp="2025-10-21T12:30:00") == "login"
    assert cm.get("e", timestamp=datetime(2025, 10, 21, 13, 30)) == "logout"
    assert cm.get("e", timestamp=1761048000.0 + 1) == "login"


def test_get_default_and_strict(cm: ChronoMap) -> None:
    assert cm.get("missing") is None
    assert cm.get("missing", default="d") == "d"
    with pytest.raises(ChronoMapKeyError):
        cm.get("missing", strict=True)
    cm.put("k", 1, timestamp=100)
    with pytest.raises(ChronoMapKeyError):
        cm.get("k", timestamp=50, strict=True)
    assert cm.get("k", timestamp=50, default=0) == 0


def test_none_is_a_value(cm: ChronoMap) -> None:
    cm["k"] = None
    assert "k" in cm
    assert cm["k"] is None
    assert cm.get("k", default="d") is None


def test_implicit_timestamps_never_go_backwards(
    cm: ChronoMap, monkeypatch: pytest.MonkeyPatch
) -> None:
    readings = iter([1000.0, 999.0])
    monkeypatch.setattr(map_module, "_time", lambda: next(readings, 2000.0))
    cm["k"] = "first"
    cm["k"] = "second"  # the clock stepped back; the write still comes last
    assert cm["k"] == "second"
    assert [ts for ts, _ in cm.history("k")] == [1000.0, 1000.0]


@pytest.mark.parametrize("bad", [["list"], {"a": 1}, {1, 2}])
def test_unhashable_keys(cm: ChronoMap, bad: object) -> None:
    for call in (
        lambda: cm.put(bad, 1),
        lambda: cm.get(bad),
        lambda: cm.delete(bad),
        lambda: cm.history(bad),
        lambda: cm.get_range(bad),
        lambda: cm.prune_history(bad, keep_last=1),
        lambda: cm.put_many([(bad, 1)]),
        lambda: cm.delete_many([bad]),
        lambda: cm.subscribe(bad, print),
    ):
        with pytest.raises(ChronoMapTypeError, match="hashable"):
            call()
    assert bad not in cm


def test_bad_timestamps_are_rejected_before_writing(cm: ChronoMap) -> None:
    with pytest.raises(ChronoMapTypeError):
        cm.put("k", 1, timestamp=1 + 2j)
    with pytest.raises(ChronoMapValueError, match="Invalid datetime string"):
        cm.put("k", 1, timestamp="not a number")
    with pytest.raises(ChronoMapValueError):
        cm.put("k", 1, timestamp=-1)
    with pytest.raises(ChronoMapValueError):
        cm.put("k", 1, timestamp=float("inf"))
    with pytest.raises(ChronoMapValueError):
        cm.get("k", timestamp="nope")
    assert "k" not in cm


# ------------------------------------------------------------- dict surface


def test_dict_methods(cm: ChronoMap) -> None:
    assert len(cm) == 0
    assert not cm
    cm["a"] = 1
    cm["b"] = 2
    cm["a"] = 3
    assert len(cm) == 2
    assert cm
    assert list(cm) == ["a", "b"]
    assert cm.keys() == ["a", "b"]
    assert cm.values() == [3, 2]
    assert cm.items() == [("a", 3), ("b", 2)]
    assert cm.latest() == {"a": 3, "b": 2}
    assert "a" in cm
    assert "z" not in cm
    assert ["unhashable"] not in cm
    del cm["a"]
    assert "a" not in cm
    with pytest.raises(ChronoMapKeyError):
        del cm["a"]
    with pytest.raises(ChronoMapKeyError):
        cm["a"]
    with pytest.raises(KeyError):  # a ChronoMapKeyError is a KeyError too
        cm["a"]


def test_iteration_is_over_a_copy(cm: ChronoMap) -> None:
    cm.put_many({"a": 1, "b": 2})
    for key in cm:
        cm[f"{key}-copy"] = 0
    assert len(cm) == 4


def test_equality_and_repr() -> None:
    one, two = ChronoMap(), ChronoMap()
    one.put("a", 1, timestamp=1)
    two.put("a", 0, timestamp=0)
    two.put("a", 1, timestamp=5)
    assert one == two  # equal newest values, whatever the history
    two["b"] = 2
    assert one != two
    assert one != {"a": 1}
    with pytest.raises(TypeError):
        hash(one)
    many = ChronoMap()
    for i in range(20):
        many[f"key{i}"] = i
    text = repr(many)
    assert text.startswith("ChronoMap(keys=['key0'")
    assert text.endswith("...)")
    assert len(text) < 200
    assert repr(one) == "ChronoMap(keys=['a'])"


# ------------------------------------------------------------------- delete


def test_delete_removes_the_whole_history(cm: ChronoMap) -> None:
    cm.put("k", 1, timestamp=1)
    cm.put("k", 2, timestamp=2)
    assert cm.delete("k") is True
    assert cm.delete("k") is False
    assert cm.history("k") == []
    assert cm.get("k", timestamp=1) is None
    cm["k"] = 3
    assert cm.history("k")[0][1] == 3


def test_put_many_and_delete_many(cm: ChronoMap) -> None:
    assert cm.put_many({"a": 1, "b": 2, "c": 3}, timestamp=100) is None
    cm.put_many([("d", 4)])
    assert cm.latest() == {"a": 1, "b": 2, "c": 3, "d": 4}
    assert cm.history("a") == [(100.0, 1)]
    assert cm.delete_many(["a", "b", "missing"]) == 2
    assert cm.keys() == ["c", "d"]
    assert cm.get_stats()["deletes"] == 2


def test_put_many_is_all_or_nothing_on_bad_input(cm: ChronoMap) -> None:
    with pytest.raises(ChronoMapTypeError):
        cm.put_many([("a", 1), (["bad"], 2)])
    with pytest.raises(ChronoMapValueError):
        cm.put_many({"a": 1}, ttl=-1)
    assert len(cm) == 0


def test_clear(cm: ChronoMap) -> None:
    cm.put("a", 1, ttl=10)
    cm.put("b", 2)
    cm.clear()
    assert len(cm) == 0
    assert cm.latest() == {}
    assert cm.clean_expired_keys() == 0


# ---------------------------------------------------------------------- TTL


def test_ttl_expires_lazily(cm: ChronoMap, clock: list[float]) -> None:
    cm.put("session", "abc", ttl=10)
    cm.put("perm", "x")
    assert cm.get("session") == "abc"
    assert "session" in cm
    assert len(cm) == 2
    clock[0] += 10
    assert cm.get("session") is None
    assert cm.get("session", timestamp=0, default="gone") == "gone"
    with pytest.raises(ChronoMapKeyError):
        cm.get("session", strict=True)
    assert "session" not in cm
    assert len(cm) == 1
    assert cm.keys() == ["perm"]
    assert cm.history("session") == []
    assert cm.get_range("session") == []
    assert cm.latest() == {"perm": "x"}
    assert cm.delete("session") is False
    assert cm.clean_expired_keys() == 0  # delete already dropped it


def test_ttl_with_real_time() -> None:
    cm = ChronoMap()
    before_put = time.time()
    cm.put("temp", "value", ttl=0.2)
    value = cm.get("temp")
    if time.time() - before_put < 0.2:  # a stalled (loaded) machine may already be past it
        assert value == "value"
    time.sleep(0.2)
    assert cm.get("temp") is None


def test_clean_expired_keys(cm: ChronoMap, clock: list[float]) -> None:
    cm.put("t1", 1, ttl=1)
    cm.put_many({"t2": 2, "t3": 3}, ttl=5)
    cm.put("perm", 0)
    clock[0] += 2
    assert cm.clean_expired_keys() == 1
    clock[0] += 5
    assert cm.clean_expired_keys() == 2
    assert cm.keys() == ["perm"]


def test_a_write_after_expiry_starts_a_fresh_key(cm: ChronoMap, clock: list[float]) -> None:
    cm.put("s", "old", ttl=1)
    clock[0] += 2
    changes = []
    cm.on_change(lambda key, old, new, ts: changes.append((old, new)))
    cm.put("s", "new")
    assert cm["s"] == "new"
    assert cm.history("s") == [(clock[0], "new")]
    assert changes == [(None, "new")]
    clock[0] += 100
    assert cm["s"] == "new"  # the old TTL went with the expired key


def test_ttl_survives_later_writes_without_ttl(cm: ChronoMap, clock: list[float]) -> None:
    cm.put("s", 1, ttl=10)
    cm.put("s", 2)
    clock[0] += 11
    assert "s" not in cm


@pytest.mark.parametrize("ttl", [0, -1, float("nan")])
def test_bad_ttl(cm: ChronoMap, ttl: float) -> None:
    with pytest.raises(ChronoMapValueError, match="TTL"):
        cm.put("k", 1, ttl=ttl)
    assert "k" not in cm


# ---------------------------------------------------------------- queries


def test_get_range(cm: ChronoMap) -> None:
    for ts, value in ((100, 10), (200, 15), (300, 20)):
        cm.put("sensor", value, timestamp=ts)
    assert cm.get_range("sensor", start_ts=150, end_ts=250) == [(200, 15)]
    assert cm.get_range("sensor", start_ts=100, end_ts=300) == [(100, 10), (200, 15), (300, 20)]
    assert cm.get_range("sensor", start_ts=200) == [(200, 15), (300, 20)]
    assert cm.get_range("sensor", end_ts=200) == [(100, 10), (200, 15)]
    assert len(cm.get_range("sensor")) == 3
    assert cm.get_range("sensor", start_ts=400) == []
    assert cm.get_range("missing") == []
    with pytest.raises(ChronoMapValueError, match="start_ts"):
        cm.get_range("sensor", start_ts=-1)


def test_get_latest_keys(cm: ChronoMap) -> None:
    cm.put("a", 1, timestamp=100)
    cm.put("b", 2, timestamp=200)
    cm.put("c", 3, timestamp=300)
    cm.put("a", 0, timestamp=50)  # an old version does not make "a" recent
    assert cm.get_latest_keys(2) == [("c", 300, 3), ("b", 200, 2)]
    assert [key for key, _, _ in cm.get_latest_keys(10)] == ["c", "b", "a"]
    assert cm.get_latest_keys(0) == []
    with pytest.raises(ChronoMapValueError):
        cm.get_latest_keys(-1)


def test_get_keys_by_value(cm: ChronoMap) -> None:
    cm.put_many({"u1": "active", "u2": "active", "u3": "inactive"}, timestamp=100)
    cm.put("u2", "inactive", timestamp=200)
    assert cm.get_keys_by_value("active") == ["u1"]
    assert cm.get_keys_by_value("active", timestamp=150) == ["u1", "u2"]
    assert cm.get_keys_by_value("nobody") == []


def test_query_aggregate_count(cm: ChronoMap) -> None:
    cm.put_many({"a": 10, "b": 20, "c": 30, "name": "x"}, timestamp=100)
    cm.put("a", 40, timestamp=200)
    numbers = cm.query(lambda k, v: isinstance(v, int))
    assert numbers == {"a": 40, "b": 20, "c": 30}
    assert cm.query(lambda k, v: isinstance(v, int) and v > 15, timestamp=150) == {
        "b": 20,
        "c": 30,
    }
    assert cm.query(lambda k, v: k.startswith("n")) == {"name": "x"}
    assert cm.aggregate(sum, keys=["a", "b"]) == 60
    assert cm.aggregate(sum, keys=["a", "b"], timestamp=150) == 30
    assert cm.aggregate(max, keys=["a", "missing"]) == 40
    assert cm.aggregate(sum, keys=["missing"]) is None
    assert cm.aggregate(len) == 4
    assert cm.count() == 4
    assert cm.count(lambda k, v: v == "x") == 1
    assert cm.count(timestamp=50) == 0


def test_aggregate_skips_none_values(cm: ChronoMap) -> None:
    cm.put_many({"a": 1, "b": None, "c": 2})
    assert cm.aggregate(lambda values: sum(values) / len(values)) == 1.5


def test_predicates_may_use_the_map(cm: ChronoMap) -> None:
    cm.put_many({"a": 1, "b": 2})
    # A predicate runs outside the lock, so it may read and write the map.
    assert cm.query(lambda k, v: cm.get(k) == v and cm.put("seen", k) is None) == {"a": 1, "b": 2}


# ---------------------------------------------------------------- history


def test_history_and_iter_history(cm: ChronoMap) -> None:
    cm.put("k", "v1", timestamp=100)
    cm.put("k", "v2", timestamp=200)
    assert cm.history("k") == [(100, "v1"), (200, "v2")]
    assert cm.history("missing") == []
    iterator = cm.iter_history("k")
    cm.put("k", "v3", timestamp=300)  # the iterator walks the versions as they were
    assert list(iterator) == [(100, "v1"), (200, "v2")]
    returned = cm.history("k")
    returned.clear()
    assert len(cm.history("k")) == 3


def test_prune_history_keep_last(cm: ChronoMap) -> None:
    for i in range(100):
        cm.put("sensor", i, timestamp=i)
    assert cm.prune_history("sensor", keep_last=10) == 90
    assert [value for _, value in cm.history("sensor")] == list(range(90, 100))
    assert cm.prune_history("sensor", keep_last=10) == 0
    assert cm.prune_history("missing", keep_last=1) == 0


def test_prune_history_older_than_keeps_the_newest(cm: ChronoMap) -> None:
    cm.put("log", "old", timestamp="2024-06-01")
    cm.put("log", "recent", timestamp="2025-06-01")
    assert cm.prune_history("log", older_than="2025-01-01") == 1
    assert cm.history("log") == [(datetime(2025, 6, 1, tzinfo=UTC).timestamp(), "recent")]
    cm.put("stale", "a", timestamp=1)
    cm.put("stale", "b", timestamp=2)
    assert cm.prune_history("stale", older_than=1000) == 1
    assert cm.history("stale") == [(2, "b")]
    assert cm.prune_history("stale", keep_last=5, older_than=datetime(2025, 1, 1)) == 0


def test_prune_all_history(cm: ChronoMap) -> None:
    for key in ("a", "b", "c"):
        for i in range(50):
            cm.put(key, i, timestamp=i)
    assert cm.prune_all_history(keep_last=10) == 120
    assert all(len(cm.history(key)) == 10 for key in "abc")
    assert cm.prune_all_history(older_than=45) == 15
    assert cm.prune_all_history() == 0


@pytest.mark.parametrize("keep_last", [0, -1, 1.5, True])
def test_bad_keep_last(cm: ChronoMap, keep_last: object) -> None:
    cm["k"] = 1
    with pytest.raises(ChronoMapValueError, match="keep_last"):
        cm.prune_history("k", keep_last=keep_last)  # type: ignore[arg-type]
    with pytest.raises(ChronoMapValueError, match="keep_last"):
        cm.prune_all_history(keep_last=keep_last)  # type: ignore[arg-type]


def test_max_history_prunes_on_write() -> None:
    cm = ChronoMap(max_history=3)
    for i in range(10):
        cm.put("k", i, timestamp=i)
    assert cm.history("k") == [(7, 7), (8, 8), (9, 9)]
    cm.put("k", "late", timestamp=7.5)  # an out-of-order write is kept, the oldest goes
    assert cm.history("k") == [(7.5, "late"), (8, 8), (9, 9)]
    assert cm.snapshot().history("k") == cm.history("k")
    restored = ChronoMap.from_dict({"store": {"k": [(i, i) for i in range(5)]}}, max_history=2)
    assert restored.history("k") == [(3, 3), (4, 4)]


@pytest.mark.parametrize("bad", [0, -1, 2.0, True])
def test_bad_max_history(bad: object) -> None:
    with pytest.raises(ChronoMapValueError, match="max_history"):
        ChronoMap(max_history=bad)  # type: ignore[arg-type]


# ------------------------------------------------------ snapshots and merge


def test_snapshot_is_independent(cm: ChronoMap) -> None:
    cm["k"] = {"nested": [1]}
    snap = cm.snapshot()
    cm["k"]["nested"].append(2)  # mutating the live value does not reach the snapshot
    cm["k"] = "v2"
    assert snap["k"] == {"nested": [1]}
    assert cm["k"] == "v2"
    assert isinstance(snap, ChronoMap)
    assert snap.snapshot_time is not None
    assert cm.snapshot_time is None
    assert cm.get_stats()["snapshots"] == 1


def test_rollback(cm: ChronoMap) -> None:
    cm["k"] = "v1"
    snap = cm.snapshot()
    cm["k"] = "v2"
    cm["new"] = "x"
    cm.rollback(snap)
    assert cm["k"] == "v1"
    assert "new" not in cm
    cm["k"] = "v3"
    assert snap["k"] == "v1"  # rolling back copies, the snapshot stays usable
    cm.rollback(snap)
    assert cm.history("k") == snap.history("k")
    with pytest.raises(ChronoMapTypeError):
        cm.rollback({"not": "a map"})  # type: ignore[arg-type]


def test_snapshot_context(cm: ChronoMap) -> None:
    cm["counter"] = 10
    with pytest.raises(RuntimeError, match="boom"), cm.snapshot_context() as inside:
        assert inside is cm
        cm["counter"] = 100
        cm["temp"] = "data"
        raise RuntimeError("boom")
    assert cm["counter"] == 10
    assert cm.get("temp") is None
    with cm.snapshot_context():
        cm["counter"] = 11
    assert cm["counter"] == 11
    assert isinstance(cm.snapshot_context(), SnapshotContext)


def test_diff_and_diff_detailed() -> None:
    one, two = ChronoMap(), ChronoMap()
    one.put_many({"a": 1, "b": 2, "only_one": 0, "none": None})
    two.put_many({"a": 1, "b": 3, "c": 4})
    assert one.diff(two) == {"b", "c", "only_one", "none"}
    assert one.diff_detailed(two) == [
        ("b", 3, 2),
        ("only_one", None, 0),
        ("none", None, None),
        ("c", 4, None),
    ]
    assert one.diff(one.snapshot()) == set()
    with pytest.raises(ChronoMapTypeError):
        one.diff({"a": 1})  # type: ignore[arg-type]
    with pytest.raises(ChronoMapTypeError):
        one.diff_detailed(None)  # type: ignore[arg-type]


def test_merge_by_timestamp() -> None:
    one, two = ChronoMap(), ChronoMap()
    one.put("shared", "v1", timestamp=100)
    one.put("shared", "v3", timestamp=300)
    two.put("shared", "v2", timestamp=200)
    two.put("unique", "data", timestamp=50)
    assert one.merge(two, strategy="timestamp") is None
    assert one.history("shared") == [(100, "v1"), (200, "v2"), (300, "v3")]
    assert one["shared"] == "v3"
    assert one["unique"] == "data"
    one.merge(two)  # merging again adds nothing twice
    assert len(one.history("shared")) == 3
    assert one.diff(two) == {"shared"}
    two.put("unique", "changed", timestamp=10)
    one.merge(two)
    assert one["unique"] == "data"  # an older version does not win


def test_merge_overwrite() -> None:
    one, two = ChronoMap(), ChronoMap()
    one.put("a", 1, timestamp=100)
    one.put("mine", 0)
    two.put("a", 2, timestamp=50)
    one.merge(two, strategy="overwrite")
    assert one.history("a") == [(50, 2)]
    assert one["mine"] == 0
    two.put("a", 3, timestamp=60)
    assert one["a"] == 2  # the merged history is a copy


def test_merge_ttls(clock: list[float]) -> None:
    one, two = ChronoMap(), ChronoMap()
    one.put("k", 1, timestamp=1, ttl=10)
    two.put("k", 2, timestamp=2, ttl=100)
    two.put("short", 0, ttl=5)
    one.merge(two)
    clock[0] += 50
    assert one["k"] == 2  # the later expiry wins
    assert "short" not in one
    three = ChronoMap()
    three.put("k", 3, ttl=1)
    one.merge(three, strategy="overwrite")
    clock[0] += 2
    assert "k" not in one


def test_merge_errors_and_events() -> None:
    one, two = ChronoMap(), ChronoMap()
    with pytest.raises(ChronoMapTypeError):
        one.merge({"a": 1})  # type: ignore[arg-type]
    with pytest.raises(ChronoMapValueError, match="strategy"):
        one.merge(two, strategy="newest")  # type: ignore[arg-type]
    changes = []
    one.on_change(lambda key, old, new, ts: changes.append((key, old, new, ts)))
    one.put("a", 1, timestamp=1)
    two.put("a", 2, timestamp=2)
    two.put("b", 3, timestamp=3)
    one.merge(two)
    assert changes[1:] == [("a", 1, 2, 2.0), ("b", None, 3, 3.0)]
    one.merge(one)
    assert len(changes) == 3  # merging a map into itself changes nothing


# -------------------------------------------------------------- stats, debug


def test_stats(cm: ChronoMap) -> None:
    cm["a"] = 1
    cm.put_many({"b": 2, "c": 3})
    _ = cm["a"]
    cm.get("b")
    cm.get("missing")
    del cm["a"]
    cm.delete("missing")
    cm.snapshot()
    assert cm.get_stats() == {"reads": 3, "writes": 3, "deletes": 1, "snapshots": 1}
    cm.reset_stats()
    assert cm.get_stats() == {"reads": 0, "writes": 0, "deletes": 0, "snapshots": 0}


def test_debug_logs_operations(caplog: pytest.LogCaptureFixture) -> None:
    cm = ChronoMap(debug=True)
    with caplog.at_level(logging.DEBUG, logger="chronomap"):
        cm.put("key", "value")
        cm.delete("key")
    assert "PUT 'key'" in caplog.text
    assert "DELETE 'key'" in caplog.text


def test_reading_an_expired_key_frees_it(cm: ChronoMap, clock: list[float]) -> None:
    cm.put("s", 1, ttl=1)
    clock[0] += 1
    assert cm.get("s") is None
    assert cm.clean_expired_keys() == 0  # the read already dropped it
    assert cm.to_dict()["store"] == {}


def test_pickle_and_copy_the_map_itself() -> None:
    import copy
    import pickle

    cm = ChronoMap(use_rwlock=True, max_history=5)
    cm.put("k", [1], timestamp=1)
    cm.put("k", [2], timestamp=2)
    for again in (pickle.loads(pickle.dumps(cm)), copy.deepcopy(cm), copy.copy(cm)):
        assert again.history("k") == [(1, [1]), (2, [2])]
        assert again._rwlock is not None
        assert again._max_history == 5
        again.put("k", "independent")
        assert cm["k"] == [2]
