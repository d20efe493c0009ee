"""The time-travel browser: server-rendered pages, each with a JSON twin at the same URL.

    points.py   ?as_of= (a transaction id or a time) and the timeline of transactions
    render.py   HTML or JSON (Accept, or a .json/.csv suffix); Jinja2 with autoescaping
    csrf.py     the CSRF check of every form that writes
    home.py     /  (for a browser), POST /ledger/verify
    tables.py   /tables/{table}: keyset pages, sort, filters, facets, foreign-key links
    rows.py     /tables/{table}/rows/{pk}: a row and its versions; /ledger/proofs/{hash}
    diff.py     /tables/{table}/diff and /diff: what changed between two points
    sqlpage.py  /sql for a browser
    restore.py  restore a row or a table to a point, in a new transaction

Templates are in templates/, the stylesheet and script in static/ (shipped in the wheel).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from chronodb.errors import ChronoDBError, ReadOnlyError, SchemaError
from chronodb.server import http
from chronodb.server.replica import reading
from chronodb.server.ui import diff, home, restore, rows, sqlpage, tables
from chronodb.server.ui.csrf import FORM
from chronodb.server.ui.points import Timeline
from chronodb.server.ui.render import FORMAT, Suffixes, respond, wanted

Endpoint = Callable[[Request], Awaitable[Response]]

__all__ = ["Suffixes", "ui_routes"]


def _status(err: Exception) -> int:
    if isinstance(err, HTTPException):
        return err.status_code
    if isinstance(err, ReadOnlyError):
        return 403
    if isinstance(err, SchemaError) and err.table and not err.column:
        return 404
    return 400


def page(endpoint: Endpoint) -> Endpoint:
    """``endpoint`` with the errors a user can cause shown as a page (or JSON error)."""

    async def guarded(request: Request) -> Response:
        try:
            return await endpoint(request)
        except (ChronoDBError, HTTPException) as err:
            if wanted(request) != "html":
                if isinstance(err, HTTPException):
                    raise
                return http.failure(request, err)
            message = err.detail if isinstance(err, HTTPException) else str(err)
            kind = type(err).__name__
            data = {"error": {"type": kind, "message": message}}
            # The slider stays, so that a point before a table existed is one step from one
            # after.
            timeline = await run_in_threadpool(Timeline, await reading(request))
            return respond(
                request, "error.html", data, status=_status(err), at=None, timeline=timeline
            )

    return guarded


def either(html: Endpoint, other: Endpoint) -> Endpoint:
    """``html`` for a browser (or a .json/.csv suffix), ``other`` — the API as it was — else."""

    async def endpoint(request: Request) -> Response:
        if FORMAT in request.scope or wanted(request) == "html":
            return await html(request)
        return await other(request)

    return endpoint


async def _sql_get(request: Request) -> Response:
    # Without a statement, GET /sql is for a browser; the API's SQL is a POST.
    if "sql" in request.query_params or wanted(request) == "html" or FORMAT in request.scope:
        return await page(sqlpage.sql_page)(request)
    raise HTTPException(405, "send SQL as a POST, or open /sql in a browser")


async def _sql_post(request: Request) -> Response:
    if request.headers.get("content-type", "").startswith(FORM):
        return await page(sqlpage.sql_write)(request)
    return await http.sql_endpoint(request)


def ui_routes() -> list[BaseRoute]:
    """The pages' routes, ahead of the HTTP API's (which they fall back to)."""
    static = StaticFiles(directory=Path(__file__).parent / "static")
    row = page(rows.row_page)
    return [
        Route("/", either(page(home.home_page), http.index_endpoint), methods=["GET"]),
        Route("/sql", _sql_get, methods=["GET"]),
        Route("/sql", _sql_post, methods=["POST"]),
        Route("/diff", page(diff.db_diff_page), methods=["GET"]),
        Route("/tables/{table}", page(tables.table_page), methods=["GET"]),
        Route("/tables/{table}/diff", page(diff.table_diff_page), methods=["GET"]),
        Route("/tables/{table}/restore", page(restore.restore_page), methods=["GET"]),
        Route("/tables/{table}/restore", page(restore.restore_action), methods=["POST"]),
        Route("/tables/{table}/rows/{pk}", row, methods=["GET"]),
        Route("/tables/{table}/rows/{pk}/restore", page(restore.restore_page), methods=["GET"]),
        Route("/tables/{table}/rows/{pk}/restore", page(restore.restore_action), methods=["POST"]),
        Route("/tables/{table}/history/{pk}", either(row, http.history_endpoint), methods=["GET"]),
        Route("/ledger/verify", page(home.verify_action), methods=["POST"]),
        Route("/ledger/proofs/{tx_hash}", page(rows.proof_page), methods=["GET"]),
        Mount("/static/ui", static, name="ui-static"),
    ]
