"""B2: many workflows at once, each running a chain of sequential activities."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from stalwart import activity, workflow
from stalwart.client import Client
from stalwart.worker import Worker

from .._common import ACTIVITY_TIMEOUT, Config, new_id, rounded

NAME = "B2_throughput"


@activity.defn(name="b2_echo")
async def echo(value: int) -> int:
    return value


@workflow.defn(name="B2Chain")
class Chain:
    @workflow.run
    async def run(self, length: int) -> int:
        total = 0
        for i in range(length):
            total += await workflow.execute_activity(echo, i,
                                                     start_to_close_timeout=ACTIVITY_TIMEOUT)
        return total


async def run(config: Config) -> dict[str, Any]:
    workflows, length = (10, 5) if config.short else (100, 20)
    client = await Client.connect(config.db_url("b2"))
    queue = new_id("b2")
    try:
        async with Worker(client, task_queue=queue, workflows=[Chain], activities=[echo]):
            started = time.perf_counter()
            handles = await asyncio.gather(*(
                client.start_workflow(Chain.run, length, id=new_id("b2"), task_queue=queue)
                for _ in range(workflows)))
            results = await asyncio.gather(*(h.result() for h in handles))
            wall = time.perf_counter() - started
    finally:
        await client.close()
    expected = length * (length - 1) // 2
    if any(r != expected for r in results):
        raise RuntimeError(f"B2 workflows returned {set(results)}, expected {expected}")
    activities = workflows * length
    return {"workflows": workflows, "activities_per_workflow": length,
            "wall_s": rounded(wall), "activities_per_s": round(activities / wall, 1)}
