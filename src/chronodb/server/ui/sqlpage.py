"""``/sql`` for a browser: run a statement, see the rows or the error at its position.

``GET /sql?sql=…`` runs on a read-only connection, so a link to a query is safe to open.
Writes are a form POST with the CSRF token, and refused when the server is read-only.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from chronodb.database import ChronoDB
from chronodb.errors import ChronoDBError
from chronodb.server.http import check_statement, execute_statement
from chronodb.server.replica import reading
from chronodb.server.ui.csrf import checked_form
from chronodb.server.ui.render import csv_response, respond, to_csv, wanted

#: Rows a page shows of a result (the JSON and CSV exports have all).
SHOWN_ROWS = 1000


def run(db: ChronoDB, sql: str) -> dict[str, Any]:
    """The statement's result, or its error with the position it points at."""
    data: dict[str, Any] = {"sql": sql, "columns": [], "rows": [], "error": None}
    if not sql.strip():
        return data
    try:
        result = execute_statement(db, sql, None)
    except ChronoDBError as err:
        data["error"] = {
            "type": type(err).__name__,
            "message": str(err),
            "position": getattr(err, "position", None),
        }
        return data
    data.update(
        columns=result.columns,
        rows=[list(r) for r in result.rows],
        rowcount=result.rowcount,
        tx_id=result.tx_id,
        notes=result.notes,
    )
    return data


def _marked(sql: str, error: dict[str, Any] | None) -> tuple[str, str, str] | None:
    """The statement split around the token its error points at."""
    if not error or error.get("position") is None:
        return None
    pos = min(max(int(error["position"]), 0), len(sql))
    token = re.match(r"\w+|\S", sql[pos:])
    end = pos + (len(token.group()) if token else 0)
    return sql[:pos], sql[pos:end] or " ", sql[end:]


async def _page(request: Request, sql: str, write: bool) -> Response:
    # A link runs on the app's read-only connection, so that opening one cannot write.
    state = request.app.state
    db: ChronoDB = state.db if write else await reading(request, state.reader)
    if sql.strip():
        try:
            check_statement(sql, None)
        except HTTPException as err:
            error: dict[str, Any] = {"type": "BadRequest", "message": err.detail}
            error["position"] = None
            data: dict[str, Any] = {"sql": sql, "columns": [], "rows": [], "error": error}
            return respond(request, "sql.html", data, at=None, marked=None, shown=0, status=400)
    data = await run_in_threadpool(run, db, sql)
    if not write and data["error"] and data["error"]["type"] == "ReadOnlyError":
        data["error"]["message"] += (
            ": a link runs reads only; send a write with the form's Run as a write button"
        )
    if wanted(request) == "csv" and not data["error"]:
        return csv_response(to_csv(data["columns"], data["rows"]), "query")
    status = 400 if data["error"] else 200
    if data["error"] and data["error"]["type"] == "ReadOnlyError":
        status = 403
    return respond(
        request,
        "sql.html",
        data,
        at=None,
        marked=_marked(sql, data["error"]),
        shown=SHOWN_ROWS,
        status=status,
    )


async def sql_page(request: Request) -> Response:
    return await _page(request, request.query_params.get("sql", ""), write=False)


async def sql_write(request: Request) -> Response:
    """A form POST to ``/sql``: the statement may write (CSRF checked)."""
    form = await checked_form(request)
    return await _page(request, form.get("sql", ""), write=True)
