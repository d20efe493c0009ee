"""Laws checked with hypothesis: reads equal a naive replay of the writes."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from chronomap import ChronoMap

keys = st.sampled_from(["a", "b", "c", 1, (2, "x")])
stamps = st.integers(min_value=0, max_value=50).map(float) | st.floats(
    min_value=0, max_value=50, allow_nan=False
)
writes = st.lists(st.tuples(keys, stamps, st.integers()), max_size=40)


def replay(log: list[tuple[Any, float, int]], key: Any, at: float | None) -> Any:
    """The oracle: of the writes of ``key`` at or before ``at``, the latest timestamp wins,
    and among equal timestamps the later write."""
    best = None
    for order, (k, ts, value) in enumerate(log):
        if k == key and (at is None or ts <= at) and (best is None or (ts, order) >= best[:2]):
            best = (ts, order, value)
    return None if best is None else best[2]


@settings(max_examples=150, deadline=None)
@given(log=writes, probes=st.lists(stamps, max_size=10), max_history=st.none())
def test_get_equals_replay(log: list, probes: list[float], max_history: None) -> None:
    cm = ChronoMap()
    for key, ts, value in log:
        cm.put(key, value, timestamp=ts)
    for key in {k for k, _, _ in log} | {"never"}:
        assert cm.get(key) == replay(log, key, None)
        for at in probes:
            assert cm.get(key, timestamp=at) == replay(log, key, at)


@settings(max_examples=150, deadline=None)
@given(log=writes)
def test_history_is_sorted_and_complete(log: list) -> None:
    cm = ChronoMap()
    for key, ts, value in log:
        cm.put(key, value, timestamp=ts)
    for key in cm:
        history = cm.history(key)
        stamps_seen = [ts for ts, _ in history]
        assert stamps_seen == sorted(stamps_seen)
        expected = sorted(
            ((ts, order, value) for order, (k, ts, value) in enumerate(log) if k == key)
        )
        assert history == [(ts, value) for ts, _, value in expected]
        assert cm.get_range(key) == history


@settings(max_examples=100, deadline=None)
@given(log=writes, keep=st.integers(min_value=1, max_value=5))
def test_max_history_keeps_the_newest_versions(log: list, keep: int) -> None:
    bounded, full = ChronoMap(max_history=keep), ChronoMap()
    for key, ts, value in log:
        bounded.put(key, value, timestamp=ts)
        full.put(key, value, timestamp=ts)
    for key in full:
        assert len(bounded.history(key)) <= keep
        assert bounded.get(key) == full.get(key)


@settings(max_examples=100, deadline=None)
@given(left=writes, right=writes)
def test_merge_by_timestamp_equals_replaying_both(left: list, right: list) -> None:
    one, two, both = ChronoMap(), ChronoMap(), ChronoMap()
    for target, log in ((one, left), (two, right)):
        for key, ts, value in log:
            target.put(key, value, timestamp=ts)
    one.merge(two)
    for key, ts, value in left + right:
        both.put(key, value, timestamp=ts)
    for key in both:
        merged = one.history(key)
        assert [ts for ts, _ in merged] == sorted(ts for ts, _ in merged)
        assert set(merged) == set(both.history(key))


@settings(max_examples=50, deadline=None)
@given(log=writes)
def test_persistence_round_trips(log: list) -> None:
    cm = ChronoMap()
    for key, ts, value in log:
        cm.put(key, value, timestamp=ts)
    for again in (
        ChronoMap.from_dict(cm.to_dict()),
        ChronoMap.from_dict(cm.to_dict(compress=True)),
    ):
        assert again.keys() == cm.keys()
        assert all(again.history(key) == cm.history(key) for key in cm)
