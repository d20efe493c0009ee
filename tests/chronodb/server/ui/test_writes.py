"""Pages that write: CSRF on every form, refused on a read-only server, restore and SQL."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from starlette.testclient import TestClient

from chronodb import ChronoDB

HTML = {"accept": "text/html"}

pytestmark = pytest.mark.usefixtures("backend")  # each test on a file and on PostgreSQL
# Pages that need what PostgreSQL does not offer yet: tables() and columns() AS OF a point,
# the audit trail's digest and proofs, the health report's sizes, transactions' kinds.


def csrf_of(client: TestClient, path: str = "/") -> str:
    page = client.get(path, headers=HTML).text
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def test_verify_now_needs_the_csrf_token(client: TestClient):
    assert client.post("/ledger/verify", data={}).status_code == 403
    assert client.post("/ledger/verify", data={"csrf": "forged"}).status_code == 403
    token = csrf_of(client)
    answer = client.post("/ledger/verify", data={"csrf": token}, headers=HTML)
    assert answer.status_code == 200 and "The ledger verifies" in answer.text


def test_a_form_from_another_site_is_refused(client: TestClient):
    token = csrf_of(client)
    answer = client.post(
        "/ledger/verify", data={"csrf": token}, headers={"origin": "https://evil.example"}
    )
    assert answer.status_code == 403 and "another site" in answer.json()["error"]["message"]


def test_restore_a_row_confirms_then_writes_a_new_transaction(
    client: TestClient, shop, txs: list[int]
):
    confirm = client.get(f"/tables/orders/rows/1/restore?as_of={txs[3]}", headers=HTML)
    assert confirm.status_code == 200 and "<ins>new</ins>" in confirm.text
    token = re.search(r'name="csrf" value="([^"]+)"', confirm.text).group(1)
    assert client.post(f"/tables/orders/rows/1/restore?as_of={txs[3]}", data={}).status_code == 403
    done = client.post(
        f"/tables/orders/rows/1/restore?as_of={txs[3]}",
        data={"csrf": token},
        headers=HTML,
        follow_redirects=False,
    )
    assert done.status_code == 303
    tx = int(re.search(r"restored=(\d+)", done.headers["location"]).group(1))
    with ChronoDB(shop) as db:
        assert db.execute("SELECT status FROM orders WHERE id = 1").scalar() == "new"
        assert db.transactions(limit=1)[0]["tx_id"] == tx
        assert [v["operation"] for v in db.get_change_history("orders", 1)] == [
            "INSERT",
            "UPDATE",
            "UPDATE",
        ]
    row = client.get(done.headers["location"], headers=HTML).text
    assert "Restored in transaction" in row and str(tx) in row


def test_restore_a_table_brings_back_deleted_rows(client: TestClient, shop, txs: list[int]):
    token = csrf_of(client)
    answer = client.post(f"/tables/orders/restore?as_of={txs[3]}", data={"csrf": token})
    assert answer.status_code == 200
    assert answer.json()["counts"] == {"inserted": 0, "deleted": 1, "updated": 1}
    with ChronoDB(shop) as db:
        rows = db.execute("SELECT id, status FROM orders ORDER BY id").rows
        assert [tuple(r) for r in rows] == [(1, "new"), (2, "new"), (3, "new")]
        assert len(db.get_change_history("orders", 3)) == 3  # insert, delete, insert again


def test_read_only_server_refuses_restore_and_writes(
    make_client: Callable[..., TestClient], txs: list[int]
):
    client = make_client(read_only=True)
    token = csrf_of(client)
    assert client.get(f"/tables/orders/restore?as_of={txs[3]}", headers=HTML).status_code == 403
    refused = client.post(f"/tables/orders/restore?as_of={txs[3]}", data={"csrf": token})
    assert refused.status_code == 403
    page = client.get(f"/tables/orders?as_of={txs[3]}", headers=HTML).text
    assert "Restore this table" not in page
    sql = client.get("/sql", headers=HTML).text
    assert "Run as a write" not in sql
    write = client.post("/sql", data={"csrf": token, "sql": "DELETE FROM orders"})
    assert write.status_code == 403


def test_sql_page_runs_reads_and_marks_errors(client: TestClient, txs: list[int]):
    ok = client.get(f"/sql.json?sql=SELECT id FROM orders AS OF TRANSACTION {txs[3]} ORDER BY id")
    assert ok.json()["rows"] == [[1], [2], [3]]
    bad = client.get("/sql?sql=SELECT * FROM orders WHERE nosuch = 1", headers=HTML)
    assert bad.status_code == 400
    assert re.search(r"WHERE <mark[^>]*>nosuch</mark> = 1", bad.text)
    exported = client.get("/sql.csv?sql=SELECT id, status FROM orders ORDER BY id").text
    assert exported.splitlines() == ["id,status", "1,shipped", "2,new"]


def test_a_link_to_sql_cannot_write(client: TestClient, shop):
    answer = client.get("/sql?sql=DELETE FROM orders", headers=HTML)
    assert answer.status_code == 403
    with ChronoDB(shop) as db:
        assert db.execute("SELECT count(*) FROM orders").scalar() == 2


def test_sql_form_writes_with_the_csrf_token(client: TestClient, shop):
    token = csrf_of(client, "/sql")
    forged = client.post("/sql", data={"sql": "DELETE FROM orders"})
    assert forged.status_code == 403
    done = client.post(
        "/sql", data={"csrf": token, "sql": "DELETE FROM orders WHERE id = 2"}, headers=HTML
    )
    assert done.status_code == 200 and "1 row changed in transaction" in done.text


def test_the_api_sql_post_is_unchanged(client: TestClient):
    answer = client.post("/sql", json={"sql": "SELECT count(*) FROM orders"})
    assert answer.json()["rows"] == [[2]]


def test_token_protects_pages_and_logs_a_browser_in(make_client: Callable[..., TestClient]):
    client = make_client(token="s3cret")
    login = client.get("/tables/orders", headers=HTML)
    assert login.status_code == 401 and 'name="token"' in login.text
    assert client.get("/tables/orders.json").status_code == 401
    wrong = client.post(
        "/login", data={"token": "nope", "next": "/tables/orders"}, follow_redirects=False
    )
    assert wrong.status_code == 401
    ok = client.post(
        "/login", data={"token": "s3cret", "next": "/tables/orders"}, follow_redirects=False
    )
    assert ok.status_code == 303 and ok.headers["location"] == "/tables/orders"
    assert "HttpOnly" in ok.headers["set-cookie"]
    assert client.get("/tables/orders", headers=HTML).status_code == 200  # the cookie


def test_token_in_the_url_once(make_client: Callable[..., TestClient]):
    client = make_client(token="s3cret")
    hop = client.get("/tables/orders?token=s3cret&status=new", headers=HTML, follow_redirects=False)
    assert hop.status_code == 303 and hop.headers["location"] == "/tables/orders?status=new"
    assert client.get("/tables/orders?status=new", headers=HTML).status_code == 200


def test_login_never_redirects_off_site(make_client: Callable[..., TestClient]):
    client = make_client(token="s3cret")
    ok = client.post(
        "/login", data={"token": "s3cret", "next": "//evil.example/"}, follow_redirects=False
    )
    assert ok.headers["location"] == "/"


def test_the_login_cookie_opens_the_change_stream(make_client: Callable[..., TestClient]):
    client = make_client(token="s3cret")
    cookie = {"cookie": "chronodb_token=s3cret"}
    with client.websocket_connect("/ws", headers=cookie) as ws:
        ws.send_json({"type": "subscribe", "table": "orders"})
        assert ws.receive_json()["type"] == "subscribed"


def test_sql_page_shows_periods_as_times(client: TestClient):
    page = client.get("/sql?sql=SELECT sys_from FROM orders FOR SYSTEM_TIME ALL", headers=HTML)
    assert re.search(r"<td[^>]*>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z</td>", page.text)


def test_restore_a_deleted_row_inserts_it_again(client: TestClient, shop, txs: list[int]):
    token = csrf_of(client)
    plan = client.get(f"/tables/orders/rows/3/restore.json?as_of={txs[3]}").json()
    assert plan["counts"] == {"inserted": 0, "deleted": 1, "updated": 0}
    done = client.post(f"/tables/orders/rows/3/restore?as_of={txs[3]}", data={"csrf": token})
    assert done.json()["counts"]["deleted"] == 1
    with ChronoDB(shop) as db:
        assert db.execute("SELECT status FROM orders WHERE id = 3").scalar() == "new"


def test_restore_a_row_to_before_it_existed_deletes_it(client: TestClient, shop, txs: list[int]):
    token = csrf_of(client)
    done = client.post(f"/tables/orders/rows/2/restore?as_of={txs[2]}", data={"csrf": token})
    assert done.json()["counts"] == {"inserted": 1, "deleted": 0, "updated": 0}
    again = client.post(f"/tables/orders/rows/2/restore?as_of={txs[2]}", data={"csrf": token})
    assert again.json() | {"restored_to": None} == {
        "table": "orders",
        "restored_to": None,
        "counts": {"inserted": 0, "deleted": 0, "updated": 0},
        "tx_id": None,
    }
    with ChronoDB(shop) as db:
        assert db.execute("SELECT count(*) FROM orders WHERE id = 2").scalar() == 0


def test_restore_a_row_of_a_table_without_a_key(tmp_path):
    from chronodb.server import create_app

    path = tmp_path / "nokey.db"
    with ChronoDB(path) as db:
        db.execute("CREATE TABLE notes (body TEXT)")
        db.execute("INSERT INTO notes VALUES ('first')")
        tx = db.transactions(limit=1)[0]["tx_id"]
        db.execute("UPDATE notes SET body = 'second'")
        db.execute("DELETE FROM notes")
    with TestClient(create_app(path)) as client:
        token = csrf_of(client)
        done = client.post(f"/tables/notes/rows/1/restore?as_of={tx}", data={"csrf": token})
        assert done.json()["counts"]["deleted"] == 1
    with ChronoDB(path) as db:
        assert [tuple(r) for r in db.execute("SELECT rowid, body FROM notes").rows] == [
            (1, "first")
        ]
