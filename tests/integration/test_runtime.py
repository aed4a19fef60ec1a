"""stalwart.runtime: where a client's and its workers' metrics go (real HTTP, real OTel SDK)."""

from __future__ import annotations

import socket
from datetime import timedelta

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from stalwart import _telemetry, activity, workflow
from stalwart._engine.metrics import METRICS
from stalwart.client import Client
from stalwart.contrib.opentelemetry import MetricsExporter
from stalwart.runtime import (
    BUFFERED_METRIC_KIND_COUNTER,
    BUFFERED_METRIC_KIND_HISTOGRAM,
    MetricBuffer,
    MetricBufferDurationFormat,
    PrometheusConfig,
    Runtime,
    TelemetryConfig,
)
from stalwart.worker import Worker
from tests.integration.test_metrics import sample, scrape


@activity.defn
async def runtime_step(name: str) -> str:
    activity.metric_meter().create_counter("runtime_step_calls").add(1)
    return f"hello {name}"


@workflow.defn
class RuntimeWorkflow:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(runtime_step, name,
                                               start_to_close_timeout=timedelta(seconds=10))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_prometheus_config_serves_the_metrics_on_its_bind_address(
        db_url: str, task_queue: str) -> None:
    port = free_port()
    runtime = Runtime(telemetry=TelemetryConfig(
        metrics=PrometheusConfig(bind_address=f"127.0.0.1:{port}")))
    try:
        await prometheus_run(runtime, port, db_url, task_queue)
    finally:
        await _telemetry.close_servers()


async def prometheus_run(runtime: Runtime, port: int, db_url: str, task_queue: str) -> None:
    client = await Client.connect(db_url, runtime=runtime)
    async with Worker(client, task_queue=task_queue, workflows=[RuntimeWorkflow],
                      activities=[runtime_step]):
        assert await client.execute_workflow(RuntimeWorkflow.run, "ada", id=f"p-{task_queue}",
                                             task_queue=task_queue) == "hello ada"
    body = await scrape(port)
    assert sample(body, "stalwart_workflows_started_total",
                  workflow_type="RuntimeWorkflow") >= 1
    assert sample(body, "stalwart_workflows_closed_total", workflow_type="RuntimeWorkflow",
                  status="completed") >= 1
    assert sample(body, "stalwart_activity_executions_total", activity_type="runtime_step",
                  outcome="completed") >= 1
    await client.close()
    # A second client naming the same address shares the one server.
    second = await Client.connect(db_url, runtime=runtime)
    assert "stalwart_workflows_started_total" in await scrape(port)
    await second.close()


async def test_metric_buffer_collects_a_run_and_the_exporter_sends_it_to_otel(
        db_url: str, task_queue: str) -> None:
    buffer = MetricBuffer(100_000, MetricBufferDurationFormat.SECONDS)
    runtime = Runtime(telemetry=TelemetryConfig(metrics=buffer, global_tags={"app": "demo"}))
    client = await Client.connect(db_url, runtime=runtime)
    reader = InMemoryMetricReader()
    async with (MetricsExporter(buffer, MeterProvider(metric_readers=[reader]),
                                poll_interval=timedelta(milliseconds=50)),
                Worker(client, task_queue=task_queue, workflows=[RuntimeWorkflow],
                       activities=[runtime_step])):
        await client.execute_workflow(RuntimeWorkflow.run, "bo", id=f"b-{task_queue}",
                                      task_queue=task_queue)
    await client.close()
    # Leaving the exporter drains what is left, so everything recorded is exported.
    assert buffer.retrieve_updates() == []
    data = reader.get_metrics_data()
    assert data is not None
    exported = {m.name: m for rm in data.resource_metrics for sm in rm.scope_metrics
                for m in sm.metrics}
    for name in ("stalwart_workflows_started", "stalwart_workflows_closed",
                 "stalwart_activity_executions", "runtime_step_calls"):
        assert name in exported, (name, sorted(exported))
    execution = exported["stalwart_activity_execution"]
    assert execution.unit == "s"
    points = list(execution.data.data_points)
    assert any(dict(p.attributes or {}) == {"app": "demo", "activity_type": "runtime_step"}
               for p in points), points
    started = exported["stalwart_workflows_started"].data.data_points
    assert sum(p.value for p in started  # type: ignore[attr-defined]
               if (p.attributes or {}).get("workflow_type") == "RuntimeWorkflow") >= 1


async def test_metric_buffer_updates_have_stable_metric_objects(
        db_url: str, task_queue: str) -> None:
    buffer = MetricBuffer(100_000)
    runtime = Runtime(telemetry=TelemetryConfig(metrics=buffer))
    client = await Client.connect(db_url, runtime=runtime)
    async with Worker(client, task_queue=task_queue, workflows=[RuntimeWorkflow],
                      activities=[runtime_step]):
        for i in range(2):
            await client.execute_workflow(RuntimeWorkflow.run, "c", id=f"s{i}-{task_queue}",
                                          task_queue=task_queue)
    await client.close()
    updates = buffer.retrieve_updates()
    started = [u for u in updates if u.metric.name == "stalwart_workflows_started"
               and u.attributes.get("workflow_type") == "RuntimeWorkflow"]
    assert len(started) == 2 and started[0].metric is started[1].metric
    assert started[0].metric.kind == BUFFERED_METRIC_KIND_COUNTER and started[0].value == 1
    assert started[0].attributes is started[1].attributes
    durations = [u for u in updates if u.metric.name == "stalwart_activity_execution"]
    assert durations and durations[0].metric.kind == BUFFERED_METRIC_KIND_HISTOGRAM
    assert durations[0].metric.unit == "ms" and isinstance(durations[0].value, int)
    runtime.metric_meter.create_counter("direct").add(3)
    assert [(u.metric.name, u.value) for u in buffer.retrieve_updates()] == [("direct", 3)]
    assert buffer.retrieve_updates() == []


def test_bad_runtime_settings_are_refused_with_the_fix() -> None:
    with pytest.raises(ValueError, match=r"bind_address='9000'.*host:port"):
        Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address="9000")))
    with pytest.raises(RuntimeError, match="before runtime created"):
        MetricBuffer(10).retrieve_updates()
    assert isinstance(Runtime.default(), Runtime) and Runtime.default() is Runtime.default()


def test_a_full_buffer_drops_updates_until_drained_and_says_so(
        caplog: pytest.LogCaptureFixture) -> None:
    buffer = MetricBuffer(2)
    runtime = Runtime(telemetry=TelemetryConfig(metrics=buffer, metric_prefix="app_"))
    counter = runtime.metric_meter.create_counter("drops")
    for _ in range(3):
        counter.add(1)
    assert [u.value for u in buffer.retrieve_updates()] == [1, 1]
    assert "metric buffer full (2 updates)" in caplog.text
    METRICS.workflows_started.inc("PrefixedWorkflow")
    names = [u.metric.name for u in buffer.retrieve_updates()]
    assert names == ["app_workflows_started"]
