"""The change stream's WebSocket protocol (at ``/`` and ``/ws``).

Client to server, one JSON object per message::

    {"type": "subscribe", "table": "orders"}                       live changes from now
    {"type": "subscribe", "table": "orders", "where": {"total": {"gt": 100}}}
    {"type": "subscribe", "table": "orders", "since_tx": 41}       replay after tx 41, then live
    {"type": "subscribe", "table": "orders", "since": "2025-10-21T12:00:00"}
    {"type": "subscribe", "table": "orders", "batch": true}        data_changes messages
    {"type": "unsubscribe", "table": "orders"}
    {"type": "ping"}

Server to client: ``subscribed`` (with ``tx_id``, the point after which changes follow),
``unsubscribed``, ``data_change`` (table, operation, before, after, tx_id, tx_time, tx_hash),
``data_changes`` for a ``batch`` subscription (table, changes: the ``data_change`` events
ready to send when the connection's send loop wakes, in commit order: one transaction or
several), ``pong``, ``error`` (the connection stays open) and ``overflow`` (with ``resume_tx``; the
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
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from chronodb.errors import ChronoDBError
from chronodb.server import jsonin
from chronodb.server.events import Change, tx_of
from chronodb.server.feed import ChangeFeed
from chronodb.server.filters import FilterError, Predicate, compile_where
from chronodb.server.frames import EXTENSION, text_frame
from chronodb.server.metrics import Metrics
from chronodb.server.sources import TableShape

if TYPE_CHECKING:
    from chronodb.server.wsprotocol import FrameWriter

log = logging.getLogger("chronodb.server")

REPLAY_CHUNK_VERSIONS = 500  # row versions read per replay step (more if one tx has more)
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
    filter_key: str = ""  # the filter as canonical JSON: subscriptions that share it share a test
    batch: bool = False  # deliver data_changes messages (several changes each)
    replay: asyncio.Task[None] | None = None

    @property
    def table_key(self) -> str:
        return self.table.lower()

    @property
    def predicate(self) -> Predicate | None:
        return self.where

    @property
    def unit(self) -> Connection:
        return self.connection

    def matches(self, change: Change) -> bool:
        if self.where is None:
            return True
        values = change.values
        return values is not None and self.where(values)

    def deliver(self, changes: list[Change]) -> None:
        self.connection.offer(changes, self)


# A queued message: a Change (its event is encoded already) or a protocol message's JSON text.
Item = Change | str


@dataclass(eq=False)
class Connection:
    """One WebSocket client: its subscriptions and its outgoing queue."""

    websocket: WebSocket
    feed: ChangeFeed
    metrics: Metrics
    settings: StreamSettings
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    pending: deque[Item] = field(default_factory=deque)
    overflow_tx: int | None = None
    # Writes pre-encoded frames to the socket (server/wsprotocol.py); None: send messages.
    writer: FrameWriter | None = None
    _sending: bool = False  # the send loop holds items taken from the queue, not yet written
    _changes_queued: int = 0
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _room: asyncio.Event = field(default_factory=asyncio.Event)

    # ------------------------------------------------------------ queueing
    def control(self, message: dict[str, Any]) -> None:
        """Queue a protocol message; these are few and never count against the limit."""
        self.pending.append(json.dumps(message))
        self._wake.set()

    def offer(self, changes: list[Change], sub: Subscription) -> None:
        """Send or queue one poll's live changes of one subscription; overflow if they do not fit.

        With nothing queued or being sent, one subscription, and room in the socket's buffer,
        the frames are written at once: no task switch per connection, and the same bytes
        (built once per poll) for every subscriber of the same table and filter.
        """
        if self.overflow_tx is not None:
            return
        writer = self.writer
        if (
            writer is not None
            and not self.pending
            and not self._sending
            and len(changes) <= self.settings.queue_size  # a poll that never fits overflows
            and len(self.subscriptions) == 1  # several tables' changes are merged in the queue
        ):
            data = _batch_frame(changes, sub.filter_key) if sub.batch else _joined_frames(changes)
            if writer.write(data):
                self.metrics.events_unflushed += len(changes)
                return
        if self._changes_queued + len(changes) > self.settings.queue_size:
            room = self.settings.queue_size - self._changes_queued
            self._append(changes[:room])
            self._overflow(changes[room].tx_id)
            return
        self._append(changes)
        self._wake.set()

    def _append(self, changes: list[Change]) -> None:
        pending = self.pending
        if changes and pending:
            last = pending[-1]
            if not isinstance(last, str) and last.tx_id > changes[0].tx_id:
                # Another table's changes of the same poll came first: merge by commit order
                # (a stable sort keeps each table's order, and tables in the feed's order).
                tail: list[Change] = []
                while pending:
                    queued = pending[-1]
                    if isinstance(queued, str) or queued.tx_id <= changes[0].tx_id:
                        break
                    tail.append(queued)
                    pending.pop()
                tail.reverse()
                changes = sorted(tail + changes, key=tx_of)
                self._changes_queued -= len(tail)
        pending.extend(changes)
        self._changes_queued += len(changes)

    async def put(self, changes: list[Change]) -> None:
        """Queue replayed changes, waiting while the queue is more than half full."""
        half = max(1, self.settings.queue_size // 2)
        for start in range(0, len(changes), half):
            while self._changes_queued >= half and self.overflow_tx is None:
                self._room.clear()
                await self._room.wait()
            if self.overflow_tx is not None:
                return
            self._append(changes[start : start + half])
            self._wake.set()

    def _overflow(self, tx_id: int) -> None:
        """Keep only what can be resumed from exactly: changes up to ``resume_tx``."""
        resume = tx_id - 1
        for sub in self.subscriptions.values():
            if sub.replay is not None and not sub.replay.done():
                resume = min(resume, sub.after_tx)
        self.overflow_tx = resume
        self.pending = deque(i for i in self.pending if isinstance(i, str) or i.tx_id <= resume)
        self._changes_queued = sum(1 for i in self.pending if not isinstance(i, str))
        self.metrics.overflows.inc()
        self._wake.set()
        self._room.set()

    async def send_loop(self) -> None:
        """Send whatever is queued each time the loop wakes, counting it once per wake-up."""
        ws, sent = self.websocket, self.metrics.events_sent
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self.pending:
                items = list(self.pending)
                self.pending.clear()
                changes = sum(1 for i in items if not isinstance(i, str))
                self._changes_queued -= changes
                self._room.set()
                if self.writer is not None:
                    await self._write(b"".join(self._frames(items)))
                else:
                    for text in self._messages(items):
                        await ws.send_text(text)
                if changes:
                    sent.inc(changes)
            if self.overflow_tx is not None:
                await ws.send_text(json.dumps({"type": "overflow", "resume_tx": self.overflow_tx}))
                await ws.close(TRY_AGAIN_LATER, "queue full: resume with since_tx")
                return

    async def _write(self, data: bytes) -> None:
        """Write taken items' frames, waiting while the socket's buffer is full."""
        writer = self.writer
        assert writer is not None
        self._sending = True
        try:
            while not writer.write(data):
                if not writer.open:
                    return  # closed: the receive loop ends the connection
                await writer.wait()
        finally:
            self._sending = False

    def _frames(self, items: list[Item]) -> Iterator[bytes]:
        """:meth:`_messages` as WebSocket frames, reusing the changes' own."""
        if not any(sub.batch for sub in self.subscriptions.values()):
            for item in items:
                yield text_frame(item) if isinstance(item, str) else item.frame
            return
        for text in self._messages(items):
            yield text_frame(text)

    def _messages(self, items: list[Item]) -> Iterator[str]:
        """The texts to send: one per change, or one per run of a batched table's changes."""
        batched = {key: sub.filter_key for key, sub in self.subscriptions.items() if sub.batch}
        if not batched:
            for item in items:
                yield item if isinstance(item, str) else item.text
            return
        run: list[Change] = []
        for item in items:
            if run and (isinstance(item, str) or item.table_key != run[0].table_key):
                yield _batch_text(run, batched[run[0].table_key])
                run = []
            if isinstance(item, str):
                yield item
            elif item.table_key in batched:
                run.append(item)
            else:
                yield item.text
        if run:
            yield _batch_text(run, batched[run[0].table_key])

    # ------------------------------------------------------------ messages
    async def handle(self, text: str) -> None:
        if len(text.encode("utf-8", "surrogatepass")) > self.settings.max_message_bytes:
            raise ProtocolError(
                f"message too large: at most {self.settings.max_message_bytes} bytes"
            )
        try:
            message = jsonin.loads(text)
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
        batch = message.get("batch", False)
        if not isinstance(batch, bool):
            raise ProtocolError("batch: expected true or false")
        if since_tx is not None and since is not None:
            raise ProtocolError("give since_tx or since, not both")
        if since_tx is not None and (
            not isinstance(since_tx, int) or isinstance(since_tx, bool) or since_tx < 0
        ):
            raise ProtocolError("since_tx: expected a transaction id (an integer >= 0)")
        sv = await self.feed.run(lambda r: r.resolve(table))
        if sv is None:
            raise ProtocolError(f"unknown table {table!r}")
        try:
            where_spec = message.get("where")
            where = compile_where(where_spec, sv.columns)
        except FilterError as err:
            raise ProtocolError(str(err)) from None
        if since is not None:
            try:
                since_tx = await self.feed.run(lambda r: r.tx_at(since))
            except ChronoDBError as err:
                raise ProtocolError(f"since: {err}") from None
        start = self.feed.last_tx if since_tx is None else since_tx
        self._drop(sv.name.lower())
        key = _filter_key(sv, where_spec)
        sub = Subscription(self, sv.name, where, after_tx=start, filter_key=key, batch=batch)
        self.subscriptions[sub.table_key] = sub
        self.metrics.subscriptions.inc()
        answer = {"type": "subscribed", "table": sv.name, "tx_id": start}
        if batch:
            answer["batch"] = True
        self.control(answer)
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
                    reader = await loop.run_in_executor(None, feed.changes.reader)
                step = await loop.run_in_executor(
                    None, reader.step_after, sub.table_key, sub.after_tx, REPLAY_CHUNK_VERSIONS
                )
                hi = feed.last_tx if step is None else min(feed.last_tx, step)
                changes = await loop.run_in_executor(
                    None, reader.changes, [sub.table_key], sub.after_tx, hi
                )
                await self.put([c for c in changes if sub.matches(c)])
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


class _LastBatch:
    """The last batch message built: the connections that drain the same poll share it."""

    filter_key = ""
    first: Change | None = None
    last: Change | None = None
    size = 0
    text = ""
    frame_text = ""  # the text ``frame`` encodes
    frame = b""


class _LastFrames:
    """The last poll's frames joined: every member of a feed group gets the same list."""

    changes: list[Change] | None = None
    data = b""


def _joined_frames(changes: list[Change]) -> bytes:
    memo = _LastFrames
    if memo.changes is not changes:
        memo.changes, memo.data = changes, b"".join(c.frame for c in changes)
    return memo.data


def _batch_frame(changes: list[Change], filter_key: str) -> bytes:
    """:func:`_batch_text` as a frame, built once for the connections that share it."""
    text = _batch_text(changes, filter_key)
    memo = _LastBatch
    if memo.frame_text is not text:
        memo.frame_text, memo.frame = text, text_frame(text)
    return memo.frame


def _batch_text(changes: list[Change], filter_key: str) -> str:
    """A ``data_changes`` message around already-encoded ``data_change`` events.

    Live changes are shared objects: the same filter, first and last change and length mean
    the same run (what a filter lets through between two changes is always the same).
    """
    first, last, memo = changes[0], changes[-1], _LastBatch
    if (
        memo.first is first
        and memo.last is last
        and memo.size == len(changes)
        and memo.filter_key == filter_key
    ):
        return memo.text
    head = f'{{"type":"data_changes","table":{json.dumps(first.table)},"changes":['
    memo.filter_key, memo.first, memo.last, memo.size = filter_key, first, last, len(changes)
    memo.text = head + ",".join(c.text for c in changes) + "]}"
    return memo.text


def _filter_key(sv: TableShape, where: Any) -> str:
    """Equal for the same filter (in any key order) on the same shape of the table."""
    return f"{sv.era}:{json.dumps(where, sort_keys=True)}"


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
    conn.writer = websocket.scope.get("extensions", {}).get(EXTENSION, {}).get("writer")
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
            except Exception:  # a bad message never costs the connection
                log.exception("change stream: a message could not be handled")
                metrics.errors.labels("stream").inc()
                conn.control({"type": "error", "message": "the message could not be handled"})
    except WebSocketDisconnect:
        pass
    finally:
        conn.close()
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await sender
        metrics.disconnected()
