"""The routes at ``/graphql``: POST (and GET) queries, the GraphiQL page, and the WebSocket.

    POST /graphql               {"query", "variables", "operationName"} -> {"data", "errors"}
    GET  /graphql?query=...     queries only (no mutations)
    GET  /graphql  (a browser)  GraphiQL, its scripts and styles served from this package
    WS   /graphql               subscriptions (graphql-transport-ws)

Errors are GraphQL errors (``{"errors": [{"message": ...}]}``), never a 500: 400 for a request
that is not a GraphQL request at all, 200 with ``errors`` otherwise.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Awaitable, Callable
from functools import cache
from importlib import resources
from typing import Any

from graphql import ExecutionResult, GraphQLError, OperationType, get_operation_ast, parse
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket

from chronodb.database import ChronoDB
from chronodb.server import jsonin
from chronodb.server.graphql.example import default_query
from chronodb.server.graphql.service import GraphQLService
from chronodb.server.graphql.subscriptions import DEFAULT_QUEUE, serve_websocket, subscriber
from chronodb.server.replica import reading

log = logging.getLogger("chronodb.server")

MAX_QUERY_BYTES = 256 * 1024
ASSETS = {
    "graphiql.min.js": "text/javascript; charset=utf-8",
    "graphiql.min.css": "text/css; charset=utf-8",
    "operation.js": "text/javascript; charset=utf-8",
    "react.production.min.js": "text/javascript; charset=utf-8",
    "react-dom.production.min.js": "text/javascript; charset=utf-8",
    "LICENSE-graphiql": "text/plain; charset=utf-8",
    "LICENSE-react": "text/plain; charset=utf-8",
    "LICENSE-react-dom": "text/plain; charset=utf-8",
}


@cache
def asset(name: str) -> bytes:
    return resources.files("chronodb.server.graphql").joinpath("static", name).read_bytes()


def _json(data: Any, status: int = 200) -> Response:
    def fallback(value: Any) -> Any:
        return str(value)

    def clean(value: Any) -> Any:  # JSON has no NaN or infinity
        if isinstance(value, float) and not math.isfinite(value):
            return str(value)
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    try:
        body = json.dumps(data, allow_nan=False, default=fallback, separators=(",", ":"))
    except ValueError:
        body = json.dumps(clean(data), default=fallback, separators=(",", ":"))
    return Response(body, status_code=status, media_type="application/json")


def _errors(message: str, status: int = 400) -> Response:
    return _json({"errors": [{"message": message}]}, status)


def graphiql_page(path: str, default_query: str = "{\n  __typename\n}\n") -> str:
    """The GraphiQL page (static/graphiql.html) for GraphQL served at ``path``, opening with
    ``default_query`` in its editor."""
    # As a JS string literal inside <script>: "</" must not close the element.
    literal = json.dumps(default_query).replace("</", "<\\/")
    page = asset("graphiql.html").decode("utf-8").replace("{{PATH}}", path.rstrip("/"))
    return page.replace("{{DEFAULT_QUERY}}", literal)


class _Services:
    """One GraphQLService per ChronoDB the getters hand out (the database, and with
    ``--read-url`` its standby), made at first use."""

    def __init__(self, read_only: bool, queue_size: int) -> None:
        self._lock = threading.Lock()
        self._services: dict[int, tuple[ChronoDB, GraphQLService]] = {}
        self.read_only = read_only
        self.queue_size = queue_size

    def get(self, db: ChronoDB) -> GraphQLService:
        found = self._services.get(id(db))
        if found is not None and found[0] is db:
            return found[1]
        with self._lock:
            found = self._services.get(id(db))
            if found is None or found[0] is not db:
                if len(self._services) > 4:  # databases closed and opened again
                    self._services.clear()
                service = GraphQLService(
                    db,
                    read_only=self.read_only or db.read_only,
                    subscribe=subscriber(self.queue_size),
                )
                found = self._services[id(db)] = (db, service)
            return found[1]


def _reads_only(query: str, name: Any) -> bool:
    """Whether the operation to run is a query (not a mutation or subscription, and not a
    document that fails to parse, whose errors the database's service reports)."""
    try:
        document = parse(query)
    except GraphQLError:
        return False
    operation = get_operation_ast(document, name if isinstance(name, str) else None)
    return operation is not None and operation.operation is OperationType.QUERY


def graphql_routes(
    db_getter: Callable[[HTTPConnection], ChronoDB],
    *,
    read_getter: Callable[[HTTPConnection], Awaitable[ChronoDB]] | None = None,
    path: str = "/graphql",
    feed_getter: Callable[[HTTPConnection], Any] | None = None,
    read_only: bool = False,
    max_query_bytes: int = MAX_QUERY_BYTES,
    queue_size: int = DEFAULT_QUEUE,
) -> list[BaseRoute]:
    """Starlette routes serving GraphQL over the ChronoDB ``db_getter(request)`` returns.

    ``read_getter(request)``: the ChronoDB queries run on (a standby, ``server/replica.py``);
    mutations and subscriptions run on ``db_getter``'s.
    ``feed_getter(websocket)`` gives the server's change feed, for subscriptions.
    ``read_only``: mutations are refused (as they are when the ChronoDB is read-only).
    """
    services = _Services(read_only, queue_size)
    base = path.rstrip("/") or ""

    async def execute(
        request: Request, query: Any, variables: Any, name: Any, **kw: Any
    ) -> Response:
        if not isinstance(query, str) or not query.strip():
            return _errors('"query": expected a GraphQL document')
        if len(query.encode("utf-8", "surrogatepass")) > max_query_bytes:
            return _errors(f"query too large: at most {max_query_bytes} bytes", 413)
        if variables is not None and not isinstance(variables, dict):
            return _errors('"variables": expected an object')
        if name is not None and not isinstance(name, str):
            return _errors('"operationName": expected a string')
        db = db_getter(request)
        if read_getter is not None and _reads_only(query, name):
            db = await read_getter(request)
        service = services.get(db)
        try:
            result = await run_in_threadpool(service.run, query, variables, name, **kw)
        except Exception as err:  # a bug must still answer as GraphQL
            log.exception("graphql request failed")
            result = ExecutionResult(None, [_as_error(err)])
        return _json(result.formatted)

    async def endpoint(request: Request) -> Response:
        if request.method == "GET":
            params = request.query_params
            if "query" not in params:
                if "text/html" in request.headers.get("accept", ""):
                    example = await run_in_threadpool(default_query, db_getter(request))
                    return HTMLResponse(graphiql_page(base, example))
                return _errors("GET needs ?query=...; POST a JSON body, or open this in a browser")
            variables: Any = params.get("variables")
            if variables:
                try:
                    variables = jsonin.loads(variables)
                except ValueError:
                    return _errors('"variables": not JSON')
            return await execute(
                request,
                params["query"],
                variables or None,
                params.get("operationName"),
                allow_mutations=False,
            )
        declared = request.headers.get("content-length", "")
        limit = max_query_bytes * 4
        if declared.isdigit() and int(declared) > limit:
            return _errors(f"request body too large: at most {limit} bytes", 413)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                return _errors(f"request body too large: at most {limit} bytes", 413)
        try:
            payload = jsonin.loads(bytes(body))
        except ValueError as err:
            return _errors(f"request body is not JSON: {err}")
        if not isinstance(payload, dict):
            return _errors('expected a JSON object {"query", "variables", "operationName"}')
        return await execute(
            request, payload.get("query"), payload.get("variables"), payload.get("operationName")
        )

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        media_type = ASSETS.get(name)
        if media_type is None:
            return _errors("no such asset", 404)
        return Response(
            asset(name),
            media_type=media_type,
            headers={"cache-control": "public, max-age=86400"},
        )

    async def websocket(ws: WebSocket) -> None:
        service = services.get(db_getter(ws))
        feed = feed_getter(ws) if feed_getter is not None else None
        await serve_websocket(ws, service, feed)

    return [
        Route(base or "/", endpoint, methods=["GET", "POST"]),
        Route(f"{base}/static/{{name}}", static, methods=["GET"]),
        WebSocketRoute(base or "/", websocket),
    ]


def _as_error(err: Exception) -> Any:
    return GraphQLError(f"internal error: {type(err).__name__}: {err}")


def mount_graphql(app: Starlette, *, path: str = "/graphql", **options: Any) -> None:
    """Add GraphQL to the server's app (``create_app``): its ``state.db`` and ``state.feed``."""
    options.setdefault("feed_getter", lambda conn: getattr(conn.app.state, "feed", None))
    options.setdefault("read_getter", reading)
    app.router.routes.extend(graphql_routes(lambda conn: conn.app.state.db, path=path, **options))
