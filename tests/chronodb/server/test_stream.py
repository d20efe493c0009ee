"""The change stream, through a real server and the ``websockets`` client."""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from pathlib import Path

import pytest
import websockets
from wsclient import changes, receive, send

from chronodb import ChronoDB
from chronodb.server import BackgroundServer

pytestmark = pytest.mark.usefixtures("backend")  # each test on a file and on PostgreSQL
# What only SQLite's engine offers yet (ALTER TABLE of a versioned table).


async def test_seed_protocol_insert_update_delete(server: BackgroundServer, writer: ChronoDB):
    async with websockets.connect(server.ws_url) as ws:
        answer = await send(ws, {"type": "subscribe", "table": "orders"})
        assert answer["type"] == "subscribed" and answer["table"] == "orders"
        inserted = await asyncio.to_thread(
            writer.execute, "INSERT INTO orders VALUES (1, 'new', 10.0)"
        )
        await asyncio.to_thread(writer.execute, "UPDATE orders SET status = 'paid' WHERE id = 1")
        await asyncio.to_thread(writer.execute, "DELETE FROM orders WHERE id = 1")
        got = await changes(ws, 3)
    assert [c["operation"] for c in got] == ["INSERT", "UPDATE", "DELETE"]
    assert got[0]["table"] == "orders"
    assert got[0]["before"] is None
    assert got[0]["after"] == {"id": 1, "status": "new", "total": 10.0}
    assert got[0]["tx_id"] == inserted.tx_id and got[0]["tx_time"] == inserted.tx_time
    assert got[0]["tx_hash"] == inserted.tx_hash
    assert got[1]["before"]["status"] == "new" and got[1]["after"]["status"] == "paid"
    assert got[2]["before"]["status"] == "paid" and got[2]["after"] is None
    assert [c["tx_id"] for c in got] == sorted(c["tx_id"] for c in got)


async def test_websocket_at_root_path_delivers_changes(server: BackgroundServer, writer: ChronoDB):
    async with websockets.connect(server.url.replace("http", "ws") + "/") as ws:
        await send(ws, {"type": "subscribe", "table": "orders"})
        await asyncio.to_thread(writer.execute, "INSERT INTO orders VALUES (7, 'new', 1)")
        (event,) = await changes(ws, 1)
    assert event["after"]["id"] == 7


async def test_changes_written_by_another_process_arrive(server: BackgroundServer, db_path: Path):
    script = (
        "import sys; from chronodb import ChronoDB; db = ChronoDB(sys.argv[1]); "
        "db.execute(\"INSERT INTO orders VALUES (42, 'elsewhere', 5)\")"
    )
    async with websockets.connect(server.ws_url) as ws:
        await send(ws, {"type": "subscribe", "table": "orders"})
        proc = await asyncio.create_subprocess_exec(sys.executable, "-c", script, str(db_path))
        assert await proc.wait() == 0
        (event,) = await changes(ws, 1)
    assert event["after"] == {"id": 42, "status": "elsewhere", "total": 5}


async def test_writes_through_the_http_api_reach_subscribers(server: BackgroundServer):
    import httpx

    async with websockets.connect(server.ws_url) as ws, httpx.AsyncClient(timeout=15) as http:
        await send(ws, {"type": "subscribe", "table": "users"})
        response = await http.post(
            server.url + "/sql", json={"sql": "INSERT INTO users VALUES (?, ?)", "params": [1, "A"]}
        )
        (event,) = await changes(ws, 1)
    assert event["tx_id"] == response.json()["tx_id"]
    assert event["after"] == {"id": 1, "name": "A"}


async def test_several_tables_and_unsubscribe(server: BackgroundServer, writer: ChronoDB):
    async with websockets.connect(server.ws_url) as ws:
        await send(ws, {"type": "subscribe", "table": "orders"})
        await send(ws, {"type": "subscribe", "table": "USERS"})
        await asyncio.to_thread(writer.execute, "INSERT INTO users VALUES (1, 'Ann')")
        await asyncio.to_thread(writer.execute, "INSERT INTO orders VALUES (1, 'new', 3)")
        got = await changes(ws, 2)
        assert [c["table"] for c in got] == ["users", "orders"]
        assert await send(ws, {"type": "unsubscribe", "table": "users"}) == {
            "type": "unsubscribed",
            "table": "users",
        }
        await asyncio.to_thread(writer.execute, "INSERT INTO users VALUES (2, 'Bob')")
        await asyncio.to_thread(writer.execute, "INSERT INTO orders VALUES (2, 'new', 4)")
        (event,) = await changes(ws, 1)
        assert event["table"] == "orders" and event["after"]["id"] == 2
        error = await send(ws, {"type": "unsubscribe", "table": "users"})
        assert error["type"] == "error" and "not subscribed" in error["message"]


async def test_where_filters_equality_comparison_and_deletes_by_before(
    server: BackgroundServer, writer: ChronoDB
):
    async with (
        websockets.connect(server.ws_url) as shipped,
        websockets.connect(server.ws_url) as big,
    ):
        await send(
            shipped, {"type": "subscribe", "table": "orders", "where": {"status": "shipped"}}
        )
        await send(big, {"type": "subscribe", "table": "orders", "where": {"total": {"gt": 100}}})
        for sql in (
            "INSERT INTO orders VALUES (1, 'new', 50)",
            "INSERT INTO orders VALUES (2, 'shipped', 500)",
            "UPDATE orders SET status = 'shipped' WHERE id = 1",
            "INSERT INTO orders VALUES (3, 'new', NULL)",
            "DELETE FROM orders WHERE id = 2",
        ):
            await asyncio.to_thread(writer.execute, sql)
        got_shipped = await changes(shipped, 3)
        got_big = await changes(big, 2)
        await shipped.send(json.dumps({"type": "ping"}))
        assert (await receive(shipped))["type"] == "pong"  # nothing else was queued
    assert [(c["operation"], (c["after"] or c["before"])["id"]) for c in got_shipped] == [
        ("INSERT", 2),
        ("UPDATE", 1),
        ("DELETE", 2),
    ]
    assert [(c["operation"], (c["after"] or c["before"])["id"]) for c in got_big] == [
        ("INSERT", 2),
        ("DELETE", 2),
    ]


async def test_resume_since_tx_replays_then_continues_live_without_gap_or_duplicate(
    server: BackgroundServer, writer: ChronoDB
):
    total = 150
    done = threading.Event()

    def write() -> None:
        for i in range(total):
            writer.execute("INSERT INTO orders VALUES (?, 'new', ?)", (i, i))
            time.sleep(0.001)
        done.set()

    thread = threading.Thread(target=write)
    thread.start()
    try:
        seen: list[int] = []
        # A client that reads a little, drops, and resumes from the last transaction it saw,
        # twice, while the writes go on.
        since = 0
        while len(seen) < total:
            async with websockets.connect(server.ws_url) as ws:
                await send(ws, {"type": "subscribe", "table": "orders", "since_tx": since})
                want = min(40, total - len(seen))
                got = await changes(ws, want)
            seen += [c["after"]["id"] for c in got]
            since = got[-1]["tx_id"]
    finally:
        thread.join()
    assert done.is_set()
    assert seen == list(range(total))


async def test_resume_since_a_timestamp(server: BackgroundServer, writer: ChronoDB):
    writer.execute("INSERT INTO orders VALUES (1, 'old', 1)")
    cut = writer.execute("INSERT INTO orders VALUES (2, 'old', 2)").tx_time
    time.sleep(0.002)
    writer.execute("INSERT INTO orders VALUES (3, 'after', 3)")
    async with websockets.connect(server.ws_url) as ws:
        await send(ws, {"type": "subscribe", "table": "orders", "since": cut})
        replayed = await changes(ws, 1)
        await asyncio.to_thread(writer.execute, "INSERT INTO orders VALUES (4, 'live', 4)")
        live = await changes(ws, 1)
    assert [c["after"]["id"] for c in replayed + live] == [3, 4]


async def test_resume_with_a_filter_replays_only_matching_rows(
    server: BackgroundServer, writer: ChronoDB
):
    for i in range(10):
        writer.execute(
            "INSERT INTO orders VALUES (?, ?, ?)", (i, "even" if i % 2 == 0 else "odd", i)
        )
    async with websockets.connect(server.ws_url) as ws:
        answer = await send(
            ws, {"type": "subscribe", "table": "orders", "since_tx": 0, "where": {"status": "odd"}}
        )
        assert answer["tx_id"] == 0
        got = await changes(ws, 5)
    assert [c["after"]["id"] for c in got] == [1, 3, 5, 7, 9]


async def test_overflow_tells_where_to_resume_and_resuming_loses_nothing(
    start_server, writer: ChronoDB
):
    server = start_server(queue_size=5)
    first = writer.execute("INSERT INTO orders VALUES (0, 'first', 0)")
    async with websockets.connect(server.ws_url) as ws:
        # From the first insert on, whether or not the feed has seen it yet.
        await send(ws, {"type": "subscribe", "table": "orders", "since_tx": first.tx_id})
        small = await asyncio.to_thread(
            writer.executemany, "INSERT INTO orders VALUES (?, 'a', 0)", [(i,) for i in (1, 2, 3)]
        )
        # One transaction of 20 changes cannot fit a queue of 5: the feed never waits.
        big = await asyncio.to_thread(
            writer.executemany,
            "INSERT INTO orders VALUES (?, 'b', 0)",
            [(i,) for i in range(4, 24)],
        )
        got = await changes(ws, 3)
        overflow = await receive(ws)
        # Resume after everything before the big transaction: the small one, and no later.
        assert overflow["type"] == "overflow"
        assert small.tx_id <= overflow["resume_tx"] < big.tx_id
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await receive(ws)
        assert closed.value.rcvd.code == 1013
    async with websockets.connect(server.ws_url) as ws:
        await send(ws, {"type": "subscribe", "table": "orders", "since_tx": overflow["resume_tx"]})
        rest = await changes(ws, 20)
    assert [c["after"]["id"] for c in got + rest] == list(range(1, 24))
    metrics = __import__("httpx").get(server.url + "/metrics", timeout=15).text
    assert "chronodb_stream_overflows_total 1.0" in metrics


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "JSON object"),
        ('{"type": "dance"}', "unknown message type"),
        ('{"type": "subscribe"}', "table"),
        ('{"type": "subscribe", "table": "nope"}', "unknown table 'nope'"),
        ('{"type": "subscribe", "table": "orders", "where": {"colour": 1}}', "no column 'colour'"),
        (
            '{"type": "subscribe", "table": "orders", "where": {"total": {"between": 1}}}',
            "operator",
        ),
        ('{"type": "subscribe", "table": "orders", "where": [1]}', "where"),
        ('{"type": "subscribe", "table": "orders", "since_tx": -1}', "since_tx"),
        ('{"type": "subscribe", "table": "orders", "since": "yesterday-ish"}', "since"),
        ('{"type": "subscribe", "table": "orders", "since": 1, "since_tx": 1}', "not both"),
        ("x" * 70_000, "too large"),
    ],
)
async def test_bad_messages_get_an_error_and_the_connection_stays_open(
    server: BackgroundServer, writer: ChronoDB, message: str, expected: str
):
    async with websockets.connect(server.ws_url) as ws:
        await ws.send(message)
        error = await receive(ws)
        assert error["type"] == "error" and expected in error["message"]
        # Still usable afterwards.
        assert (await send(ws, {"type": "subscribe", "table": "orders"}))["type"] == "subscribed"
        await asyncio.to_thread(writer.execute, "INSERT INTO orders VALUES (1, 'ok', 1)")
        (event,) = await changes(ws, 1)
        assert event["after"]["status"] == "ok"


async def test_ping_pong_echoes_id(server: BackgroundServer):
    async with websockets.connect(server.ws_url) as ws:
        pong = await send(ws, {"type": "ping", "id": "abc"})
    assert pong["type"] == "pong" and pong["id"] == "abc" and isinstance(pong["tx_id"], int)


async def test_a_slow_consumer_does_not_stall_others(start_server, writer: ChronoDB):
    server = start_server(queue_size=2000)
    async with (
        websockets.connect(server.ws_url, max_queue=1, close_timeout=0.2) as slow,
        websockets.connect(server.ws_url) as fast,
    ):
        await send(slow, {"type": "subscribe", "table": "orders"})
        await send(fast, {"type": "subscribe", "table": "orders"})
        got: list[dict] = []
        for start in range(0, 3000, 20):
            await asyncio.to_thread(
                writer.executemany,
                "INSERT INTO orders VALUES (?, 'x', 0)",
                [(i,) for i in range(start, start + 20)],
            )
            # The fast client reads as it goes (left unread, it is a slow consumer too, and
            # overflows once the socket buffers are full); the slow one never reads.
            got += await changes(fast, 20)
    assert [c["after"]["id"] for c in got] == list(range(3000))


def test_subscribers_survive_a_schema_change(server: BackgroundServer, writer: ChronoDB):
    async def run() -> list[dict]:
        async with websockets.connect(server.ws_url) as ws:
            await send(ws, {"type": "subscribe", "table": "orders"})
            await asyncio.to_thread(writer.execute, "INSERT INTO orders VALUES (1, 'a', 1)")
            await asyncio.to_thread(writer.execute, "ALTER TABLE orders ADD COLUMN note TEXT")
            await asyncio.to_thread(writer.execute, "INSERT INTO orders VALUES (2, 'b', 2, 'hi')")
            return await changes(ws, 2)

    first, second = asyncio.run(run())
    assert first["after"] == {"id": 1, "status": "a", "total": 1}
    assert second["after"] == {"id": 2, "status": "b", "total": 2, "note": "hi"}


async def test_batch_subscription_delivers_data_changes_in_commit_order(
    server: BackgroundServer, writer: ChronoDB
):
    async with websockets.connect(server.ws_url) as ws:
        answer = await send(ws, {"type": "subscribe", "table": "orders", "batch": True})
        assert answer == {"type": "subscribed", "table": "orders", "tx_id": answer["tx_id"]} | {
            "batch": True
        }
        many = await asyncio.to_thread(
            writer.executemany, "INSERT INTO orders VALUES (?, 'b', 0)", [(i,) for i in range(50)]
        )
        await asyncio.to_thread(writer.execute, "DELETE FROM orders WHERE id = 0")
        got: list[dict] = []
        while len(got) < 51:
            message = await receive(ws)
            assert message["type"] == "data_changes" and message["table"] == "orders"
            assert message["changes"]
            got += message["changes"]
    assert all(c["type"] == "data_change" for c in got)
    assert [c["after"]["id"] for c in got[:50]] == list(range(50))
    assert {c["tx_id"] for c in got[:50]} == {many.tx_id}
    assert got[50]["operation"] == "DELETE" and got[50]["before"]["id"] == 0


async def test_batch_replay_then_live_and_plain_subscription_on_the_same_connection(
    server: BackgroundServer, writer: ChronoDB
):
    for i in range(30):
        writer.execute("INSERT INTO orders VALUES (?, 'old', ?)", (i, i))
    async with websockets.connect(server.ws_url) as ws:
        # The replay batches and the second acknowledgement may arrive in either order,
        # so read every message here rather than taking "the answer" to each subscribe.
        await ws.send(
            json.dumps({"type": "subscribe", "table": "orders", "since_tx": 0, "batch": True})
        )
        await ws.send(json.dumps({"type": "subscribe", "table": "users"}))
        acknowledged: list[str] = []
        orders: list[int] = []
        users: list[dict] = []
        while len(acknowledged) < 2:
            message = await receive(ws)
            if message["type"] == "subscribed":
                acknowledged.append(message["table"])
            else:
                assert message["type"] == "data_changes", message
                orders += [c["after"]["id"] for c in message["changes"]]
        await asyncio.to_thread(writer.execute, "INSERT INTO users VALUES (1, 'Ann')")
        await asyncio.to_thread(writer.execute, "INSERT INTO orders VALUES (30, 'live', 30)")
        while len(orders) < 31 or not users:
            message = await receive(ws)
            if message["type"] == "data_changes":
                orders += [c["after"]["id"] for c in message["changes"]]
            else:
                assert message["type"] == "data_change" and message["table"] == "users", message
                users.append(message)
    assert sorted(acknowledged) == ["orders", "users"]
    assert orders == list(range(31))
    assert users[0]["after"] == {"id": 1, "name": "Ann"}


async def test_batch_must_be_a_boolean(server: BackgroundServer):
    async with websockets.connect(server.ws_url) as ws:
        error = await send(ws, {"type": "subscribe", "table": "orders", "batch": "yes"})
    assert error["type"] == "error" and "batch" in error["message"]


async def test_one_connection_gets_several_tables_in_commit_order_within_one_poll(
    start_server, writer: ChronoDB
):
    # A slow poll makes every transaction below land in the same batch of the feed.
    server = start_server(poll_interval=0.3)
    async with websockets.connect(server.ws_url) as ws:
        await send(ws, {"type": "subscribe", "table": "orders"})
        await send(ws, {"type": "subscribe", "table": "users"})
        for i in range(3):
            await asyncio.to_thread(writer.execute, "INSERT INTO users VALUES (?, 'u')", (i,))
            await asyncio.to_thread(writer.execute, "INSERT INTO orders VALUES (?, 'o', 0)", (i,))
        got = await changes(ws, 6)
    assert [c["table"] for c in got] == ["users", "orders"] * 3
    assert [c["tx_id"] for c in got] == sorted(c["tx_id"] for c in got)


async def test_subscribers_with_the_same_filter_share_one_test_per_change(
    server: BackgroundServer, writer: ChronoDB
):
    calls = 0
    async with (
        websockets.connect(server.ws_url) as a,
        websockets.connect(server.ws_url) as b,
        websockets.connect(server.ws_url) as c,
    ):
        same = {"total": {"gt": 5}, "status": "x"}
        await send(a, {"type": "subscribe", "table": "orders", "where": same})
        await send(
            b, {"type": "subscribe", "table": "orders", "where": dict(reversed(same.items()))}
        )
        await send(c, {"type": "subscribe", "table": "orders", "where": {"status": "x"}})
        feed = server.app.state.feed
        deadline = time.monotonic() + 15  # only bounds a hang
        while True:  # each subscription joins the live feed once caught up
            groups = list(feed._live.get("orders", {}).values())
            if sum(len(g.members) for g in groups) == 3 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.01)
        assert sorted(len(g.members) for g in groups) == [1, 2]
        shared = next(g for g in groups if len(g.members) == 2)
        test = shared.predicate

        def counting(values: dict) -> bool:
            nonlocal calls
            calls += 1
            return test(values)

        shared.predicate = counting
        await asyncio.to_thread(
            writer.executemany,
            "INSERT INTO orders VALUES (?, 'x', ?)",
            [(i, i) for i in range(10)],
        )
        got_a, got_b = await changes(a, 4), await changes(b, 4)
        got_c = await changes(c, 10)
    assert [e["after"]["id"] for e in got_a] == [e["after"]["id"] for e in got_b] == [6, 7, 8, 9]
    assert len(got_c) == 10
    assert calls == 10  # once per change, not once per change and subscriber


async def test_batches_of_different_filters_are_not_mixed_up(start_server, writer: ChronoDB):
    # Same first change, last change and length, different middles: each gets its own.
    server = start_server(poll_interval=0.2)
    async with (
        websockets.connect(server.ws_url) as a,
        websockets.connect(server.ws_url) as b,
    ):
        for ws, ids in ((a, [0, 1, 3]), (b, [0, 2, 3])):
            where = {"id": {"in": ids}}
            await send(ws, {"type": "subscribe", "table": "orders", "where": where, "batch": True})
        await asyncio.to_thread(
            writer.executemany, "INSERT INTO orders VALUES (?, 'x', 0)", [(i,) for i in range(4)]
        )
        got_a, got_b = await receive(a), await receive(b)
    assert [c["after"]["id"] for c in got_a["changes"]] == [0, 1, 3]
    assert [c["after"]["id"] for c in got_b["changes"]] == [0, 2, 3]


async def test_blob_values_arrive_as_hex_objects(
    server: BackgroundServer, writer: ChronoDB, backend: str
):
    kind = "BYTEA" if backend.startswith("postgresql") else ""
    create = f"CREATE TABLE files (id INTEGER PRIMARY KEY, data {kind})"
    await asyncio.to_thread(writer.execute, create)
    async with websockets.connect(server.ws_url) as ws:
        await send(ws, {"type": "subscribe", "table": "files"})
        await asyncio.to_thread(writer.execute, "INSERT INTO files VALUES (1, ?)", [b"\x00\xff"])
        (event,) = await changes(ws, 1)
    assert event["after"] == {"id": 1, "data": {"$hex": "00FF"}}


async def _still_answers(ws) -> None:
    pong = await send(ws, {"type": "ping", "id": 1})
    assert pong["type"] == "pong" and pong["id"] == 1


@pytest.mark.parametrize(
    "message",
    [
        "[" * 30_000 + "]" * 30_000,
        '{"type": "ping", "id": ' + "[" * 30_000 + "]" * 30_000 + "}",
        '{"type": "subscribe", "table": "orders", "where": '
        + '{"a": ' * 9_000
        + "1"
        + "}" * 9_000
        + "}",
        '{"type": "ping", "id": ' + "[" * 900 + "]" * 900 + "}",
        b"[" * 30_000 + b"]" * 30_000,
    ],
    ids=["array", "ping id", "where", "900 deep", "binary"],
)
async def test_deeply_nested_frames_get_an_error_and_the_connection_stays(
    server: BackgroundServer, message: str | bytes
):
    assert len(message) < 64 * 1024
    async with websockets.connect(server.ws_url) as ws:
        await ws.send(message)
        error = await receive(ws)
        assert error["type"] == "error" and "nested" in error["message"]
        await _still_answers(ws)


async def test_frames_at_and_past_the_size_limit(start_server):
    server = start_server(max_message_bytes=4096)
    async with websockets.connect(server.ws_url) as ws:
        head = '{"type": "ping", "id": 7, "pad": "'
        at_limit = head + "x" * (4096 - len(head) - 2) + '"}'
        assert len(at_limit) == 4096
        assert (await send(ws, json.loads(at_limit)))["type"] == "pong"
        await ws.send(at_limit)
        assert (await receive(ws))["id"] == 7
        await ws.send(at_limit[:-2] + 'x"}')
        error = await receive(ws)
        assert error["type"] == "error" and "too large" in error["message"]
        await ws.send(at_limit.encode()[:-2] + b'xx"}')  # a binary frame past the limit
        assert "too large" in (await receive(ws))["message"]
        await _still_answers(ws)


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        (b'{"type": "ping", "id": "b"}', "pong"),
        (b"\xff\xfe\xfd", "error"),
        (b"", "error"),
        (b"\x00" * 100, "error"),
        (b'{"type": "ping", "id": "\\ud800"}', "pong"),
    ],
)
async def test_binary_frames_are_read_as_utf8_json(
    server: BackgroundServer, frame: bytes, expected: str
):
    async with websockets.connect(server.ws_url) as ws:
        await ws.send(frame)
        assert (await receive(ws))["type"] == expected
        await _still_answers(ws)
