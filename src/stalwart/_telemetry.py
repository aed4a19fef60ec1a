"""What a runtime's telemetry does: the metric buffer's updates and the Prometheus servers.

Stalwart's metrics are kept per process (``stalwart.metrics.REGISTRY``), not per runtime: a
Prometheus server serves that registry, and a metric buffer receives every update made in the
process from the moment its runtime is created.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import NewType

from . import metrics as _metrics

logger = logging.getLogger("stalwart.runtime")

BufferedMetricKind = NewType("BufferedMetricKind", int)
BUFFERED_METRIC_KIND_COUNTER = BufferedMetricKind(0)
BUFFERED_METRIC_KIND_GAUGE = BufferedMetricKind(1)
BUFFERED_METRIC_KIND_HISTOGRAM = BufferedMetricKind(2)
_KINDS = {"counter": BUFFERED_METRIC_KIND_COUNTER, "gauge": BUFFERED_METRIC_KIND_GAUGE,
          "histogram": BUFFERED_METRIC_KIND_HISTOGRAM}


@dataclass(frozen=True, eq=False)
class _Metric:
    """One metric of a buffer: the same object for every update of that metric, so that
    exporters can key their instruments by ``id``."""

    name: str
    description: str | None
    unit: str | None
    kind: BufferedMetricKind


@dataclass(frozen=True)
class _Update:
    metric: _Metric
    value: int | float
    attributes: Mapping[str, str | int | float | bool]


class BufferSink:
    """The part of a ``MetricBuffer`` that receives updates (one per buffer)."""

    def __init__(self, size: int, seconds: bool, global_tags: Mapping[str, str],
                 prefix: str | None) -> None:
        self.size, self.seconds = size, seconds
        self.global_tags, self.prefix = dict(global_tags), prefix
        self.updates: list[_Update] = []
        self.metrics: dict[tuple[str, str], _Metric] = {}
        # Equal attribute sets share one mapping, as Core's do, so exporters may cache by id.
        self.attribute_sets: dict[tuple[tuple[str, str], ...], Mapping[str, str]] = {}
        self.lock = threading.Lock()
        self.dropping = False

    def record(self, kind: str, name: str, description: str, unit: str | None, value: float,
               attributes: Mapping[str, str], duration: bool) -> None:
        if self.prefix is not None and name.startswith("stalwart_"):
            name = self.prefix + name.removeprefix("stalwart_")
        number: int | float = value
        if duration:
            number, unit = (float(value), "s") if self.seconds else (round(value * 1000), "ms")
        elif kind == "counter" and float(value).is_integer():
            number = int(value)
        merged = {**self.global_tags, **attributes}
        key = tuple(sorted(merged.items()))
        with self.lock:
            if len(self.updates) >= self.size:
                if not self.dropping:
                    logger.error("metric buffer full (%d updates): dropping updates until "
                                 "retrieve_updates() drains it", self.size)
                self.dropping = True
                return
            metric = self.metrics.get((kind, name))
            if metric is None:
                metric = self.metrics[(kind, name)] = _Metric(
                    name, description or None, unit, _KINDS[kind])
            mapping = self.attribute_sets.get(key)
            if mapping is None:
                mapping = self.attribute_sets[key] = MappingProxyType(dict(key))
            self.updates.append(_Update(metric, number, mapping))

    def drain(self) -> list[_Update]:
        with self.lock:
            updates, self.updates = self.updates, []
            self.dropping = False
            return updates


def parse_bind_address(bind_address: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:9000`` for IPv6) as a host and a port."""
    host, sep, port = bind_address.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"PrometheusConfig.bind_address={bind_address!r} is not host:port; "
                         "write it as e.g. '127.0.0.1:9000' or '0.0.0.0:9000'")
    return host, int(port)


@dataclass
class _Served:
    server: asyncio.Task[_metrics.MetricsServer]
    loop: asyncio.AbstractEventLoop


# One server per bind address for the process, however many runtimes name it.
_servers: dict[str, _Served] = {}


async def serve(bind_address: str) -> _metrics.MetricsServer:
    """The ``/metrics`` server on ``bind_address``, started if it is not already running.

    A server belongs to the event loop that started it; once that loop has closed (as between
    tests) the address is served anew from the running loop.
    """
    host, port = parse_bind_address(bind_address)
    served = _servers.get(bind_address)
    if served is not None and not served.loop.is_closed():
        return await served.server
    if served is not None and served.server.done() and not served.server.exception():
        try:  # the socket of a server whose loop is gone still holds the port
            served.server.result().server.close()
        except Exception:  # the loop it belonged to may refuse; the port is then still held
            logger.debug("could not close the metrics server of a closed loop", exc_info=True)
    loop = asyncio.get_running_loop()
    task = loop.create_task(_metrics.start_http_server(port, host))
    _servers[bind_address] = _Served(task, loop)
    try:
        return await task
    except BaseException:
        _servers.pop(bind_address, None)
        raise


async def close_servers() -> None:
    """Close the ``/metrics`` servers started from the running loop (for tests and shutdown
    hooks; a server otherwise lives as long as its loop)."""
    loop = asyncio.get_running_loop()
    for address, served in list(_servers.items()):
        if served.loop is loop:
            del _servers[address]
            if served.server.done() and not served.server.exception():
                await served.server.result().close()
