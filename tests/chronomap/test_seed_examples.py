"""Every ```python example of the ChronoMap seed README, run as written.

The examples are copied verbatim below (a test checks them against the seed
when the seed file is around). Each runs in a fresh namespace holding a new
``cm``, the imports the README takes for granted, and a temporary working
directory for the files it writes.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest

from chronomap import AsyncChronoMap, ChronoMap, ChronoMapKeyError

SEED = Path("/work/shared/seeds/000_697c3bd131469ea4.txt")

EXAMPLES = [
    (
        "🚀 Quick Start",
        """\
from chronomap import ChronoMap

cm = ChronoMap()
cm['user'] = 'alice'
cm['status'] = 'active'
print(cm['user'])

# Query active users
active = cm.query(lambda k, v: v == 'active')

# Track changes
def log_change(key, old, new, ts):
    print(f"{key}: {old} → {new}")
cm.on_change(log_change)

# Prune old history
cm.prune_all_history(keep_last=100)
""",
    ),
    (
        "Basic Operations",
        """\
cm.put('key', 'value')
value = cm.get('key')
cm.delete('key')

cm['key'] = 'value'
value = cm['key']
del cm['key']

if 'key' in cm:
    print("Key exists")
value = cm.get('nonexistent', default='default_value')

try:
    value = cm.get('nonexistent', strict=True)
except ChronoMapKeyError:
    print("Key not found")
""",
    ),
    (
        "Time Travel with Datetime",
        """\
# Use datetime strings or objects
cm.put('event', 'login', timestamp="2025-10-21T12:00:00")
cm.put('event', 'logout', timestamp=datetime(2025, 10, 21, 13, 0, 0))

# Query at specific time
value = cm.get('event', timestamp="2025-10-21T12:30:00")
""",
    ),
    (
        "TTL and Auto-Expiry",
        """\
cm.put('session_token', 'abc123', ttl=3600)
print(cm.get('session_token'))
removed_count = cm.clean_expired_keys()
print(f"Removed {removed_count} expired keys")
""",
    ),
    (
        "Snapshots and Context Manager",
        """\
cm['counter'] = 10
with cm.snapshot_context():
    cm['counter'] = 100
    cm['temp'] = 'data'
    raise Exception("Rollback!")  # Auto-rollback on exception

print(cm['counter'])  # 10
print(cm.get('temp'))  # None
""",
    ),
    (
        "Event Hooks",
        """\
def audit_log(key, old, new, ts):
    print(f"[AUDIT] {key}: {old} → {new} at {ts}")

cm.on_change(audit_log)
cm['config'] = 'new_value'
""",
    ),
    (
        "Query & Aggregation",
        """\
cm.put_many({'score1': 85, 'score2': 92, 'score3': 78})

# Filter
high_scores = cm.query(lambda k, v: isinstance(v, int) and v > 80)

# Aggregate
avg = cm.aggregate(lambda vals: sum(vals) / len(vals))
total = cm.aggregate(sum, keys=['score1', 'score2'])

# Count
active_count = cm.count(lambda k, v: v == 'active')
""",
    ),
    (
        "History Pruning",
        """\
# Keep only last 10 versions
cm.prune_history('sensor', keep_last=10)

# Remove versions older than date
cm.prune_history('log', older_than="2025-01-01")

# Prune all keys
cm.prune_all_history(keep_last=100)
""",
    ),
    (
        "AsyncChronoMap",
        """\
import asyncio
from chronomap import AsyncChronoMap

async def main():
    cm = AsyncChronoMap()
    await cm.put('key', 'value')
    value = await cm.get('key')
    snap = await cm.snapshot()
    keys = await cm.keys()
    latest = await cm.latest()

asyncio.run(main())
""",
    ),
    (
        "Pandas Export",
        """\
# Requires: pip install pandas
df = cm.to_dataframe()
print(df.head())
#   key  value  timestamp            datetime  version
# 0  temp     20      100.0 1970-01-01 00:01:40        0
""",
    ),
    (
        "Compression and Persistence",
        """\
# Save with compression
cm.save_pickle('state.pkl', compress=True)

# Load automatically detects compression
cm2 = ChronoMap.load_pickle('state.pkl')
""",
    ),
    (
        "Statistics",
        """\
stats = cm.get_stats()
print(f"Writes: {stats['writes']}, Reads: {stats['reads']}")
cm.reset_stats()
""",
    ),
    (
        "Batch Operations",
        """\
users = {
    'user:1': {'name': 'Alice', 'role': 'admin'},
    'user:2': {'name': 'Bob', 'role': 'user'},
    'user:3': {'name': 'Charlie', 'role': 'user'}
}
cm.put_many(users)
cm.put_many(users, ttl=3600)
cm.put_many(users, timestamp=1609459200)
deleted_count = cm.delete_many(['user:2', 'user:3'])
print(f"Deleted {deleted_count} keys")
""",
    ),
    (
        "Advanced Queries",
        """\
cm.put('sensor', 10, timestamp=100)
cm.put('sensor', 15, timestamp=200)
cm.put('sensor', 20, timestamp=300)
readings = cm.get_range('sensor', start_ts=150, end_ts=250)

latest = cm.get_latest_keys(2)
for key, timestamp, value in latest:
    print(f"{key}: {value} (updated at {timestamp})")

cm.put_many({'user1': 'active', 'user2': 'active', 'user3': 'inactive'})
active_users = cm.get_keys_by_value('active')
""",
    ),
    (
        "Merge and Diff",
        """\
cm1 = ChronoMap()
cm2 = ChronoMap()
cm1.put('shared', 'v1', timestamp=100)
cm2.put('shared', 'v2', timestamp=200)
cm2.put('unique', 'data')
cm1.merge(cm2, strategy='timestamp')
changed_keys = cm1.diff(cm2)
""",
    ),
    (
        "Iteratons and Utilities",
        """\
for key in cm:
    print(key)

latest = cm.latest()
history = cm.history('key')
print(len(cm))
cm.clear()
""",
    ),
]


def _namespace() -> dict[str, object]:
    return {
        "ChronoMap": ChronoMap,
        "AsyncChronoMap": AsyncChronoMap,
        "ChronoMapKeyError": ChronoMapKeyError,
        "datetime": datetime,
        "cm": ChronoMap(),
    }


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize(("title", "code"), EXAMPLES, ids=[title for title, _ in EXAMPLES])
def test_example_runs(title: str, code: str, capsys: pytest.CaptureFixture[str]) -> None:
    namespace = _namespace()
    if "raise Exception" in code:
        # The README's rollback example raises on purpose; the exception propagates.
        with pytest.raises(Exception, match="Rollback!"):
            exec(code, namespace)
        return
    exec(code, namespace)


def test_quick_start_results(capsys: pytest.CaptureFixture[str]) -> None:
    namespace = _namespace()
    exec(EXAMPLES[0][1], namespace)
    assert capsys.readouterr().out == "alice\n"
    assert namespace["active"] == {"status": "active"}
    cm = namespace["cm"]
    cm["user"] = "bob"
    assert capsys.readouterr().out == "user: alice → bob\n"


def test_snapshot_example_rolls_back() -> None:
    namespace = _namespace()
    code = dict(EXAMPLES)["Snapshots and Context Manager"]
    with pytest.raises(Exception, match="Rollback!"):
        exec(code, namespace)
    after = code[code.index("print(cm['counter'])") :]
    cm = namespace["cm"]
    assert cm["counter"] == 10
    assert cm.get("temp") is None
    exec(after, namespace)


def test_documented_results(capsys: pytest.CaptureFixture[str]) -> None:
    examples = dict(EXAMPLES)
    ns = _namespace()
    exec(examples["Time Travel with Datetime"], ns)
    assert ns["value"] == "login"

    ns = _namespace()
    exec(examples["Query & Aggregation"], ns)
    assert ns["high_scores"] == {"score1": 85, "score2": 92}
    assert ns["avg"] == pytest.approx(85)
    assert ns["total"] == 177
    assert ns["active_count"] == 0

    ns = _namespace()
    exec(examples["Advanced Queries"], ns)
    assert ns["readings"] == [(200, 15)]
    assert ns["latest"] == [("sensor", 300.0, 20)]
    assert ns["active_users"] == ["user1", "user2"]

    ns = _namespace()
    exec(examples["Batch Operations"], ns)
    assert ns["deleted_count"] == 2
    assert ns["cm"].keys() == ["user:1"]

    ns = _namespace()
    exec(examples["Merge and Diff"], ns)
    assert ns["cm1"]["shared"] == "v2"
    assert ns["cm1"]["unique"] == "data"
    assert ns["changed_keys"] == set()

    ns = _namespace()
    ns["cm"].put("temp", 20, timestamp=100)
    exec(examples["Pandas Export"], ns)
    assert "1970-01-01 00:01:40" in capsys.readouterr().out

    ns = _namespace()
    ns["cm"].put("a", 1)
    exec(examples["Compression and Persistence"], ns)
    assert ns["cm2"] == ns["cm"]


def test_examples_match_the_seed() -> None:
    if not SEED.exists():
        pytest.skip("the seed README is not on this machine")
    text = SEED.read_text(encoding="utf-8")
    assert [code for _, code in EXAMPLES] == re.findall(r"```python\n(.*?)```", text, re.S)
