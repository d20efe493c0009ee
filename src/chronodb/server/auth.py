"""Who may talk to the server: a bearer token, and loopback unless a token is set."""

from __future__ import annotations

import contextlib
import hmac
import html
import ipaddress
import json
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlencode

from chronodb.errors import ConfigError

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# The cookie a browser keeps the token in, once it logged in (``/login`` or ``?token=``).
TOKEN_COOKIE = "chronodb_token"
LOGIN_PATH = "/login"
# The pages' stylesheet and script, which ship in the wheel: the login form uses them.
PUBLIC_PREFIX = "/static/ui/"

# RFC 6455 "policy violation": the close code a WebSocket without the token gets.
WS_POLICY_VIOLATION = 1008


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """Refuse to listen beyond this machine without a token."""
    if not is_loopback(host) and not token:
        raise ConfigError(
            f"Refusing to listen on {host!r} without a token: anyone who can reach it could "
            "read and change the database. Pass --token (or set CHRONODB_TOKEN), or bind to "
            "127.0.0.1."
        )


def _presented(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, credentials = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer":
                return credentials.strip()
    cookie = _cookie(scope, TOKEN_COOKIE)
    if cookie:
        return cookie
    if scope["type"] == "websocket":
        # Browsers cannot set headers on a WebSocket, so the query string is accepted too.
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if query.get("token"):
            return query["token"][0]
    return None


def _cookie(scope: Scope, name: str) -> str | None:
    for header, value in scope.get("headers", ()):
        if header == b"cookie":
            jar = SimpleCookie()
            with contextlib.suppress(CookieError):
                jar.load(value.decode("latin-1"))
            if name in jar:
                return jar[name].value
    return None


def _header(scope: Scope, name: bytes) -> str:
    for header, value in scope.get("headers", ()):
        if header == name:
            return value.decode("latin-1")
    return ""


class TokenAuth:
    """ASGI middleware: every HTTP request and WebSocket must present the token."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._token = token.encode()

    def allowed(self, scope: Scope) -> bool:
        given = _presented(scope)
        return given is not None and hmac.compare_digest(given.encode(), self._token)

    def _matches(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), self._token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        public = scope["type"] == "http" and scope.get("path", "").startswith(PUBLIC_PREFIX)
        if scope["type"] not in ("http", "websocket") or public or self.allowed(scope):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            # Closing before accepting makes the server answer the handshake with 403.
            await send({"type": "websocket.close", "code": WS_POLICY_VIOLATION})
            return
        if await self._browser(scope, receive, send):
            return
        body = json.dumps(
            {
                "error": {
                    "type": "Unauthorized",
                    "message": "A valid token is required: send 'Authorization: Bearer <token>'",
                    "position": None,
                }
            }
        ).encode()
        await _unauthorized(send, body, b"application/json")

    async def _browser(self, scope: Scope, receive: Receive, send: Send) -> bool:
        """Log a browser in: ``?token=`` once, or the login form; True if answered."""
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        path = scope.get("path", "/")
        if scope["method"] == "GET" and self._matches(next(iter(query.get("token") or []), None)):
            rest = urlencode([(k, v) for k, vs in query.items() if k != "token" for v in vs])
            await _login(send, path + ("?" + rest if rest else ""), self._token.decode())
            return True
        if path == LOGIN_PATH and scope["method"] == "POST":
            form = parse_qs((await _body(receive)).decode("latin-1"))
            target = (form.get("next") or ["/"])[0]
            if not target.startswith("/") or target.startswith("//"):
                target = "/"
            if self._matches(next(iter(form.get("token") or []), None)):
                await _login(send, target, self._token.decode())
                return True
            await _login_form(send, target, "That token is not the server's.")
            return True
        if scope["method"] == "GET" and "text/html" in _header(scope, b"accept"):
            here = path + (
                "?" + scope["query_string"].decode("latin-1") if scope.get("query_string") else ""
            )
            await _login_form(send, here, None)
            return True
        return False


async def _body(receive: Receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body") or len(body) > 64 * 1024:
            return body


async def _login(send: Send, target: str, token: str) -> None:
    cookie = f"{TOKEN_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict"
    await send(
        {
            "type": "http.response.start",
            "status": 303,
            "headers": [
                (b"location", target.encode("latin-1", "replace")),
                (b"set-cookie", cookie.encode("latin-1", "replace")),
                (b"content-length", b"0"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b""})


async def _login_form(send: Send, target: str, problem: str | None) -> None:
    note = f'<p role="alert" class="error">{html.escape(problem)}</p>' if problem else ""
    body = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<title>Log in · ChronoDB</title><link rel="stylesheet" href="/static/ui/ui.css">'
        '</head><body><main id="main"><h1>ChronoDB</h1>'
        f"<p>This server needs its token.</p>{note}"
        f'<form method="post" action="{LOGIN_PATH}">'
        f'<input type="hidden" name="next" value="{html.escape(target)}">'
        '<label for="token">Token</label> <input id="token" name="token" type="password" '
        'autocomplete="current-password" required autofocus> <button type="submit">Log in</button>'
        "</form></main></body></html>"
    ).encode()
    await _unauthorized(send, body, b"text/html; charset=utf-8")


async def _unauthorized(send: Send, body: bytes, content_type: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                (b"www-authenticate", b'Bearer realm="chronodb"'),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
