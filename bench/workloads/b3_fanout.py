"""B3: one workflow that runs many activities in parallel with asyncio.gather."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from stalwart import activity, workflow
from stalwart.client import Client
from stalwart.worker import Worker

from .._common import ACTIVITY_TIMEOUT, Config, new_id, rounded

NAME = "B3_fanout"


@activity.defn(name="b3_echo")
async def echo(value: int) -> int:
    return value


@workflow.defn(name="B3Fanout")
class Fanout:
    @workflow.run
    async def run(self, width: int) -> int:
        results = await asyncio.gather(*(
            workflow.execute_activity(echo, i, start_to_close_timeout=ACTIVITY_TIMEOUT)
            for i in range(width)))
        return sum(results)


async def run(config: Config) -> dict[str, Any]:
    width = 50 if config.short else 500
    client = await Client.connect(config.db_url("b3"))
    queue = new_id("b3")
    try:
        async with Worker(client, task_queue=queue, workflows=[Fanout], activities=[echo]):
            started = time.perf_counter()
            result = await client.execute_workflow(Fanout.run, width, id=new_id("b3"),
                                                   task_queue=queue)
            wall = time.perf_counter() - started
    finally:
        await client.close()
    if result != width * (width - 1) // 2:
        raise RuntimeError(f"B3 workflow returned {result!r}")
    return {"activities": width, "wall_s": rounded(wall),
            "activities_per_s": round(width / wall, 1)}
