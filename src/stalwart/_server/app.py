"""The dev server's ASGI application and how to run it."""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from .._store import resolve_url
from ..client import Client
from ..converter import DataConverter, ExternalStorage, LocalDirectoryStorageDriver
from . import api, api_ops, ui, ui_ops
from .backend import Backend
from .metrics import metrics
from .readmodel import ReadModel
from .security import (
    FailureLimiter,
    Secrets,
    SecurityMiddleware,
    check_token_strength,
    is_loopback,
)
from .validation import ApiError

logger = logging.getLogger(__name__)

DEFAULT_PORT = 8233
# Request line plus headers; a browser's, cookies included, stays well below.
MAX_HEADER_BYTES = 32 * 1024


@dataclass
class ServerConfig:
    """Where the store is, and who may use the server.

    Args:
        url: Store URL (``sqlite:///path.db``); None means ``STALWART_URL`` or ``stalwart.db``
            in the working directory.
        host: Address the server binds; anything but loopback needs ``api_token``.
        api_token: When set, every request must carry it; at least 16 characters.
        max_connections: Connections (and requests) served at once; more get 503.
        header_timeout: Seconds a client has to send a request's headers.
        external_storage_dir: Directory of the ``LocalDirectoryStorageDriver`` (named
            ``local``) the workers keep large payloads in, so pages and the API show them.
    """

    url: str | None = None
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    api_token: str | None = None
    max_connections: int = 100
    header_timeout: float = 10.0
    external_storage_dir: str | None = None

    def check(self) -> None:
        if self.api_token is not None:
            check_token_strength(self.api_token)
        if not is_loopback(self.host) and self.api_token is None:
            raise ValueError(
                f"binding to {self.host} exposes the server beyond this machine: give it a token "
                "with --api-token (or STALWART_API_TOKEN), or bind to 127.0.0.1")


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
    message = {404: f"nothing at {request.url.path[:200]!r}",
               405: f"{request.method} is not allowed at {request.url.path[:200]!r}"}.get(
        error.status_code, str(error.detail))
    api_error = ApiError(error.status_code, code, message, headers=dict(error.headers or {}))
    if request.url.path.startswith("/api") or request.url.path == "/metrics":
        return api.error_response(api_error)
    page = ui.render(request, "error.html", status=error.status_code, error=api_error)
    page.headers.update(api_error.headers)
    return page


async def _unexpected(request: Request, error: Exception) -> Response:
    logger.error("unexpected error in %s %s", request.method, request.url.path,
                 exc_info=error)
    api_error = ApiError(500, "internal", f"internal error: {type(error).__name__}")
    if request.url.path.startswith("/api"):
        return api.error_response(api_error)
    return ui.render(request, "error.html", status=500, error=api_error)


def create_app(config: ServerConfig) -> Starlette:
    config.check()
    url = resolve_url(config.url)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        converter = DataConverter() if config.external_storage_dir is None else DataConverter(
            external_storage=ExternalStorage(
                [LocalDirectoryStorageDriver(config.external_storage_dir)]))
        client = await Client.connect(url, identity="stalwart-server", data_converter=converter)
        backend = Backend(client=client, reads=ReadModel(client.store))
        app.state.backend = backend
        try:
            yield
        finally:
            await backend.close()

    keys = Secrets(config.api_token)
    limiter = FailureLimiter()
    app = Starlette(
        routes=[*api_ops.routes, *api.routes, *ui_ops.routes, *ui.routes,
                Route("/metrics", metrics, methods=["GET"]),
                Mount("/static", app=StaticFiles(directory=Path(__file__).parent / "static"),
                      name="static")],
        middleware=[Middleware(SecurityMiddleware, keys=keys, limiter=limiter,
                               loopback_only=is_loopback(config.host))],
        exception_handlers={HTTPException: _http_error, Exception: _unexpected},
        lifespan=lifespan,
    )
    app.state.api_token = config.api_token
    app.state.keys = keys
    app.state.limiter = limiter
    app.state.store_url = url
    return app


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening socket; port 0 picks a free one (read it from ``getsockname()``)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def make_server(config: ServerConfig) -> Any:
    """A ``uvicorn.Server`` for the app (call ``.run(sockets=[...])`` or ``.serve()``)."""
    import uvicorn

    from .limits import header_timeout_protocol

    uv_config = uvicorn.Config(
        create_app(config), host=config.host, port=config.port, log_level="warning",
        lifespan="on", ws="none", http=header_timeout_protocol(config.header_timeout),
        loop="asyncio", access_log=False, server_header=False,
        limit_concurrency=config.max_connections, timeout_keep_alive=5,
        h11_max_incomplete_event_size=MAX_HEADER_BYTES)
    return uvicorn.Server(uv_config)
