"""Prometheus metrics of this process's workers and clients (a Stalwart addition).

    server = await stalwart.metrics.start_http_server(9464)   # GET /metrics
    ...
    await server.close()

Exposed: workflows started and closed (by type and status), workflow tasks (by outcome) and
their latency, replays, activity attempts by type and outcome (completed, failed, retry,
cancelled, benign), schedule-to-start and execution latency histograms, each worker's cache
size, and the task-queue backlog read from the store at scrape time.

The metrics live in ``REGISTRY``, a ``prometheus_client`` registry of their own. To serve them
with the rest of an application's metrics, expose that registry too (e.g.
``prometheus_client.make_asgi_app(registry=stalwart.metrics.REGISTRY)``); call ``await
refresh()`` before a scrape there to bring the backlog gauge up to date.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from prometheus_client import generate_latest

from ._engine.metrics import METRICS, Sample, backlog_sources

__all__ = ["REGISTRY", "MetricsServer", "refresh", "render", "start_http_server"]

REGISTRY = METRICS.registry
# generate_latest writes names escaped to the classic text format, which every Prometheus
# version reads.
TEXT_FORMAT = "text/plain; version=0.0.4; charset=utf-8"


async def refresh() -> None:
    """Read the task-queue backlog of every running worker's store (the one gauge that needs
    the store, and so an await)."""
    samples: list[Sample] = []
    for source in list(backlog_sources):
        try:
            for (kind, queue), count in (await source()).items():
                samples.append(([queue, kind], float(count)))
        except Exception:  # a store that is closing must not break the scrape
            continue
    METRICS.gauges.backlog = samples


async def render() -> str:
    """The Prometheus text exposition of everything this process measures."""
    await refresh()
    return generate_latest(REGISTRY).decode()


@dataclass
class MetricsServer:
    server: asyncio.Server
    host: str
    port: int

    async def close(self) -> None:
        self.server.close()
        await self.server.wait_closed()


async def start_http_server(port: int = 9464, host: str = "127.0.0.1") -> MetricsServer:
    """Serve ``GET /metrics`` on ``host:port`` (port 0 picks a free one)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            line = request.split(b"\r\n", 1)[0].decode("latin-1")
            parts = line.split()
            if len(parts) >= 2 and parts[0] == "GET" and parts[1].split("?")[0] == "/metrics":
                body = (await render()).encode()
                status, content_type = "200 OK", TEXT_FORMAT
            else:
                body, status, content_type = b"not found: GET /metrics\n", "404 Not Found", \
                    "text/plain"
            writer.write(f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
                         f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                         + body)
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, host, port)
    bound = server.sockets[0].getsockname()[1]
    return MetricsServer(server, host, bound)
