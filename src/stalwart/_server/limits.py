"""A header-read timeout for uvicorn's HTTP/1.1 protocol.

uvicorn's keep-alive timer runs only between requests and is reset by every byte received, and
no timer runs on a new connection: a client that sends its headers a byte at a time holds a
connection (and a slot under ``limit_concurrency``) for as long as it likes. Here every
connection gets ``timeout`` seconds from its first byte or its previous response to deliver a
complete request head; after that it is closed.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol


def header_timeout_protocol(timeout: float) -> type[H11Protocol]:
    class HeaderTimeoutProtocol(H11Protocol):
        _head_deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def handle_events(self) -> None:
            super().handle_events()
            if self.conn.their_state is not h11.IDLE:
                self._disarm()  # the head is in; the body is the app's business

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
                self._arm()

        def _arm(self) -> None:
            self._disarm()
            self._head_deadline = self.loop.call_later(timeout, self._head_timed_out)

        def _disarm(self) -> None:
            if self._head_deadline is not None:
                self._head_deadline.cancel()
                self._head_deadline = None

        def _head_timed_out(self) -> None:
            self._head_deadline = None
            if not self.transport.is_closing():
                self.transport.close()

    return HeaderTimeoutProtocol
