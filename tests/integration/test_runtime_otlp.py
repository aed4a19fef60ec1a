"""runtime.OpenTelemetryConfig: a run's metrics reach a collector over real OTLP (HTTP and gRPC).

The collectors are local servers decoding the real protocol messages; everything between the
workflow and the socket is the product's and the OpenTelemetry SDK's own exporters.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent import futures
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
import pytest
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.metrics.v1 import metrics_pb2

from stalwart.client import Client
from stalwart.runtime import (
    OpenTelemetryConfig,
    OpenTelemetryMetricTemporality,
    Runtime,
    TelemetryConfig,
)
from stalwart.worker import Worker
from tests.integration.test_runtime import RuntimeWorkflow, free_port, runtime_step

Request = metrics_service_pb2.ExportMetricsServiceRequest


class Received:
    """What a collector was sent: each request and its headers."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: list[tuple[dict[str, str], Request]] = []

    def add(self, headers: dict[str, str], request: Request) -> None:
        with self.lock:
            self.requests.append((headers, request))

    def metrics(self) -> dict[str, list[metrics_pb2.Metric]]:
        found: dict[str, list[metrics_pb2.Metric]] = {}
        with self.lock:
            for _, request in self.requests:
                for resource in request.resource_metrics:
                    for scope in resource.scope_metrics:
                        for metric in scope.metrics:
                            found.setdefault(metric.name, []).append(metric)
        return found


@pytest.fixture
def http_collector() -> Iterator[tuple[str, Received]]:
    received = Received()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            request = Request()
            request.ParseFromString(body)
            received.add({k.lower(): v for k, v in self.headers.items()}, request)
            reply = metrics_service_pb2.ExportMetricsServiceResponse().SerializeToString()
            self.send_response(200 if self.path == "/v1/metrics" else 404)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1/metrics", received
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def grpc_collector() -> Iterator[tuple[str, Received]]:
    received = Received()

    class Service(metrics_service_pb2_grpc.MetricsServiceServicer):
        def Export(self, request: Request, context: grpc.ServicerContext
                   ) -> metrics_service_pb2.ExportMetricsServiceResponse:
            received.add({k: str(v) for k, v in context.invocation_metadata()}, request)
            return metrics_service_pb2.ExportMetricsServiceResponse()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(Service(), server)
    port = free_port()
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    try:
        yield f"http://127.0.0.1:{port}", received
    finally:
        server.stop(grace=None)


async def run_one_workflow(runtime: Runtime, db_url: str, task_queue: str) -> None:
    client = await Client.connect(db_url, runtime=runtime)
    async with Worker(client, task_queue=task_queue, workflows=[RuntimeWorkflow],
                      activities=[runtime_step]):
        assert await client.execute_workflow(RuntimeWorkflow.run, "ada", id=f"o-{task_queue}",
                                             task_queue=task_queue) == "hello ada"
    await client.close()


def workflow_points(metric: metrics_pb2.Metric) -> list[Any]:
    return [p for p in metric.sum.data_points
            if any(a.key == "workflow_type" and a.value.string_value == "RuntimeWorkflow"
                   for a in p.attributes)]


async def test_http_export_carries_the_run_with_the_configured_options(
        db_url: str, task_queue: str, http_collector: tuple[str, Received]) -> None:
    url, received = http_collector
    runtime = Runtime(telemetry=TelemetryConfig(
        metrics=OpenTelemetryConfig(
            url=url, http=True, headers={"x-collector-token": "s3cret"},
            metric_periodicity=timedelta(milliseconds=100),
            metric_temporality=OpenTelemetryMetricTemporality.DELTA,
            durations_as_seconds=True,
            histogram_bucket_overrides={"stalwart_activity_execution": [0.5, 2.0]}),
        global_tags={"app": "demo"}))
    await run_one_workflow(runtime, db_url, task_queue)
    # Closing exports everything recorded so far, so what follows does not wait on a period.
    runtime._otlp.close()
    metrics = received.metrics()
    assert all(headers.get("x-collector-token") == "s3cret" for headers, _ in received.requests)
    for name in ("stalwart_workflows_started", "stalwart_workflows_closed",
                 "stalwart_activity_executions", "runtime_step_calls"):
        assert name in metrics, (name, sorted(metrics))
    started = [p for m in metrics["stalwart_workflows_started"] for p in workflow_points(m)]
    assert sum(p.as_int for p in started) == 1
    assert {m.sum.aggregation_temporality for m in metrics["stalwart_workflows_started"]} == {
        metrics_pb2.AGGREGATION_TEMPORALITY_DELTA}
    execution = metrics["stalwart_activity_execution"]
    assert {m.unit for m in execution} == {"s"}
    points = [p for m in execution for p in m.histogram.data_points]
    assert points and all(list(p.explicit_bounds) == [0.5, 2.0] for p in points)
    assert all({a.key: a.value.string_value for a in p.attributes}["app"] == "demo"
               for p in points)


async def test_grpc_export_is_the_default_and_cumulative(
        db_url: str, task_queue: str, grpc_collector: tuple[str, Received]) -> None:
    url, received = grpc_collector
    runtime = Runtime(telemetry=TelemetryConfig(metrics=OpenTelemetryConfig(
        url=url, headers={"x-tenant": "blue"})))
    await run_one_workflow(runtime, db_url, task_queue)
    runtime._otlp.close()
    metrics = received.metrics()
    assert received.requests and all(h.get("x-tenant") == "blue" for h, _ in received.requests)
    closed = metrics["stalwart_workflows_closed"]
    assert {m.sum.aggregation_temporality for m in closed} == {
        metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE}
    assert max(p.as_int for m in closed for p in workflow_points(m)) == 1
    # Durations default to integer milliseconds, as Core's do.
    assert {m.unit for m in metrics["stalwart_activity_execution"]} == {"ms"}


def test_a_bad_period_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match=r"metric_periodicity=.*must be positive"):
        Runtime(telemetry=TelemetryConfig(metrics=OpenTelemetryConfig(
            url="http://127.0.0.1:1/v1/metrics", http=True,
            metric_periodicity=timedelta(0))))
