"""Subscriptions: ``<table>_changes(where)`` over the graphql-transport-ws protocol.

The events come from the server's change feed (:class:`chronodb.server.feed.ChangeFeed`), the
same one the WebSocket change stream uses, so a change committed by any process writing the
file reaches GraphQL subscribers too. Each event is executed against the subscription's
selection in a worker thread (relations under ``before``/``after`` read the database, as of
the change's transaction).

The protocol (https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md)::

    client: connection_init       server: connection_ack
    client: subscribe {id, payload: {query, variables, operationName}}
    server: next {id, payload: {data}} ...  complete {id}   (or error {id, payload: [errors]})
    client: complete {id}          either: ping / pong
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import operator
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from graphql import ExecutionResult, GraphQLError, GraphQLResolveInfo, OperationType, execute_sync
from graphql.execution import create_source_event_stream
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocket, WebSocketDisconnect

from chronodb.server import jsonin
from chronodb.server.feed import matching
from chronodb.server.graphql.catalog import Table
from chronodb.server.graphql.loader import POINT, Context, Point, like_regex, values_to_row
from chronodb.server.graphql.service import GraphQLService, OperationErrors

log = logging.getLogger("chronodb.server")

SUBPROTOCOL = "graphql-transport-ws"
INIT_TIMEOUT = 10.0
DEFAULT_QUEUE = 10_000

Values = Mapping[str, Any]
Predicate = Callable[[Values], bool]

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "neq": operator.ne,
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}


def _all_of(parts: list[Predicate]) -> Predicate:
    return lambda v: all(p(v) for p in parts)


def _any_of(parts: list[Predicate]) -> Predicate:
    return lambda v: any(p(v) for p in parts)


def _negated(inner: Predicate) -> Predicate:
    return lambda v: not inner(v)


def compile_predicate(table: Table, where: Mapping[str, Any] | None) -> Predicate:
    """A ``<table>_bool_exp`` as a test of a row's values (keyed by SQL column name)."""
    tests: list[Predicate] = []
    by_field = table.by_field
    for key, spec in (where or {}).items():
        if spec is None:
            continue
        if key in ("_and", "_or"):
            parts = [compile_predicate(table, w) for w in spec]
            tests.append(_all_of(parts) if key == "_and" else _any_of(parts))
        elif key == "_not":
            tests.append(_negated(compile_predicate(table, spec)))
        else:
            column = by_field[key].name
            for op, operand in spec.items():
                tests.append(_test(column, op, operand))
    return lambda values: all(t(values) for t in tests)


def _test(column: str, op: str, operand: Any) -> Predicate:
    if op == "is_null":
        return lambda v: (v.get(column) is None) == bool(operand)
    if op == "in":
        options = list(operand or ())
        return lambda v: v.get(column) in options
    if op == "like":
        pattern = like_regex(str(operand))
        return lambda v: isinstance(v.get(column), str) and bool(pattern.fullmatch(v[column]))
    compare = _COMPARE[op]
    if operand is None:  # SQL: "= NULL" is "IS NULL" here, as in queries
        return lambda v: (v.get(column) is None) == (op == "eq")

    def test(values: Values) -> bool:
        value = values.get(column)
        if value is None:
            return False
        try:
            return bool(compare(value, operand))
        except TypeError:
            return False

    return test


class _Overflow(Exception):
    pass


class _Listener:
    """A feed subscriber that queues the matching changes of one table."""

    filter_key = None  # GraphQL filters are not shared: the feed gives each listener its own

    def __init__(self, table_key: str, after_tx: int, predicate: Predicate, size: int) -> None:
        self.table_key = table_key
        self.after_tx = after_tx
        self.predicate = predicate
        self.queue: asyncio.Queue[Any] = asyncio.Queue(size)
        self.overflowed = False

    @property
    def unit(self) -> _Listener:
        return self

    def deliver(self, changes: list[Any]) -> None:
        for change in changes:
            if self.overflowed:
                return
            try:
                self.queue.put_nowait(change)
            except asyncio.QueueFull:
                self.overflowed = True
                with contextlib.suppress(asyncio.QueueEmpty):
                    self.queue.get_nowait()  # make room for the end marker
                self.queue.put_nowait(
                    _Overflow(f"too many changes queued after tx {change.tx_id - 1}")
                )


def _event(table: Table, change: Any) -> dict[str, Any]:
    extra = json.loads(change.text)
    before = values_to_row(table, change.before)
    after = values_to_row(table, change.after)
    if before is not None:
        before[POINT] = Point("TRANSACTION", change.tx_id - 1)
    if after is not None:
        after[POINT] = Point("TRANSACTION", change.tx_id)
    return {
        "operation": change.operation,
        "tx_id": change.tx_id,
        "tx_time": change.tx_time,
        "tx_hash": extra.get("tx_hash"),
        "user": extra.get("user"),
        "before": before,
        "after": after,
    }


def subscriber(queue_size: int = DEFAULT_QUEUE) -> Callable[[Table], Callable[..., Any]]:
    """The ``subscribe`` functions of the ``<table>_changes`` fields."""

    def for_table(table: Table) -> Callable[..., Any]:
        def subscribe(_root: Any, info: GraphQLResolveInfo, where: Any = None) -> AsyncIterator:
            ctx: Context = info.context
            feed = ctx.feed
            if feed is None:
                raise GraphQLError("subscriptions need the server's change feed")
            predicate = compile_predicate(table, where)  # errors now, not at the first event
            # Changes after this point are the subscription's, however long joining takes.
            return _changes(feed, table, predicate, queue_size, feed.last_tx)

        return subscribe

    return for_table


async def _changes(
    feed: Any, table: Table, predicate: Predicate, size: int, start: int
) -> AsyncIterator:
    """The changes of transactions after ``start``: replayed up to where it joins, then live."""
    # Join when no batch is being read, as the stream does: nothing is missed or repeated.
    while feed.busy:
        await feed.advanced()
    listener = _Listener(table.name.lower(), feed.last_tx, predicate, size)
    feed.add_live(listener)
    try:
        if listener.after_tx > start:
            # The feed moved on between the subscribe message and joining (the first event
            # starts this generator, which can take a while on a busy machine).
            key, end = listener.table_key, listener.after_tx
            missed = await feed.run(lambda r: r.changes([key], start, end))
            for change in matching(predicate, missed):
                yield _event(table, change)
        while True:
            change = await listener.queue.get()
            if isinstance(change, _Overflow):
                raise GraphQLError(str(change))
            yield _event(table, change)
    finally:
        feed.remove(listener)


# ------------------------------------------------------------------ the protocol
class _Session:
    def __init__(self, websocket: WebSocket, service: GraphQLService, feed: Any) -> None:
        self.websocket = websocket
        self.service = service
        self.feed = feed
        self.acked = False
        self.operations: dict[str, asyncio.Task[None]] = {}
        self._send_lock = asyncio.Lock()

    async def send(self, message: dict[str, Any]) -> None:
        text = json.dumps(message, default=str)
        async with self._send_lock:
            await self.websocket.send_text(text)

    async def close(self, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):
            await self.websocket.close(code, reason)

    async def handle(self, text: str) -> bool:
        """Act on one client message; False when the connection was closed."""
        try:
            message = jsonin.loads(text)
            kind = message["type"]
        except (ValueError, TypeError, KeyError):
            await self.close(4400, "Invalid message")
            return False
        if kind == "connection_init":
            if self.acked:
                await self.close(4429, "Too many initialisation requests")
                return False
            self.acked = True
            await self.send({"type": "connection_ack"})
        elif kind == "ping":
            await self.send({"type": "pong"})
        elif kind == "pong":
            pass
        elif kind == "subscribe":
            if not self.acked:
                await self.close(4401, "Unauthorized")
                return False
            op_id, payload = message.get("id"), message.get("payload")
            if not isinstance(op_id, str) or not isinstance(payload, dict):
                await self.close(4400, "Invalid message")
                return False
            if op_id in self.operations:
                await self.close(4409, f"Subscriber for {op_id} already exists")
                return False
            self.operations[op_id] = asyncio.create_task(self.operation(op_id, payload))
        elif kind == "complete":
            task = self.operations.pop(str(message.get("id")), None)
            if task is not None:
                task.cancel()
        else:
            await self.close(4400, f"Invalid message type {kind!r}")
            return False
        return True

    async def operation(self, op_id: str, payload: dict[str, Any]) -> None:
        query, variables = payload.get("query"), payload.get("variables")
        name = payload.get("operationName")
        try:
            if not isinstance(query, str) or not (variables is None or isinstance(variables, dict)):
                raise OperationErrors([GraphQLError("payload: expected {query, variables}")])
            prepared = await run_in_threadpool(self.service.prepare, query, name)
            if prepared.operation.operation != OperationType.SUBSCRIPTION:
                result = await run_in_threadpool(self.service.run, query, variables, name)
                await self.send({"type": "next", "id": op_id, "payload": result.formatted})
                await self.send({"type": "complete", "id": op_id})
                return
            schema, document = prepared.generated.schema, prepared.document
            context = self.service.context(prepared)
            context.feed = self.feed
            stream = await create_source_event_stream(
                schema, document, None, context, variables, name
            )
            if isinstance(stream, ExecutionResult):
                raise OperationErrors(stream.errors or [])
            try:
                async for event in stream:
                    result = await run_in_threadpool(
                        execute_sync, schema, document, event, context, variables, name
                    )
                    await self.send({"type": "next", "id": op_id, "payload": result.formatted})
            finally:
                await stream.aclose()  # type: ignore[attr-defined]
            await self.send({"type": "complete", "id": op_id})
        except OperationErrors as err:
            await self.send(
                {"type": "error", "id": op_id, "payload": [e.formatted for e in err.errors]}
            )
        except GraphQLError as err:
            await self.send({"type": "error", "id": op_id, "payload": [err.formatted]})
        except asyncio.CancelledError:
            raise
        except Exception as err:  # a bug must end this operation, not the connection
            log.exception("graphql subscription failed")
            await self.send({"type": "error", "id": op_id, "payload": [{"message": str(err)}]})
        finally:
            self.operations.pop(op_id, None)

    async def stop(self) -> None:
        tasks = list(self.operations.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


async def serve_websocket(websocket: WebSocket, service: GraphQLService, feed: Any) -> None:
    """One graphql-transport-ws connection."""
    if SUBPROTOCOL not in websocket.scope.get("subprotocols", ()):
        await websocket.accept()
        await websocket.close(4406, "Subprotocol not acceptable")
        return
    await websocket.accept(subprotocol=SUBPROTOCOL)
    session = _Session(websocket, service, feed)
    try:
        while True:
            timeout = None if session.acked else INIT_TIMEOUT
            try:
                message = await asyncio.wait_for(websocket.receive(), timeout)
            except TimeoutError:
                await session.close(4408, "Connection initialisation timeout")
                return
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                text = (message.get("bytes") or b"").decode("utf-8", "replace")
            if not await session.handle(text):
                return
    except WebSocketDisconnect:
        pass
    finally:
        await session.stop()
