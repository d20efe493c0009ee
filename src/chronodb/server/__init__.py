"""``chronodb serve``: one ASGI app for the change stream, the HTTP SQL API and metrics.

    app.py      create_app(db_path, token=..., read_only=...): the starlette app
    feed.py     ChangeFeed: watches the file for commits from any process, turns them into events
    stream.py   the WebSocket protocol (subscribe, filters, resume, overflow, ping)
    filters.py  the ``where`` filter of a subscription
    http.py     POST /sql, GET /tables, /history, /health, /metrics, /openapi.json
    openapi.py  the OpenAPI document of the HTTP endpoints
    metrics.py  a prometheus-client registry per app
    auth.py     bearer token checks and the loopback rule
    runner.py   uvicorn configuration, ``serve()`` and ``BackgroundServer``
    command.py  the click command

Importing this package needs nothing beyond ChronoDB's core dependencies; the modules
above need the ``server`` extra (``pip install 'chronodb[server]'``).
"""

from __future__ import annotations

from typing import Any

__all__ = ["BackgroundServer", "create_app", "serve"]


def __getattr__(name: str) -> Any:
    # Lazy, so that the CLI can register its command without importing starlette.
    if name == "create_app":
        from chronodb.server.app import create_app

        return create_app
    if name in ("BackgroundServer", "serve"):
        from chronodb.server import runner

        return getattr(runner, name)
    raise AttributeError(name)
