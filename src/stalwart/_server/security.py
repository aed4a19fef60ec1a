"""Who may talk to the server, and from where.

- Bound to loopback without a token: only requests whose ``Host`` is a loopback name are
  served, so a web page elsewhere cannot reach the server through DNS rebinding.
- With a token: every request but the login page and static files is authenticated, as
  ``Authorization: Bearer <token>`` (API, metrics, UI) or, for UI pages only, by the session
  cookie the login form sets. The cookie never holds the token: it holds an expiry and an HMAC
  keyed by a secret derived from the token, so another service on the same host name that
  receives the cookie learns nothing it could use against the API. The API never accepts the
  cookie, so a browser cannot be tricked into sending API calls with the user's credentials.
- Wrong tokens are counted per client address: after ``MAX_FAILURES`` within ``FAILURE_WINDOW``
  seconds further attempts get 429 until the window has passed.
- State-changing requests coming from another origin (``Origin`` or ``Sec-Fetch-Site`` say so)
  are refused; UI forms also carry a CSRF token: an HMAC, under the server's secret, of a
  random per-browser nonce cookie and the session, so a token cannot be forged by someone who
  can plant cookies (a sibling subdomain) but does not know the secret.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
import time
from collections import OrderedDict
from typing import Any
from urllib.parse import quote, urlsplit

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

SESSION_COOKIE = "stalwart_session"
CSRF_COOKIE = "stalwart_csrf"
CSRF_FIELD = "csrf_token"
SESSION_SECONDS = 12 * 3600
MIN_TOKEN_CHARS = 16
MIN_TOKEN_DISTINCT = 6
MAX_FAILURES = 10
FAILURE_WINDOW = 60.0

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


def check_token_strength(token: str) -> None:
    """Refuses tokens a guesser would find: short or made of few distinct characters."""
    if len(token) < MIN_TOKEN_CHARS or len(set(token)) < MIN_TOKEN_DISTINCT:
        raise ValueError(
            f"the API token is too weak: use at least {MIN_TOKEN_CHARS} characters with at "
            f"least {MIN_TOKEN_DISTINCT} different ones, e.g. the output of "
            "python -c 'import secrets; print(secrets.token_urlsafe(32))', or pass "
            "--generate-token to have one made and printed once")


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


class Secrets:
    """The server's keys. With a token, both derive from it (so every server process given the
    same token agrees, and changing the token ends every session); without one, the CSRF key is
    random per process."""

    def __init__(self, api_token: str | None) -> None:
        self.api_token = api_token
        if api_token is None:
            self._session_key = b""
            self._csrf_key = secrets.token_bytes(32)
        else:
            root = hashlib.sha256(b"stalwart dev server\x00" + api_token.encode()).digest()
            self._session_key = hmac.new(root, b"session", hashlib.sha256).digest()
            self._csrf_key = hmac.new(root, b"csrf", hashlib.sha256).digest()

    def new_session(self, now: float | None = None) -> str:
        expires = int((now if now is not None else time.time()) + SESSION_SECONDS)
        nonce = secrets.token_urlsafe(12)
        return f"{expires}.{nonce}.{self._mac(self._session_key, f'{expires}.{nonce}')}"

    def session_ok(self, value: str | None, now: float | None = None) -> bool:
        if not value or self.api_token is None:
            return False
        expires, _, rest = value.partition(".")
        nonce, _, mac = rest.partition(".")
        if not expires.isdigit() or not nonce or not mac:
            return False
        if int(expires) < (now if now is not None else time.time()):
            return False
        return hmac.compare_digest(mac, self._mac(self._session_key, f"{expires}.{nonce}"))

    def csrf_token(self, nonce: str, session: str | None) -> str:
        return self._mac(self._csrf_key, f"{nonce}|{session or ''}")

    def csrf_ok(self, request: Request, submitted: Any) -> bool:
        nonce = request.cookies.get(CSRF_COOKIE)
        if not isinstance(submitted, str) or not nonce:
            return False
        expected = self.csrf_token(nonce, session_cookie(request))
        return hmac.compare_digest(submitted.encode(), expected.encode())

    @staticmethod
    def _mac(key: bytes, message: str) -> str:
        return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def new_nonce() -> str:
    return secrets.token_urlsafe(32)


def is_tls(request: Request) -> bool:
    return request.url.scheme == "https"


def session_cookie_name(request: Request) -> str:
    # __Host- cookies must be Secure, host-only and Path=/, which browsers accept over TLS only.
    return f"__Host-{SESSION_COOKIE}" if is_tls(request) else SESSION_COOKIE


def session_cookie(request: Request) -> str | None:
    return request.cookies.get(session_cookie_name(request))


class FailureLimiter:
    """Counts failed authentications per client address over a sliding window."""

    def __init__(self, max_failures: int = MAX_FAILURES, window: float = FAILURE_WINDOW,
                 max_clients: int = 10_000) -> None:
        self.max_failures = max_failures
        self.window = window
        self.max_clients = max_clients
        self._failures: OrderedDict[str, list[float]] = OrderedDict()

    def _recent(self, client: str, now: float) -> list[float]:
        times = [t for t in self._failures.get(client, []) if t > now - self.window]
        if times:
            self._failures[client] = times
        else:
            self._failures.pop(client, None)
        return times

    def retry_after(self, client: str, now: float | None = None) -> float | None:
        """Seconds until ``client`` may try again, or None if it may now."""
        now = time.monotonic() if now is None else now
        times = self._recent(client, now)
        if len(times) < self.max_failures:
            return None
        return max(1.0, times[-self.max_failures] + self.window - now)

    def fail(self, client: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        times = self._recent(client, now)
        times.append(now)
        self._failures[client] = times
        self._failures.move_to_end(client)
        while len(self._failures) > self.max_clients:
            self._failures.popitem(last=False)


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def _is_api(path: str) -> bool:
    return path.startswith("/api/") or path == "/api" or path == "/metrics"


class SecurityMiddleware:
    """Host check, token check and cross-origin refusal, before any route runs."""

    def __init__(self, app: ASGIApp, *, keys: Secrets, limiter: FailureLimiter,
                 loopback_only: bool) -> None:
        self.app = app
        self.keys = keys
        self.limiter = limiter
        self.loopback_only = loopback_only

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        path = scope["path"]
        host = request.headers.get("host", "")
        api_token = self.keys.api_token
        if self.loopback_only and api_token is None and not is_loopback(host_without_port(host)):
            await _refuse(send, 403, "forbidden_host",
                          f"host {host[:100]!r} is not a loopback name; this server answers "
                          "only to localhost, 127.0.0.1 and [::1] (start it with --api-token to "
                          "serve other names)")
            return
        if request.method not in _SAFE_METHODS and _cross_origin(request, host):
            await _refuse(send, 403, "cross_origin",
                          "cross-origin request refused: state-changing requests must come "
                          "from this server's own pages or from a non-browser client")
            return
        if api_token is not None and not path.startswith(_OPEN_PATHS):
            given = bearer(request.headers)
            if given is not None:
                ok = await self._check_bearer(scope, send, given, api_token)
                if not ok:
                    return
            elif _is_api(path) or not self.keys.session_ok(session_cookie(request)):
                if _is_api(path) or request.method not in _SAFE_METHODS:
                    await _refuse(send, 401, "unauthorized",
                                  "missing or wrong API token: send 'Authorization: Bearer "
                                  "<token>'")
                else:
                    target = path + (f"?{scope['query_string'].decode('latin-1')}"
                                     if scope.get("query_string") else "")
                    await _redirect(send, f"/login?next={quote(target, safe='')}")
                return
        await self.app(scope, receive, _with_headers(send))

    async def _check_bearer(self, scope: Scope, send: Send, given: str, expected: str) -> bool:
        client = client_address(scope)
        wait = self.limiter.retry_after(client)
        if wait is not None:
            await _refuse(send, 429, "too_many_attempts",
                          f"too many wrong tokens from this address; try again in "
                          f"{wait:.0f} s", retry_after=wait)
            return False
        if tokens_match(given, expected):
            return True
        self.limiter.fail(client)
        await _refuse(send, 401, "unauthorized",
                      "missing or wrong API token: send 'Authorization: Bearer <token>'")
        return False


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


async def _refuse(send: Send, status: int, code: str, message: str,
                  retry_after: float | None = None) -> None:
    # Drain nothing: the connection closes or is reused by the server as it sees fit.
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(body)).encode()), *SECURITY_HEADERS]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="stalwart"'))
    if retry_after is not None:
        headers.append((b"retry-after", str(int(retry_after + 0.999)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _redirect(send: Send, location: str) -> None:
    await send({"type": "http.response.start", "status": 303,
                "headers": [(b"location", location.encode("latin-1")),
                            (b"content-length", b"0"), *SECURITY_HEADERS]})
    await send({"type": "http.response.body", "body": b""})
