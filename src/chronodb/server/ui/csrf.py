"""Writes from pages: a form must echo this browser's CSRF cookie and come from this site."""

from __future__ import annotations

import hmac
from urllib.parse import parse_qsl, urlsplit

from starlette.exceptions import HTTPException
from starlette.requests import Request

from chronodb.server.ui.render import CSRF_COOKIE

FORM = "application/x-www-form-urlencoded"


async def checked_form(request: Request) -> dict[str, str]:
    """The posted form (URL-encoded, as the pages send it), or 403 when its ``csrf`` field is
    not this browser's cookie or the request's Origin is another site."""
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host"):
        raise HTTPException(403, f"a form from another site ({origin:.80}) cannot write here")
    form = await _form(request)
    given = form.get("csrf", "")
    cookie = request.cookies.get(CSRF_COOKIE)
    if not given or not cookie or not hmac.compare_digest(given.encode(), cookie.encode()):
        raise HTTPException(403, "the form's CSRF token is missing or stale: reload the page")
    request.state.csrf = cookie
    return form


async def _form(request: Request) -> dict[str, str]:
    if request.headers.get("content-type", "").split(";")[0].strip() != FORM:
        return {}
    limit: int = request.app.state.max_body_bytes
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(413, f"request body too large: at most {limit} bytes")
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
