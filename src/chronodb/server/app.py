"""The ASGI app: ``create_app(location)`` serves one database file or PostgreSQL database."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.routing import Route, WebSocketRoute

from chronodb.database import ChronoDB
from chronodb.server import http
from chronodb.server.auth import TokenAuth
from chronodb.server.feed import ChangeFeed
from chronodb.server.graphql.routes import mount_graphql
from chronodb.server.metrics import Metrics
from chronodb.server.openapi import openapi_document
from chronodb.server.replica import DEFAULT_WAIT, Reads
from chronodb.server.sources import change_source
from chronodb.server.stream import StreamSettings, websocket_endpoint
from chronodb.server.ui import Suffixes, ui_routes
from chronodb.storage.urls import is_postgres_url

MiB = 1024 * 1024


def create_app(
    db_path: str | Path,
    *,
    token: str | None = None,
    read_only: bool = False,
    max_body_bytes: int = MiB,
    max_message_bytes: int = 64 * 1024,
    queue_size: int = 10_000,
    poll_interval: float = 0.005,
    read_url: str | None = None,
    replica_wait: float = DEFAULT_WAIT,
) -> Starlette:
    """A starlette app serving ``db_path`` (a database file or a ``postgresql://`` URL): the
    change stream, the HTTP API, metrics and the web UI (pages at ``/``, ``/tables/…``,
    ``/sql``, ``/diff``).

    ``token``: every request and WebSocket must present it. ``read_only``: writes are refused.
    ``queue_size``: changes queued per WebSocket before it overflows. ``poll_interval``:
    seconds between checks of a file for commits made by any process (PostgreSQL tells the
    server itself, see ``server/sources/``). ``read_url``: a ``postgresql://`` URL of a
    standby of ``db_path`` that serves the reads (``server/replica.py``); ``replica_wait``:
    seconds a read waits for it to replay the primary's newest transaction before reading on
    the primary.
    """
    path = str(db_path)
    if path == ":memory:":
        raise ValueError("the server needs a database file (other processes watch the same one)")
    if token is not None and not token:
        raise ValueError("the token must not be empty")
    if read_url is not None and not (is_postgres_url(path) and is_postgres_url(read_url)):
        raise ValueError(
            "--read-url names a PostgreSQL standby of a PostgreSQL database: serve a "
            "postgresql:// URL and give its standby's postgresql:// URL"
        )
    metrics = Metrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.db = ChronoDB(path, read_only=read_only)
        # Reads from a link (GET /sql in a browser) run where nothing can write.
        app.state.reader = ChronoDB(path, read_only=True)
        if read_url is not None:
            app.state.reads = Reads(
                app.state.reader,
                ChronoDB(read_url, read_only=True),
                wait=replica_wait,
                counter=lambda server: metrics.reads.labels(server).inc(),
            )
        feed = ChangeFeed(
            change_source(path, interval=poll_interval),
            on_dispatch=lambda changes: _observe(metrics, changes, feed),
            on_error=lambda _err: metrics.errors.labels("feed").inc(),
        )
        app.state.feed = feed
        await feed.start()
        metrics.last_tx.set(feed.last_tx)
        try:
            yield
        finally:
            await feed.stop()
            if read_url is not None:
                app.state.reads.standby.close()
            app.state.reader.close()
            app.state.db.close()

    app = Starlette(
        routes=[
            *ui_routes(),  # "/", "/sql" and a row's history also answer as before
            WebSocketRoute("/", websocket_endpoint),
            WebSocketRoute("/ws", websocket_endpoint),
            Route("/tables", http.tables_endpoint, methods=["GET"]),
            Route("/health", http.health_endpoint, methods=["GET"]),
            Route("/metrics", http.metrics_endpoint, methods=["GET"]),
            Route("/openapi.json", http.openapi_endpoint, methods=["GET"]),
        ],
        exception_handlers={HTTPException: http.http_error},
        lifespan=lifespan,
    )
    app.state.metrics = metrics
    app.state.max_body_bytes = max_body_bytes
    app.state.stream_settings = StreamSettings(queue_size, max_message_bytes)
    app.state.openapi = openapi_document(
        token=token is not None, read_only=read_only, max_body_bytes=max_body_bytes
    )
    app.state.started = time.monotonic()
    mount_graphql(app, read_only=read_only, max_query_bytes=max_body_bytes, queue_size=queue_size)
    app.add_middleware(Suffixes)
    if token is not None:
        app.add_middleware(TokenAuth, token=token)
    return app


def _observe(metrics: Metrics, changes: list, feed: ChangeFeed) -> None:
    now = time.time()
    metrics.delivery_lag.observe(max(0.0, now - changes[-1].tx_time))
    metrics.last_tx.set(feed.last_tx)
