"""Running the real dev server on a free loopback port, and talking HTTP to it."""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from stalwart._server import ServerConfig, bind_socket, make_server


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    @property
    def error_code(self) -> str | None:
        try:
            return str(self.json()["error"]["code"])
        except (ValueError, KeyError, TypeError):
            return None


@dataclass
class RunningServer:
    url: str
    host: str
    port: int
    store_url: str
    api_token: str | None
    _server: Any = field(default=None, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    def request(self, method: str, path: str, body: Any = None, *,
                headers: dict[str, str] | None = None, raw: bytes | None = None,
                content_type: str | None = "application/json",
                token: str | None = None, timeout: float = 60.0) -> Reply:
        """One HTTP request over a fresh connection (no client-side magic: what is sent is
        what the server gets)."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            sent_headers = dict(headers or {})
            payload = raw
            if payload is None and body is not None:
                payload = json.dumps(body).encode()
            if payload is not None and content_type is not None:
                sent_headers.setdefault("Content-Type", content_type)
            if token is None:
                token = self.api_token
            if token:
                sent_headers.setdefault("Authorization", f"Bearer {token}")
            conn.request(method, path, body=payload, headers=sent_headers)
            response = conn.getresponse()
            return Reply(response.status, {k.lower(): v for k, v in response.getheaders()},
                         response.read())
        finally:
            conn.close()

    async def arequest(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Reply:
        # Off the event loop: the test's worker runs on that loop.
        return await asyncio.to_thread(self.request, method, path, body, **kwargs)

    def stop(self) -> None:
        assert self._server is not None and self._thread is not None, "not started here"
        self._server.should_exit = True
        self._thread.join(timeout=30)
        assert not self._thread.is_alive(), "server thread did not stop"


def start_server(store_url: str, *, host: str = "127.0.0.1", api_token: str | None = None,
                 external_storage_dir: str | None = None) -> RunningServer:
    """The real uvicorn server with the real app, in a thread, on a free port."""
    config = ServerConfig(url=store_url, host=host, port=0, api_token=api_token,
                          external_storage_dir=external_storage_dir)
    server = make_server(config)
    sock = bind_socket(host, 0)
    port = sock.getsockname()[1]
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]},
                              name="stalwart-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the dev server did not start")
        time.sleep(0.01)
    connect_host = "127.0.0.1" if host in ("0.0.0.0", "127.0.0.1") else host
    return RunningServer(url=f"http://{connect_host}:{port}", host=connect_host, port=port,
                         store_url=store_url, api_token=api_token, _server=server,
                         _thread=thread)


def wid(workflow_id: str) -> str:
    """A workflow id as one path segment."""
    return quote(workflow_id, safe="")


class LoopThread:
    """An asyncio loop on its own thread, for tests that are not async themselves (Playwright's
    sync API) but need a real Worker running."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="test-loop",
                                        daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float = 60.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=30)
        self.loop.close()


def wait_until(check: Callable[[], Any], *, timeout: float = 20.0, what: str = "condition"
               ) -> Any:
    """Synchronous polling with a deadline (for code that is not async)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value {last!r}")
