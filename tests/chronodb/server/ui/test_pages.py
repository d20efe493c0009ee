"""The pages over HTTP: HTML for a browser, the JSON twin for the rest, every one AS OF."""

from __future__ import annotations

import csv
import io
import re

import pytest
from starlette.testclient import TestClient

HTML = {"accept": "text/html"}

pytestmark = pytest.mark.usefixtures("backend")  # each test on a file and on PostgreSQL


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_home_lists_tables_timeline_and_ledger(client: TestClient, txs: list[int]):
    page = client.get("/", headers=HTML)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'href="/tables/orders"' in page.text and "Verify now" in page.text
    twin = client.get("/index.json").json()
    orders = next(t for t in twin["tables"] if t["name"] == "orders")
    # 3 inserted, 1 updated, 1 deleted: 4 versions and the delete
    assert (orders["rows"], orders["history_rows"]) == (2, 5)
    assert orders["last_change"] == twin["transactions"][0]["tx_time"]
    assert [t["tx_id"] for t in twin["transactions"]] == txs[::-1]
    assert twin["ledger"]["tree_size"] == len(txs)


def test_the_json_at_slash_is_unchanged(client: TestClient):
    index = client.get("/").json()
    assert index["websocket"] == ["/", "/ws"] and "/sql" in index["endpoints"]


def test_home_search_keeps_matching_tables(client: TestClient):
    names = [t["name"] for t in client.get("/index.json?q=ORD").json()["tables"]]
    assert names == ["orders"]


def test_home_as_of_counts_rows_then(client: TestClient, txs: list[int]):
    twin = client.get(f"/index.json?as_of={txs[3]}").json()
    assert {t["name"]: t["rows"] for t in twin["tables"]} == {"orders": 3, "users": 2}
    before_orders = client.get(f"/index.json?as_of={txs[0]}").json()
    assert [t["name"] for t in before_orders["tables"]] == ["users"]


def test_table_shows_the_past_values_as_of_a_transaction(client: TestClient, txs: list[int]):
    now = client.get("/tables/orders", headers={"accept": "application/json"}).json()
    assert {r["id"]: r["status"] for r in now["rows"]} == {1: "shipped", 2: "new"}
    then = client.get(f"/tables/orders.json?as_of={txs[3]}").json()
    assert {r["id"]: r["status"] for r in then["rows"]} == {1: "new", 2: "new", 3: "new"}
    page = client.get(f"/tables/orders?as_of={txs[3]}", headers=HTML)
    assert f"transaction {txs[3]}" in text_of(page.text) and "Back to now" in page.text


def test_table_as_of_a_time(client: TestClient, txs: list[int]):
    when = client.get("/index.json").json()["transactions"][-4]["tx_time"]  # txs[3]
    then = client.get(f"/tables/orders.json?as_of={when}").json()
    assert len(then["rows"]) == 3


def test_a_point_that_cannot_be_read_is_a_400_naming_it(client: TestClient):
    answer = client.get("/tables/orders.json?as_of=yesterday-ish")
    assert answer.status_code == 400 and "yesterday-ish" in answer.json()["error"]["message"]
    page = client.get("/tables/orders?as_of=yesterday-ish", headers=HTML)
    assert page.status_code == 400 and 'id="slider"' in page.text


def test_unknown_table_is_a_404_page(client: TestClient):
    assert client.get("/tables/nope", headers=HTML).status_code == 404
    assert client.get("/tables/nope.json").status_code == 404


def test_foreign_keys_are_links_with_labels(client: TestClient):
    page = client.get("/tables/orders", headers=HTML).text
    assert 'href="/tables/users/rows/1"' in page and "Alice" in page
    twin = client.get("/tables/orders.json").json()
    assert twin["foreign_keys"]["user_id"]["labels"] == {"1": "Alice"}


def test_filters_and_facets(client: TestClient, txs: list[int]):
    twin = client.get(f"/tables/orders.json?as_of={txs[4]}&status=new&_facet=status").json()
    assert [r["id"] for r in twin["rows"]] == [2, 3] and twin["count"] == 2
    assert twin["facets"] == [{"column": "status", "values": [{"value": "new", "count": 2}]}]
    bad = client.get("/tables/orders.json?nocolumn=1")
    assert bad.status_code == 400 and "nocolumn" in bad.json()["error"]["message"]


def test_csv_export_honours_as_of(client: TestClient, txs: list[int]):
    answer = client.get(f"/tables/orders.csv?as_of={txs[3]}")
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(answer.text)))
    assert rows[0] == ["id", "user_id", "total", "status"] and len(rows) == 4
    assert [r[3] for r in rows[1:]] == ["new", "new", "new"]


def test_row_page_has_versions_changed_cells_and_proof_links(client: TestClient, txs: list[int]):
    twin = client.get("/tables/orders/rows/1.json").json()
    assert [v["operation"] for v in twin["versions"]] == ["INSERT", "UPDATE"]
    assert twin["versions"][1]["changed"] == ["status"] and twin["row"]["status"] == "shipped"
    then = client.get(f"/tables/orders/rows/1.json?as_of={txs[3]}").json()
    assert then["row"]["status"] == "new" and then["versions"][1]["after_point"]
    page = client.get("/tables/orders/rows/1", headers=HTML).text
    assert 'class="changed"' in page and "<del>new</del>" in page
    proof = re.search(r'href="(/ledger/proofs/[0-9a-f]+)"', page).group(1)
    assert client.get(proof + ".json").json()["proof"]["tx_id"] == txs[3]
    assert client.get(proof, headers=HTML).status_code == 200


def test_history_url_is_the_row_page_for_a_browser(client: TestClient):
    assert "History: 2 versions" in text_of(
        client.get("/tables/orders/history/1", headers=HTML).text
    )
    assert "versions" in client.get("/tables/orders/history/1").json()  # the API, as before


def test_deleted_row_shows_its_history(client: TestClient):
    twin = client.get("/tables/orders/rows/3.json").json()
    assert twin["row"] is None and twin["versions"][-1]["operation"] == "DELETE"


def test_table_diff_between_two_points(client: TestClient, txs: list[int]):
    diff = client.get(f"/tables/orders/diff.json?from={txs[3]}").json()
    assert diff["counts"] == {"inserted": 0, "deleted": 1, "updated": 1}
    assert diff["updated"][0]["changed"] == ["status"] and diff["deleted"][0]["key"] == [3]
    page = client.get(f"/tables/orders/diff?from={txs[3]}", headers=HTML).text
    assert "1 deleted" in page and "<ins>shipped</ins>" in page
    csv_rows = list(
        csv.reader(io.StringIO(client.get(f"/tables/orders/diff.csv?from={txs[3]}").text))
    )
    assert [r[0] for r in csv_rows[1:]] == ["deleted", "updated"]


def test_whole_database_diff(client: TestClient, txs: list[int]):
    diff = client.get(f"/diff.json?from={txs[2]}&to={txs[5]}").json()
    counts = {t["table"]: t["counts"] for t in diff["tables"]}
    assert counts == {
        "orders": {"inserted": 3, "deleted": 0, "updated": 0},  # inserted, then one updated
        "users": {"inserted": 0, "deleted": 0, "updated": 1},
    }


def test_diff_defaults_to_the_latest_transaction(client: TestClient):
    diff = client.get("/diff.json").json()
    assert [(t["table"], t["counts"]["deleted"]) for t in diff["tables"]] == [("orders", 1)]


def test_openapi_documents_the_pages(client: TestClient):
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/",
        "/tables/{table}",
        "/tables/{table}/rows/{pk}",
        "/tables/{table}/diff",
        "/diff",
        "/sql",
        "/tables/{table}/rows/{pk}/restore",
        "/ledger/verify",
    ):
        assert path in paths, path
    assert "post" in paths["/sql"] and "get" in paths["/sql"]


def test_static_assets_are_served(client: TestClient):
    assert "--accent" in client.get("/static/ui/ui.css").text
    assert "setupSlider" in client.get("/static/ui/ui.js").text


def test_counts_as_of_a_point_stop_at_the_cap(backend: str):
    from chronodb import ChronoDB
    from chronodb.server import create_app
    from chronodb.server.ui.tables import COUNT_CAP

    path = backend
    with ChronoDB(path) as db:
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
        db.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(COUNT_CAP + 5)])
        tx = db.transactions(limit=1)[0]["tx_id"]
        db.execute("DELETE FROM t WHERE id < 10")
    with TestClient(create_app(path)) as client:
        now = client.get("/tables/t.json").json()
        assert (now["count"], now["count_exact"]) == (COUNT_CAP - 5, True)
        then = client.get(f"/tables/t.json?as_of={tx}").json()
        assert (then["count"], then["count_exact"]) == (COUNT_CAP + 1, False)
        page = client.get(f"/tables/t?as_of={tx}", headers=HTML).text
        assert f"{COUNT_CAP}+ rows" in page
        home = client.get("/index.json").json()["tables"][0]
        assert (home["rows"], home["rows_exact"]) == (COUNT_CAP - 5, True)  # exact now
        then = client.get(f"/index.json?as_of={tx}").json()["tables"][0]
        assert (then["rows"], then["rows_exact"]) == (COUNT_CAP + 1, False)


def test_a_big_diff_lists_the_first_rows_and_counts_all(backend: str, monkeypatch):
    from chronodb import ChronoDB
    from chronodb.server import create_app
    from chronodb.server.ui import diff

    monkeypatch.setattr(diff, "TABLE_DIFF_ROWS", 3)
    path = backend
    with ChronoDB(path) as db:
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)")
        db.executemany("INSERT INTO t VALUES (?, 0)", [(i,) for i in range(10)])
    with TestClient(create_app(path)) as client:
        listed = client.get("/tables/t/diff.json").json()
        assert listed["counts"]["inserted"] == 10 and len(listed["inserted"]) == 3
        assert "first 3 of each" in client.get("/tables/t/diff", headers=HTML).text
        assert len(client.get("/tables/t/diff.csv").text.splitlines()) == 11


def test_a_foreign_key_to_a_unique_column_links_to_the_rows_with_the_value(backend: str):
    from chronodb import ChronoDB
    from chronodb.server import create_app

    path = backend
    with ChronoDB(path) as db:
        db.execute("CREATE TABLE teams (id INTEGER PRIMARY KEY, code TEXT UNIQUE, name TEXT)")
        db.execute("CREATE TABLE people (id INTEGER PRIMARY KEY, team TEXT REFERENCES teams(code))")
        db.execute("INSERT INTO teams VALUES (1, 'db', 'Databases')")
        db.execute("INSERT INTO people VALUES (7, 'db')")
    with TestClient(create_app(path)) as client:
        page = client.get("/tables/people", headers=HTML).text
        assert 'href="/tables/teams?code=db"' in page and "Databases" in page


def test_the_timeline_says_what_each_transaction_did(client: TestClient, txs: list[int]):
    twin = client.get("/index.json").json()
    kinds = {t["tx_id"]: t["kinds"] for t in twin["transactions"]}
    assert "DELETE" in kinds[txs[-1]] or "UPDATE" in kinds[txs[-1]]
    assert all(kinds[tx] for tx in txs)
    page = client.get(f"/tables/orders?as_of={txs[3]}", headers=HTML).text
    ticks = re.findall(r'title="(transaction \d+ [^"]*)"', page)
    assert ticks and all(re.search(r"· [A-Z]+(, [A-Z]+)*$", t) for t in ticks), ticks


def test_the_home_page_marks_a_servers_row_estimate(pg_url: str) -> None:
    from tests.chronodb import pgserver

    from chronodb import ChronoDB
    from chronodb.server import create_app

    url = pgserver.as_url(pg_url)
    with ChronoDB(url) as db:
        db.execute("CREATE TABLE big (id int PRIMARY KEY, pad text)")
        db.execute("INSERT INTO big SELECT g, repeat('x', 100) FROM generate_series(1, 30000) g")
    with TestClient(create_app(url)) as client:
        home = client.get("/index.json").json()["tables"][0]
        page = client.get("/", headers=HTML).text
    # a large heap's rows are the server's estimate (the health report's), shown as such
    assert (home["rows_estimated"], home["rows_exact"]) == (True, False)
    assert f"~{home['rows']}" in page
