"""temporalio's MetricMeter API bridged onto Stalwart's Prometheus page: workflow metrics
count once (not again on replay), activity metrics carry the activity's labels."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from stalwart import activity, metrics, workflow
from stalwart.client import Client
from stalwart.common import MetricMeter
from stalwart.worker import Worker


@activity.defn
async def measured() -> None:
    activity.metric_meter().create_histogram_timedelta(
        "test_surface_activity_ms").record(timedelta(milliseconds=30))


@workflow.defn
class Measured:
    @workflow.run
    async def run(self) -> None:
        counter = workflow.metric_meter().create_counter("test_surface_workflow_steps",
                                                         "Steps of Measured.")
        counter.add(1)
        await workflow.execute_activity(measured, start_to_close_timeout=timedelta(seconds=10))
        counter.add(1, {"phase": "after"})


async def test_workflow_and_activity_metrics_reach_the_prometheus_page(
        client: Client, task_queue: str) -> None:
    # max_cached_workflows=1 with two workflows forces replays of the first.
    async with Worker(client, task_queue=task_queue, workflows=[Measured],
                      activities=[measured], max_cached_workflows=1):
        await asyncio.gather(*(client.execute_workflow(
            Measured.run, id=f"m-{i}", task_queue=task_queue) for i in range(2)))
    page = await metrics.render()
    steps = [line for line in page.splitlines()
             if line.startswith("test_surface_workflow_steps{") and task_queue in line]
    assert sorted(line.rsplit(" ", 1)[1] for line in steps) == ["2", "2"]
    assert any('phase="after"' in line for line in steps)
    assert "# TYPE test_surface_activity_ms histogram" in page
    assert any(line.startswith("test_surface_activity_ms_count{") and
               'activity_type="measured"' in line and task_queue in line
               for line in page.splitlines())


def test_meter_rules() -> None:
    meter = MetricMeter.default().with_additional_attributes({"unit": "test"})
    counter = meter.create_counter("test_surface_rules_total")
    with pytest.raises(ValueError, match="can only grow"):
        counter.add(-1)
    with pytest.raises(ValueError, match="already exists as a counter"):
        meter.create_gauge("test_surface_rules_total")
    MetricMeter.noop.create_counter("test_surface_noop_total").add(5)
    gauge = meter.create_gauge_float("test_surface_gauge")
    gauge.set(1.5)
    assert gauge.name == "test_surface_gauge"
