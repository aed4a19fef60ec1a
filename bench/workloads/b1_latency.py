"""B1: end-to-end latency of a one-activity workflow, executed sequentially."""

from __future__ import annotations

import time
from typing import Any

from stalwart import activity, workflow
from stalwart.client import Client
from stalwart.worker import Worker

from .._common import ACTIVITY_TIMEOUT, Config, ms, new_id, percentile

NAME = "B1_latency"


@activity.defn(name="b1_echo")
async def echo(value: str) -> str:
    return value


@workflow.defn(name="B1OneActivity")
class OneActivity:
    @workflow.run
    async def run(self, value: str) -> str:
        result: str = await workflow.execute_activity(echo, value,
                                                      start_to_close_timeout=ACTIVITY_TIMEOUT)
        return result


async def run(config: Config) -> dict[str, Any]:
    warmup, runs = (5, 30) if config.short else (20, 200)
    client = await Client.connect(config.db_url("b1"))
    queue = new_id("b1")
    latencies: list[float] = []
    try:
        async with Worker(client, task_queue=queue, workflows=[OneActivity],
                          activities=[echo]):
            for i in range(warmup + runs):
                started = time.perf_counter()
                result = await client.execute_workflow(OneActivity.run, "x", id=new_id("b1"),
                                                       task_queue=queue)
                elapsed = time.perf_counter() - started
                if result != "x":
                    raise RuntimeError(f"B1 workflow returned {result!r}")
                if i >= warmup:
                    latencies.append(elapsed)
    finally:
        await client.close()
    return {"runs": runs, "warmup": warmup, "p50_ms": ms(percentile(latencies, 50)),
            "p99_ms": ms(percentile(latencies, 99)), "mean_ms": ms(sum(latencies) / runs)}
