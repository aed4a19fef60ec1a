"""``/metrics`` in the Prometheus text format, written by ``prometheus_client`` from gauges
read from the store on each scrape."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response

from .backend import Backend
from .readmodel import MetricsSnapshot

# generate_latest writes names escaped to the classic text format, which every Prometheus
# version reads.
TEXT_FORMAT = "text/plain; version=0.0.4; charset=utf-8"


class _SnapshotCollector(Collector):
    def __init__(self, snapshot: MetricsSnapshot) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        snap = self.snapshot
        executions = GaugeMetricFamily(
            "stalwart_workflow_executions",
            "Workflow runs in the store, by workflow type and status.",
            labels=["workflow_type", "status"])
        for (workflow_type, status), count in sorted(snap.executions.items()):
            executions.add_metric([workflow_type, status], count)
        yield executions
        backlog = GaugeMetricFamily(
            "stalwart_task_queue_backlog",
            "Tasks ready to run that no worker holds yet, by task queue and kind.",
            labels=["task_queue", "kind"])
        for (queue, kind), count in sorted(snap.backlog.items()):
            backlog.add_metric([queue, kind], count)
        yield backlog
        leased = GaugeMetricFamily("stalwart_task_queue_leased",
                                   "Tasks a worker holds right now, by task queue and kind.",
                                   labels=["task_queue", "kind"])
        for (queue, kind), count in sorted(snap.leased.items()):
            leased.add_metric([queue, kind], count)
        yield leased
        yield GaugeMetricFamily(
            "stalwart_inbox_events",
            "Signals, results and timer firings waiting for their run's next workflow task.",
            value=snap.inbox_events)
        yield GaugeMetricFamily("stalwart_timers_pending", "Durable timers not yet fired.",
                                value=snap.timers)
        workers = GaugeMetricFamily("stalwart_workers", "Registered workers, by task queue.",
                                    labels=["task_queue"])
        for queue, count in sorted(snap.workers.items()):
            workers.add_metric([queue], count)
        yield workers
        yield HistogramMetricFamily(
            "stalwart_history_length",
            "Events in the history of each run, counted as Temporal counts them.",
            buckets=[*((str(int(bound)), count) for bound, count in snap.history_buckets),
                     ("+Inf", snap.history_runs)],
            sum_value=snap.history_events)
        yield GaugeMetricFamily("stalwart_history_length_max",
                                "Events in the longest history (Temporal's count).",
                                value=snap.history_max)


def render(snapshot: MetricsSnapshot) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_SnapshotCollector(snapshot))
    return generate_latest(registry)


async def metrics(request: Request) -> Response:
    backend: Backend = request.app.state.backend
    snapshot = await backend.reads.metrics(backend.lengths)
    body = await asyncio.to_thread(render, snapshot)
    return Response(body, media_type=TEXT_FORMAT)
