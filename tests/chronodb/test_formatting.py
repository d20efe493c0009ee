"""How the command line shows rows: aligned tables, CSV, JSON."""

from __future__ import annotations

import json

from chronodb.formatting import iso_time, table, to_csv, to_json


def test_table_aligns_text_left_and_numbers_right() -> None:
    assert table(["id", "name", "score"], [(1, "Alice", 9.5), (100, "Bo", 10)]).splitlines() == [
        "id  | name  | score",
        "----+-------+------",
        "  1 | Alice |   9.5",
        "100 | Bo    |    10",
    ]


def test_table_shows_null_bytes_and_periods() -> None:
    lines = table(
        ["code", "blob", "sys_from", "sys_to"],
        [("007", b"\x00\xff", 1_700_000_000.5, None), ("x", None, 0, None)],
    ).splitlines()
    assert lines[2] == "007  | x'00ff' | 2023-11-14T22:13:20.500000Z | NULL"
    assert lines[3] == "x    | NULL    | 1970-01-01T00:00:00.000000Z | NULL"


def test_text_that_looks_numeric_stays_left_aligned() -> None:
    assert table(["v"], [("inf",), ("12345",)]).splitlines()[2:] == ["inf", "12345"]


def test_empty_result_keeps_its_header() -> None:
    assert table(["a", "bb"], []) == "a | bb\n--+---"


def test_csv_quotes_and_empties_null() -> None:
    assert to_csv(["a", "b"], [("x,y", None), ('say "hi"', b"\x01")]) == (
        'a,b\n"x,y",\n"say ""hi""",01'
    )


def test_json_is_indented_and_readable() -> None:
    text = to_json([{"name": "Zoë", "blob": b"\x02", "n": None}])
    assert "Zoë" in text
    assert json.loads(text) == [{"name": "Zoë", "blob": "02", "n": None}]


def test_iso_time_is_utc_with_microseconds() -> None:
    assert iso_time(0.000001) == "1970-01-01T00:00:00.000001Z"
