"""``chronodb serve PRIMARY --read-url STANDBY``: reads run on the standby once it has
replayed the primary's newest transaction, else on the primary; writes and the change
stream stay on the primary (``server/replica.py``).

A primary and its streaming standby of their own (``tests/chronodb/replicas.py``), shared
by the module; each test has its own database on them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import httpx
import psycopg
import pytest
import websockets
from tests.chronodb.replicas import Pair, wait_for_replay
from tests.chronodb.server.wsclient import changes, receive

from chronodb import ChronoDB
from chronodb.server import BackgroundServer
from chronodb.server.app import create_app

SCHEMA = (
    "CREATE TABLE orders (id INTEGER PRIMARY KEY, status TEXT, total REAL)",
    "INSERT INTO orders VALUES (1, 'new', 10.0), (2, 'new', 20.0)",
    "UPDATE orders SET status = 'paid' WHERE id = 1",
)


@pytest.fixture
def served(pair_urls: Pair) -> Iterator[tuple[Pair, BackgroundServer]]:
    with ChronoDB(pair_urls.primary, user="setup") as db:
        for statement in SCHEMA:
            db.execute(statement)
    wait_for_replay(pair_urls.primary, pair_urls.standby)
    server = BackgroundServer(pair_urls.primary, port=0, read_url=pair_urls.standby).start()
    yield pair_urls, server
    server.stop()


def _reads(server: BackgroundServer) -> dict[str, float]:
    """The server's count of reads by where they ran (its /metrics)."""
    text = httpx.get(server.url + "/metrics").text
    found = re.findall(r'^chronodb_reads_total\{server="(\w+)"\} (\S+)$', text, re.M)
    return {"standby": 0.0, "primary": 0.0} | {k: float(v) for k, v in found}


def _sql(server: BackgroundServer, sql: str) -> dict:
    answer = httpx.post(server.url + "/sql", json={"sql": sql})
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_reads_run_on_the_standby_and_answer_as_the_primary(
    served: tuple[Pair, BackgroundServer],
) -> None:
    pair, server = served
    with ChronoDB(pair.primary, read_only=True) as primary:
        expected = sorted(
            tuple(r) for r in primary.execute("SELECT * FROM orders AS OF TRANSACTION 2")
        )
        first = primary.transactions()[-1]["tx_id"]
    got = _sql(server, "SELECT * FROM orders AS OF TRANSACTION 2")["rows"]
    assert sorted(tuple(r) for r in got) == expected
    page = httpx.get(server.url + f"/tables/orders.json?as_of={first + 1}").json()
    assert page["table"] == "orders"
    assert [t["name"] for t in httpx.get(server.url + "/tables").json()["tables"]] == ["orders"]
    history = httpx.get(server.url + "/tables/orders/history/1").json()
    assert [v["operation"] for v in history["versions"]] == ["INSERT", "UPDATE"]
    graphql = httpx.post(server.url + "/graphql", json={"query": "{ orders { id status } }"})
    assert graphql.json()["data"]["orders"] == [
        {"id": 1, "status": "paid"},
        {"id": 2, "status": "new"},
    ]
    reads = _reads(server)
    assert reads["standby"] >= 5 and reads["primary"] == 0


def test_a_write_goes_to_the_primary_and_is_read_back_at_once(
    served: tuple[Pair, BackgroundServer],
) -> None:
    _, server = served
    for i in range(5):
        written = _sql(server, f"INSERT INTO orders VALUES ({10 + i}, 'new', {i})")
        assert written["tx_id"] is not None
        read = _sql(server, f"SELECT id FROM orders AS OF TRANSACTION {written['tx_id']}")
        assert [10 + i] in read["rows"]
    mutation = httpx.post(
        server.url + "/graphql",
        json={
            "query": 'mutation { insert_orders(objects: [{id: 30, status: "new", total: 3}]) '
            "{ affected_rows tx_id } }"
        },
    ).json()
    tx = mutation["data"]["insert_orders"]["tx_id"]
    read = _sql(server, f"SELECT id FROM orders AS OF TRANSACTION {tx}")
    assert [30] in read["rows"]


def test_a_standby_behind_the_read_sends_it_to_the_primary(
    served: tuple[Pair, BackgroundServer],
) -> None:
    pair, server = served
    with psycopg.connect(pair.standby, autocommit=True) as standby:
        standby.execute("SELECT pg_wal_replay_pause()")
        try:
            written = _sql(server, "UPDATE orders SET status = 'shipped' WHERE id = 2")
            before = _reads(server)["primary"]
            read = _sql(
                server,
                f"SELECT status FROM orders AS OF TRANSACTION {written['tx_id']} WHERE id = 2",
            )
            assert read["rows"] == [["shipped"]]
            assert _reads(server)["primary"] == before + 1
        finally:
            standby.execute("SELECT pg_wal_replay_resume()")
    wait_for_replay(pair.primary, pair.standby)
    before = _reads(server)["standby"]
    assert _sql(server, "SELECT status FROM orders WHERE id = 2")["rows"] == [["shipped"]]
    assert _reads(server)["standby"] == before + 1


def test_a_standby_connection_lost_sends_reads_to_the_primary_until_back(
    served: tuple[Pair, BackgroundServer],
) -> None:
    pair, server = served
    with psycopg.connect(pair.standby, autocommit=True) as standby:
        standby.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    before = _reads(server)
    assert _sql(server, "SELECT count(*) FROM orders")["rows"] == [[2]]
    assert _sql(server, "SELECT count(*) FROM orders")["rows"] == [[2]]
    after = _reads(server)
    assert after["primary"] == before["primary"] + 1  # the read that found it gone
    assert after["standby"] == before["standby"] + 1  # connected again


async def test_a_subscriber_gets_the_primary_s_changes(
    served: tuple[Pair, BackgroundServer],
) -> None:
    pair, server = served
    async with websockets.connect(server.ws_url) as ws:
        await ws.send(json.dumps({"type": "subscribe", "table": "orders"}))
        assert (await receive(ws))["type"] == "subscribed"
        async with httpx.AsyncClient() as client:
            answer = await client.post(
                server.url + "/sql", json={"sql": "INSERT INTO orders VALUES (40, 'new', 1)"}
            )
            assert answer.status_code == 200
        with psycopg.connect(pair.primary, autocommit=True) as raw:
            raw.execute("DELETE FROM orders WHERE id = 40")
        got = await changes(ws, 2)
        assert [(c["operation"], c["tx_id"] > 0) for c in got] == [
            ("INSERT", True),
            ("DELETE", True),
        ]


def test_a_read_url_needs_a_postgresql_database(tmp_path) -> None:
    with pytest.raises(ValueError, match="--read-url"):
        create_app(tmp_path / "shop.db", read_url="postgresql://localhost/shop")
