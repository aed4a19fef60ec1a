"""Prometheus metrics over real HTTP from a worker process's registry."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

from stalwart import activity, metrics, workflow
from stalwart.client import Client
from stalwart.common import RetryPolicy
from stalwart.exceptions import ActivityError, ApplicationError, ApplicationErrorCategory
from stalwart.worker import Worker

ATTEMPTS: dict[str, int] = {}


@activity.defn
async def flaky_metric_step(key: str) -> str:
    ATTEMPTS[key] = ATTEMPTS.get(key, 0) + 1
    if ATTEMPTS[key] == 1:
        raise RuntimeError("first attempt fails")
    return key


@activity.defn
async def benign_metric_step() -> None:
    raise ApplicationError("nothing to do", non_retryable=True,
                           category=ApplicationErrorCategory.BENIGN)


@workflow.defn
class MeteredWorkflow:
    @workflow.run
    async def run(self, key: str) -> str:
        fast = RetryPolicy(initial_interval=timedelta(milliseconds=10))
        try:
            await workflow.execute_activity(benign_metric_step,
                                            start_to_close_timeout=timedelta(seconds=5))
        except ActivityError:
            pass
        return await workflow.execute_activity(flaky_metric_step, key, retry_policy=fast,
                                               start_to_close_timeout=timedelta(seconds=5))


async def scrape(port: int) -> str:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")
    await writer.drain()
    response = (await reader.read()).decode()
    writer.close()
    head, _, body = response.partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 200"), head
    return body


def sample(body: str, name: str, **labels: str) -> float:
    for line in body.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_metrics_endpoint_reports_workflows_activities_and_latency(
        client: Client, task_queue: str) -> None:
    server = await metrics.start_http_server(0)
    try:
        before = await scrape(server.port)
        started_before = sample(before, "stalwart_workflows_started_total",
                                workflow_type="MeteredWorkflow")
        async with Worker(client, task_queue=task_queue, workflows=[MeteredWorkflow],
                          activities=[flaky_metric_step, benign_metric_step]):
            key = f"k-{task_queue}"
            assert await client.execute_workflow(MeteredWorkflow.run, key, id=key,
                                                 task_queue=task_queue) == key
            during = await scrape(server.port)
        body = await scrape(server.port)
    finally:
        await server.close()
    assert sample(body, "stalwart_workflows_started_total",
                  workflow_type="MeteredWorkflow") == started_before + 1
    assert sample(body, "stalwart_workflows_closed_total", workflow_type="MeteredWorkflow",
                  status="completed") >= 1
    assert sample(body, "stalwart_activity_executions_total",
                  activity_type="flaky_metric_step", outcome="retry") >= 1
    assert sample(body, "stalwart_activity_executions_total",
                  activity_type="flaky_metric_step", outcome="completed") >= 1
    assert sample(body, "stalwart_activity_executions_total",
                  activity_type="benign_metric_step", outcome="benign") >= 1
    assert sample(body, "stalwart_activity_executions_total",
                  activity_type="benign_metric_step", outcome="failed") == 0
    assert sample(body, "stalwart_activity_execution_seconds_count",
                  activity_type="flaky_metric_step") >= 2
    assert sample(body, "stalwart_activity_schedule_to_start_seconds_count",
                  activity_type="flaky_metric_step") >= 2
    assert re.search(r'stalwart_workflow_cache_size\{task_queue="' + task_queue, during)
    assert "stalwart_workflow_task_seconds_bucket" in body


async def test_metrics_endpoint_answers_404_elsewhere() -> None:
    server = await metrics.start_http_server(0)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET / HTTP/1.1\r\n\r\n")
        await writer.drain()
        response = (await reader.read()).decode()
        writer.close()
    finally:
        await server.close()
    assert response.startswith("HTTP/1.1 404")
