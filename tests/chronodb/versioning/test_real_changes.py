"""REAL values in change rows come back as the very doubles that were written.

Change rows are JSON built inside SQLite, whose JSON writes 15 significant digits: a user
who wrote 0.30000000000000004 used to read 0.3 back from ``db.changes()``.
"""

from __future__ import annotations

import json
import math
import sqlite3
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from chronodb import ChronoDB
from chronodb.sql.snapshots import json_value

# Needing 17 digits, or 15, integral, tiny, subnormal, huge, negative.
VALUES = [
    0.1 + 0.2,
    1 / 3,
    -2 / 3 * 1e-8,
    123456789.12345679,
    19.99,
    2.0,
    -0.5,
    1e15 + 0.5,
    2.0**53 + 2,
    1e-30 / 7,
    5e-324,
    1e300 / 3,
    1.7976931348623157e308,
]


def _strict(text: str) -> Any:
    """Parse JSON as a strict reader would: no NaN or Infinity tokens."""

    def refuse(token: str) -> None:
        raise AssertionError(f"non-standard JSON token {token}")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture
def readings(db: ChronoDB) -> ChronoDB:
    """``readings(id, value REAL, raw)``: every value inserted, then moved by one ulp."""
    db.execute("CREATE TABLE readings (id INTEGER PRIMARY KEY, value REAL, raw)")
    db.executemany(
        "INSERT INTO readings VALUES (?, ?, ?)", [(i, v, v) for i, v in enumerate(VALUES)]
    )
    db.executemany(
        "UPDATE readings SET value = ?, raw = ? WHERE id = ?",
        [(math.nextafter(v, 0.0), math.nextafter(v, math.inf), i) for i, v in enumerate(VALUES)],
    )
    return db


def test_changes_return_every_real_exactly(readings: ChronoDB) -> None:
    changes = readings.changes("readings")
    inserts = {c["id"]: c["after"] for c in changes if c["operation"] == "INSERT"}
    updates = {c["id"]: c for c in changes if c["operation"] == "UPDATE"}
    for i, v in enumerate(VALUES):
        assert inserts[i] == {"id": i, "value": v, "raw": v}
        assert updates[i]["before"] == {"id": i, "value": v, "raw": v}
        assert updates[i]["after"] == {
            "id": i,
            "value": math.nextafter(v, 0.0),
            "raw": math.nextafter(v, math.inf),
        }
        assert type(inserts[i]["value"]) is float and type(inserts[i]["raw"]) is float


def test_change_history_returns_every_real_exactly(readings: ChronoDB) -> None:
    for i, v in enumerate(VALUES):
        inserted, updated = readings.get_change_history("readings", i)
        assert inserted["values"] == {"id": i, "value": v, "raw": v}
        assert updated["before"] == {"id": i, "value": v, "raw": v}
        assert updated["values"]["value"] == math.nextafter(v, 0.0)


def test_chrono_changes_json_is_standard_and_exact(readings: ChronoDB) -> None:
    rows = readings.execute("SELECT id, after FROM chrono_changes('readings', 0)").fetchall()
    got = {row["id"]: _strict(row["after"]) for row in rows}  # the newest version wins
    for i, v in enumerate(VALUES):
        assert got[i]["value"] == math.nextafter(v, 0.0)
        assert got[i]["raw"] == math.nextafter(v, math.inf)


def test_values_fifteen_digits_hold_exactly_keep_their_short_text(db: ChronoDB) -> None:
    db.execute("CREATE TABLE prices (id INTEGER PRIMARY KEY, price REAL)")
    db.execute("INSERT INTO prices VALUES (1, 19.99), (2, 2.0), (3, 0.1), (4, 1e-7)")
    rows = db.execute("SELECT after FROM chrono_changes('prices', 0) ORDER BY id").fetchall()
    assert [r["after"] for r in rows] == [
        '{"id":1,"price":19.99}',
        '{"id":2,"price":2.0}',
        '{"id":3,"price":0.1}',
        '{"id":4,"price":1.0e-07}',
    ]


def test_infinities_come_back_as_infinities(db: ChronoDB) -> None:
    db.execute("CREATE TABLE m (id INTEGER PRIMARY KEY, x REAL)")
    db.execute("INSERT INTO m VALUES (1, ?), (2, ?)", [math.inf, -math.inf])
    assert [c["after"]["x"] for c in db.changes("m")] == [math.inf, -math.inf]
    raw = db.execute("SELECT after FROM chrono_changes('m', 0)").fetchall()
    assert [_strict(r["after"])["x"] for r in raw] == [math.inf, -math.inf]


_CONN = sqlite3.connect(":memory:", check_same_thread=False)
_AS_JSON = f"SELECT json_object('v', {json_value('v')}) FROM (SELECT ? AS v)"


@settings(max_examples=1000, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
@example(0.1 + 0.2)
@example(-0.0)
@example(2.2250738585072009e-308)
@example(9007199254740994.0)
def test_any_real_in_a_change_row_reads_back_exactly(x: float) -> None:
    (text,) = _CONN.execute(_AS_JSON, (x,)).fetchone()
    value = _strict(text)["v"]
    assert value == x and type(value) is float
