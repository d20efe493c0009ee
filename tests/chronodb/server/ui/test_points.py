"""?as_of= as the pages read it, and where a point falls on the timeline."""

from __future__ import annotations

from pathlib import Path

import pytest

from chronodb import ChronoDB
from chronodb.errors import TimestampError
from chronodb.server.ui.points import Timeline, parse_point


def test_digits_are_a_transaction_anything_else_a_time():
    assert (parse_point("41").kind, parse_point("41").value) == ("TRANSACTION", 41)
    at = parse_point("2025-10-21T12:00:00Z")
    assert at.kind == "TIMESTAMP" and at.value == 1_761_048_000_000_000
    assert parse_point("1761048000.5").value == 1_761_048_000_500_000
    assert parse_point("") is None and parse_point(None) is None


def test_a_bad_point_names_the_parameter_and_value():
    with pytest.raises(TimestampError, match=r"\?from='last week'"):
        parse_point("last week", "from")


def test_timeline_finds_the_transaction_in_effect(shop: Path, txs: list[int]):
    with ChronoDB(shop) as db:
        timeline = Timeline(db)
        assert [t.tx_id for t in timeline.ticks] == txs
        assert timeline.index(None) == len(txs) - 1
        assert timeline.index(parse_point(str(txs[2] + 1))) == 2
        assert timeline.index(parse_point("0")) is None
        t3 = timeline.ticks[3].tx_time
        assert timeline.index(parse_point(repr(t3))) == 3
        assert timeline.seconds(parse_point(str(txs[3]))) == t3
        assert timeline.seconds(parse_point("0")) == 0.0
        short = Timeline(db, limit=2)  # older points are looked up beyond the ticks shown
        assert short.seconds(parse_point(str(txs[1]))) == timeline.ticks[1].tx_time
