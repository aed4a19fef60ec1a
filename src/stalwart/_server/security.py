"""Who may talk to the server, and from where.

- Bound to loopback without a token: only requests whose ``Host`` is a loopback name are
  served, so a web page elsewhere cannot reach the server through DNS rebinding.
- With a token: every request but the login page and static files carries it, as
  ``Authorization: Bearer <token>`` (API, metrics, UI) or, for UI pages only, in the cookie the
  login form sets. The API never accepts the cookie, so a browser cannot be tricked into
  sending API calls with the user's credentials.
- State-changing requests coming from another origin (``Origin`` or ``Sec-Fetch-Site`` say so)
  are refused; UI forms also carry a CSRF token that must match a SameSite=Strict cookie.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import secrets
from typing import Any
from urllib.parse import quote, urlsplit

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

TOKEN_COOKIE = "stalwart_token"
CSRF_COOKIE = "stalwart_csrf"
CSRF_FIELD = "csrf_token"

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"content-security-policy",
     b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
     b"frame-ancestors 'none'; form-action 'self'; base-uri 'none'"),
]

_OPEN_PATHS = ("/static/", "/login", "/favicon.ico")
_SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_without_port(host_header: str) -> str:
    if host_header.startswith("["):
        return host_header[1:].split("]", 1)[0]
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header


def tokens_match(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def bearer(headers: Any) -> str | None:
    value = headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_ok(request: Request, submitted: Any) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE)
    return (isinstance(submitted, str) and bool(cookie)
            and hmac.compare_digest(submitted.encode(), str(cookie).encode()))


def _is_api(path: str) -> bool:
    return path.startswith("/api/") or path == "/api" or path == "/metrics"


class SecurityMiddleware:
    """Host check, token check and cross-origin refusal, before any route runs."""

    def __init__(self, app: ASGIApp, *, api_token: str | None, loopback_only: bool) -> None:
        self.app = app
        self.api_token = api_token
        self.loopback_only = loopback_only

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        path = scope["path"]
        host = request.headers.get("host", "")
        if self.loopback_only and self.api_token is None and not is_loopback(
                host_without_port(host)):
            await _refuse(scope, receive, send, 403, "forbidden_host",
                          f"host {host[:100]!r} is not a loopback name; this server answers "
                          "only to localhost, 127.0.0.1 and [::1] (start it with --api-token to "
                          "serve other names)")
            return
        if request.method not in _SAFE_METHODS and _cross_origin(request, host):
            await _refuse(scope, receive, send, 403, "cross_origin",
                          "cross-origin request refused: state-changing requests must come "
                          "from this server's own pages or from a non-browser client")
            return
        if self.api_token is not None and not path.startswith(_OPEN_PATHS):
            given = bearer(request.headers)
            if given is None and not _is_api(path):
                given = request.cookies.get(TOKEN_COOKIE)
            if not tokens_match(given, self.api_token):
                if _is_api(path) or request.method not in _SAFE_METHODS:
                    await _refuse(scope, receive, send, 401, "unauthorized",
                                  "missing or wrong API token: send 'Authorization: Bearer "
                                  "<token>'")
                else:
                    target = path + (f"?{scope['query_string'].decode('latin-1')}"
                                     if scope.get("query_string") else "")
                    await _redirect(send, f"/login?next={quote(target, safe='')}")
                return
        await self.app(scope, receive, _with_headers(send))


def _cross_origin(request: Request, host: str) -> bool:
    if request.headers.get("sec-fetch-site") == "cross-site":
        return True
    origin = request.headers.get("origin")
    if origin is None:
        return False
    if origin == "null":
        return True
    return urlsplit(origin).netloc.lower() != host.lower()


def _with_headers(send: Send) -> Send:
    async def wrapped(message: Any) -> None:
        if message["type"] == "http.response.start":
            message.setdefault("headers", [])
            message["headers"] = list(message["headers"]) + SECURITY_HEADERS
        await send(message)

    return wrapped


async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, code: str,
                  message: str) -> None:
    # Drain nothing: the connection closes or is reused by the server as it sees fit.
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(body)).encode()), *SECURITY_HEADERS]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="stalwart"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _redirect(send: Send, location: str) -> None:
    await send({"type": "http.response.start", "status": 303,
                "headers": [(b"location", location.encode("latin-1")),
                            (b"content-length", b"0"), *SECURITY_HEADERS]})
    await send({"type": "http.response.body", "body": b""})
