"""The change stream's WebSocket protocol (at ``/`` and ``/ws``).

Client to server, one JSON object per message::

    {"type": "subscribe", "table": "orders"}                       live changes from now
    {"type": "subscribe", "table": "orders", "where": {"total": {"gt": 100}}}
    {"type": "subscribe", "table": "orders", "since_tx": 41}       replay after tx 41, then live
    {"type": "subscribe", "table": "orders", "since": "2025-10-21T12:00:00"}
    {"type": "unsubscribe", "table": "orders"}
    {"type": "ping"}

Server to client: ``subscribed`` (with ``tx_id``, the point after which changes follow),
``unsubscribed``, ``data_change`` (table, operation, before, after, tx_id, tx_time, tx_hash),
``pong``, ``error`` (the connection stays open) and ``overflow`` (with ``resume_tx``; the
server then closes the connection, and subscribing again with ``since_tx: resume_tx``
continues with nothing lost and nothing repeated).

Each connection has a bounded queue. Live changes never wait for a slow client: when its
queue is full it gets ``overflow``. A replay waits for room instead, so resuming from far back
is paced by the client and cannot overflow by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from chronodb.errors import ChronoDBError
from chronodb.server.feed import Change, ChangeFeed, Reader
from chronodb.server.filters import FilterError, Predicate, compile_where
from chronodb.server.metrics import Metrics

log = logging.getLogger("chronodb.server")

CONTROL = -1  # the tx_id of a queued message that is not a change
REPLAY_CHUNK_TXS = 500  # transactions read per replay step
TRY_AGAIN_LATER = 1013  # RFC 6455 close code, sent after "overflow"


@dataclass(frozen=True)
class StreamSettings:
    queue_size: int = 10_000  # changes queued per connection before it overflows
    max_message_bytes: int = 64 * 1024  # largest client message accepted


class ProtocolError(ValueError):
    """A client message the protocol cannot act on; answered with an ``error`` message."""


@dataclass(eq=False)
class Subscription:
    connection: Connection
    table: str
    where: Predicate | None
    after_tx: int = 0  # changes of later transactions are delivered
    replay: asyncio.Task[None] | None = None

    @property
    def table_key(self) -> str:
        return self.table.lower()

    def matches(self, change: Change) -> bool:
        if self.where is None:
            return True
        values = change.values
        return values is not None and self.where(values)

    def deliver(self, change: Change) -> None:
        if self.matches(change):
            self.connection.offer(change.tx_id, change.text)


@dataclass(eq=False)
class Connection:
    """One WebSocket client: its subscriptions and its outgoing queue."""

    websocket: WebSocket
    feed: ChangeFeed
    metrics: Metrics
    settings: StreamSettings
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    pending: deque[tuple[int, str]] = field(default_factory=deque)
    overflow_tx: int | None = None
    _changes_queued: int = 0
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _room: asyncio.Event = field(default_factory=asyncio.Event)

    # ------------------------------------------------------------ queueing
    def control(self, message: dict[str, Any]) -> None:
        """Queue a protocol message; these are few and never count against the limit."""
        self.pending.append((CONTROL, json.dumps(message)))
        self._wake.set()

    def offer(self, tx_id: int, text: str) -> None:
        """Queue a live change, or overflow if the queue is full."""
        if self.overflow_tx is not None:
            return
        if self._changes_queued >= self.settings.queue_size:
            self._overflow(tx_id)
            return
        self.pending.append((tx_id, text))
        self._changes_queued += 1
        self._wake.set()

    async def put(self, tx_id: int, text: str) -> None:
        """Queue a replayed change, waiting while the queue is more than half full."""
        while self._changes_queued >= self.settings.queue_size // 2 and self.overflow_tx is None:
            self._room.clear()
            await self._room.wait()
        if self.overflow_tx is None:
            self.pending.append((tx_id, text))
            self._changes_queued += 1
            self._wake.set()

    def _overflow(self, tx_id: int) -> None:
        """Keep only what can be resumed from exactly: changes up to ``resume_tx``."""
        resume = tx_id - 1
        for sub in self.subscriptions.values():
            if sub.replay is not None and not sub.replay.done():
                resume = min(resume, sub.after_tx)
        self.overflow_tx = resume
        self.pending = deque(
            (tx, text) for tx, text in self.pending if tx == CONTROL or tx <= resume
        )
        self._changes_queued = sum(1 for tx, _ in self.pending if tx != CONTROL)
        self.metrics.overflows.inc()
        self._wake.set()
        self._room.set()

    async def send_loop(self) -> None:
        ws, sent = self.websocket, self.metrics.events_sent
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self.pending:
                tx_id, text = self.pending.popleft()
                if tx_id != CONTROL:
                    self._changes_queued -= 1
                    self._room.set()
                await ws.send_text(text)
                if tx_id != CONTROL:
                    sent.inc()
            if self.overflow_tx is not None:
                await ws.send_text(json.dumps({"type": "overflow", "resume_tx": self.overflow_tx}))
                await ws.close(TRY_AGAIN_LATER, "queue full: resume with since_tx")
                return

    # ------------------------------------------------------------ messages
    async def handle(self, text: str) -> None:
        if len(text.encode("utf-8", "surrogatepass")) > self.settings.max_message_bytes:
            raise ProtocolError(
                f"message too large: at most {self.settings.max_message_bytes} bytes"
            )
        try:
            message = json.loads(text)
        except ValueError as err:
            raise ProtocolError(f"message is not JSON: {err}") from None
        if not isinstance(message, dict):
            raise ProtocolError('a message must be a JSON object with a "type"')
        kind = message.get("type")
        if kind == "subscribe":
            await self._subscribe(message)
        elif kind == "unsubscribe":
            self._unsubscribe(message)
        elif kind == "ping":
            reply: dict[str, Any] = {"type": "pong", "tx_id": self.feed.last_tx}
            if "id" in message:
                reply["id"] = message["id"]
            self.control(reply)
        else:
            raise ProtocolError(
                f"unknown message type {kind!r}: use subscribe, unsubscribe or ping"
            )

    async def _subscribe(self, message: dict[str, Any]) -> None:
        table = _table_name(message)
        since_tx, since = message.get("since_tx"), message.get("since")
        if since_tx is not None and since is not None:
            raise ProtocolError("give since_tx or since, not both")
        if since_tx is not None and (
            not isinstance(since_tx, int) or isinstance(since_tx, bool) or since_tx < 0
        ):
            raise ProtocolError("since_tx: expected a transaction id (an integer >= 0)")
        sv = await self.feed.run(Reader.resolve, table)
        if sv is None:
            raise ProtocolError(f"unknown table {table!r}")
        try:
            where = compile_where(message.get("where"), (c.name for c in sv.columns))
        except FilterError as err:
            raise ProtocolError(str(err)) from None
        if since is not None:
            try:
                since_tx = await self.feed.run(Reader.tx_at, since)
            except ChronoDBError as err:
                raise ProtocolError(f"since: {err}") from None
        start = self.feed.last_tx if since_tx is None else since_tx
        self._drop(sv.name.lower())
        sub = Subscription(self, sv.name, where, after_tx=start)
        self.subscriptions[sub.table_key] = sub
        self.metrics.subscriptions.inc()
        self.control({"type": "subscribed", "table": sv.name, "tx_id": start})
        sub.replay = asyncio.create_task(self._catch_up(sub))

    def _unsubscribe(self, message: dict[str, Any]) -> None:
        table = _table_name(message)
        if not self._drop(table.lower()):
            raise ProtocolError(f"not subscribed to {table!r}")
        self.control({"type": "unsubscribed", "table": table})

    def _drop(self, key: str) -> bool:
        sub = self.subscriptions.pop(key, None)
        if sub is None:
            return False
        self.feed.remove(sub)
        if sub.replay is not None:
            sub.replay.cancel()
        self.metrics.subscriptions.dec()
        return True

    async def _catch_up(self, sub: Subscription) -> None:
        """Replay from history up to the feed's position, then join the live feed.

        The switch happens when the replay has reached ``feed.last_tx`` while no batch is being
        read: nothing can be committed to this subscription between the two, so there is no gap
        and no duplicate.
        """
        feed, reader = self.feed, None
        loop = asyncio.get_running_loop()
        try:
            while self.overflow_tx is None:
                if sub.after_tx >= feed.last_tx:
                    if not feed.busy:
                        feed.add_live(sub)
                        return
                    await feed.advanced()
                    continue
                if reader is None:
                    reader = await loop.run_in_executor(None, Reader, feed.path)
                hi = min(feed.last_tx, sub.after_tx + REPLAY_CHUNK_TXS)
                changes = await loop.run_in_executor(
                    None, reader.changes, [sub.table_key], sub.after_tx, hi
                )
                for change in changes:
                    if sub.matches(change):
                        await self.put(change.tx_id, change.text)
                sub.after_tx = hi
        except asyncio.CancelledError:
            raise
        except Exception as err:
            log.exception("change stream: replay failed")
            self.metrics.errors.labels("stream").inc()
            self.control({"type": "error", "message": f"replay of {sub.table} failed: {err}"})
        finally:
            if reader is not None:
                reader.close()

    def close(self) -> None:
        for key in list(self.subscriptions):
            self._drop(key)


def _table_name(message: dict[str, Any]) -> str:
    table = message.get("table")
    if not isinstance(table, str) or not table:
        raise ProtocolError('"table": expected a table name')
    return table


async def websocket_endpoint(websocket: WebSocket) -> None:
    app = websocket.app
    feed: ChangeFeed = app.state.feed
    metrics: Metrics = app.state.metrics
    await websocket.accept()
    conn = Connection(websocket, feed, metrics, app.state.stream_settings)
    metrics.connected()
    sender = asyncio.create_task(conn.send_loop())
    try:
        while not sender.done():
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            text = message.get("text")
            if text is None:
                try:
                    text = (message.get("bytes") or b"").decode("utf-8")
                except UnicodeDecodeError:
                    text = "\x00"  # answered below as "not JSON"
            try:
                await conn.handle(text)
            except ProtocolError as err:
                metrics.errors.labels("stream").inc()
                conn.control({"type": "error", "message": str(err)})
    except WebSocketDisconnect:
        pass
    finally:
        conn.close()
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await sender
        metrics.disconnected()
