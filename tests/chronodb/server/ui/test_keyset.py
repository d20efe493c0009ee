"""Keyset pages: following ``next`` visits every row once, in order, now and AS OF."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from chronodb import ChronoDB
from chronodb.server import create_app


def walk(client: TestClient, url: str) -> list[dict]:
    rows, nxt, pages = [], None, 0
    while True:
        page = client.get(url + ("&" + urlencode({"_next": nxt}) if nxt else "")).json()
        rows += page["rows"]
        pages += 1
        nxt = page["next"]
        if nxt is None:
            return rows
        assert pages < 100


@pytest.fixture(scope="module")
def numbers(tmp_path_factory) -> tuple[Path, int]:
    """120 rows with a nullable, repeating column; then half of them change."""
    path = tmp_path_factory.mktemp("keyset") / "n.db"
    with ChronoDB(path) as db:
        db.execute("CREATE TABLE n (id INTEGER PRIMARY KEY, grp INTEGER, name TEXT)")
        db.executemany(
            "INSERT INTO n VALUES (?, ?, ?)",
            [(i, None if i % 7 == 0 else i % 5, f"n{i}") for i in range(1, 121)],
        )
        before = db.transactions(limit=1)[0]["tx_id"]
        db.execute("UPDATE n SET grp = grp + 10 WHERE id % 2 = 0")
        db.execute("DELETE FROM n WHERE id > 110")
    return path, before


def expected(rows: list[tuple], sort: int | None, desc: bool) -> list[int]:
    def key(r: tuple) -> tuple:
        value = r[sort] if sort is not None else None
        return (value is None, value if value is not None else 0, r[0])

    ordered = sorted(rows, key=key)
    if desc:  # NULLs stay last; the rest, and the key, descend
        nulls = [r for r in ordered if sort is not None and r[sort] is None]
        rest = [r for r in ordered if not (sort is not None and r[sort] is None)]
        ordered = rest[::-1] + sorted(nulls, key=lambda r: r[0], reverse=True)
    return [r[0] for r in ordered]


@pytest.mark.parametrize("as_of", [False, True])
@pytest.mark.parametrize("sort,desc", [(None, False), (None, True), (1, False), (1, True)])
def test_pages_cover_every_row_once_in_order(numbers, as_of: bool, sort, desc: bool):
    path, before = numbers
    with ChronoDB(path) as db:
        clause = f" AS OF TRANSACTION {before}" if as_of else ""
        truth = [tuple(r) for r in db.execute(f"SELECT id, grp FROM n{clause}").rows]
    url = "/tables/n.json?_size=17"
    url += f"&as_of={before}" if as_of else ""
    url += "&_sort=grp" if sort else ""
    url += "&_desc=1" if desc else ""
    with TestClient(create_app(path)) as client:
        got = [r["id"] for r in walk(client, url)]
    assert got == expected(truth, sort, desc)


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(size=st.integers(1, 60), value=st.sampled_from(["0", "1", "4", "11"]))
def test_filtered_pages_equal_the_filtered_rows(numbers, size: int, value: str):
    path, _ = numbers
    with ChronoDB(path) as db:
        truth = [
            r[0]
            for r in db.execute("SELECT id FROM n WHERE grp = ? ORDER BY id", [int(value)]).rows
        ]
    with TestClient(create_app(path)) as client:
        got = [r["id"] for r in walk(client, f"/tables/n.json?_size={size}&grp={value}")]
    assert got == truth


def test_a_page_is_a_keyset_query_not_an_offset(numbers):
    path, _ = numbers
    with TestClient(create_app(path)) as client:
        first = client.get("/tables/n.json?_size=50").json()
        assert first["next"] == "[50]" and first["count"] == 110
        bad = client.get("/tables/n.json?_next=notjson")
        assert bad.status_code == 400 and "notjson" in bad.json()["error"]["message"]
