"""One response per page, in the format asked for: HTML for a browser, JSON for the rest.

A page asks for JSON with ``Accept: application/json`` or a ``.json`` suffix (see
:class:`Suffixes`), and for CSV with ``.csv`` where it offers it. Every template is rendered
with autoescaping on, so nothing from the database reaches the page unescaped.
"""

from __future__ import annotations

import csv
import io
import secrets
from typing import Any
from urllib.parse import quote, unquote, urlencode

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from chronodb.formatting import TIME_COLUMNS, cell, iso_time
from chronodb.server.auth import ASGIApp, Receive, Scope, Send
from chronodb.server.http import json_response, jsonable

FORMAT = "chronodb.format"  # the scope key :class:`Suffixes` sets: "json" or "csv"
CSRF_COOKIE = "chronodb_csrf"

ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("chronodb.server.ui", "templates"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _cell(value: Any, column: str = "") -> str:
    """A value as the pages show it (as the CLI does): the periods of versions as times."""
    return cell(value, time=column in TIME_COLUMNS)


ENV.filters["cell"] = _cell
ENV.filters["time"] = lambda s: "" if s is None else iso_time(s)


# Stands for a "/" inside one segment of a path (a table named "a/b" is /tables/a%2Fb); the
# routes split on "/", and :func:`path_param` turns it back. NUL is in no SQL name.
SLASH = "\x00"


def path_param(request: Request, name: str) -> str:
    """A parameter of the URL's path, as the name it stands for."""
    return request.path_params[name].replace(SLASH, "/")


def optional_path_param(request: Request, name: str) -> str | None:
    return path_param(request, name) if name in request.path_params else None


class Suffixes:
    """ASGI middleware: ``/x.json`` and ``/x.csv`` are ``/x`` asked in that format.

    ``/index.json`` is the home page's JSON; ``/openapi.json`` is a document of its own. An
    escaped "/" (``%2F``) stays inside its segment (see :data:`SLASH`).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        raw = scope.get("raw_path") or b""
        if scope["type"] == "http" and b"%2f" in raw.lower():
            segments = raw.decode("latin-1").split("?")[0].split("/")
            path = "/".join(unquote(s).replace("/", SLASH) for s in segments)
            scope = dict(scope, path=path)
        if scope["type"] == "http" and path != "/openapi.json":
            for suffix in (".json", ".csv"):
                if path.endswith(suffix) and len(path) > len(suffix) + 1:
                    stripped = path[: -len(suffix)]
                    scope = dict(scope, path="/" if stripped == "/index" else stripped)
                    scope[FORMAT] = suffix[1:]
                    break
        await self.app(scope, receive, send)


def wanted(request: Request) -> str:
    """ "html", "json" or "csv": the suffix decides, else HTML only when the client asks."""
    given = request.scope.get(FORMAT)
    if given:
        return given
    accept = request.headers.get("accept", "")
    return "html" if "text/html" in accept else "json"


def url(request: Request, path: str | None = None, suffix: str = "", **changes: Any) -> str:
    """``path`` (this page's by default, keeping its query) with ``suffix`` and ``changes``
    to the query applied (None removes a parameter; a trailing ``_`` in a name is dropped)."""
    named = {_param(name): v for name, v in changes.items()}
    pairs: list[tuple[str, str]] = []
    if path is None:
        pairs = [(k, v) for k, v in request.query_params.multi_items() if k not in named]
    pairs = [(k, v) for k, v in pairs if k != "token"]
    pairs += [(k, str(v)) for k, v in named.items() if v is not None and v != ""]
    base = (request.url.path if path is None else path) + suffix
    return base + ("?" + urlencode(pairs) if pairs else "")


def _param(name: str) -> str:
    """``from_`` is the parameter ``from``; ``_next`` stays ``_next``."""
    return name[:-1] if name.endswith("_") and not name.startswith("_") else name


def segment(value: Any) -> str:
    """``value`` as one segment of a URL's path."""
    return quote(str(value), safe="")


ENV.filters["segment"] = segment


def csrf_token(request: Request) -> str:
    """This browser's CSRF token (a cookie, echoed in every form that writes)."""
    token = getattr(request.state, "csrf", None) or request.cookies.get(CSRF_COOKIE)
    if not token:
        token = secrets.token_urlsafe(24)
    request.state.csrf = token
    return token


def respond(
    request: Request,
    template: str,
    data: dict[str, Any],
    *,
    status: int = 200,
    **view: Any,
) -> Response:
    """``data`` as JSON, or the page ``template`` shows it on (given ``data`` and ``view``)."""
    if wanted(request) != "html":
        return json_response(jsonable_tree(data), status)
    html = ENV.get_template(template).render(
        data=data,
        request=request,
        url=lambda path=None, suffix="", **changes: url(request, path, suffix, **changes),
        csrf=csrf_token(request),
        read_only=request.app.state.db.read_only,
        **view,
    )
    response = HTMLResponse(html, status_code=status)
    if request.cookies.get(CSRF_COOKIE) != request.state.csrf:
        response.set_cookie(CSRF_COOKIE, request.state.csrf, httponly=True, samesite="strict")
    response.headers["content-security-policy"] = (
        "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; "
        "frame-ancestors 'none'"
    )
    response.headers["x-content-type-options"] = "nosniff"
    return response


def jsonable_tree(value: Any) -> Any:
    """``value`` with every SQLite value inside it made JSON-ready."""
    if isinstance(value, dict):
        return {k: jsonable_tree(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable_tree(v) for v in value]
    return jsonable(value)


def csv_response(text: str, name: str) -> Response:
    """``text`` as a CSV download named after ``name``."""
    filename = "".join(c if c.isalnum() or c in "-_" else "_" for c in name) or "export"
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{filename}.csv"'},
    )


def to_csv(columns: list[str], rows: Any) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    writer.writerows(rows)
    return out.getvalue()
