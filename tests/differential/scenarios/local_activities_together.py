"""Local activities in flight at once: three started together and gathered, then one that
fails its first attempt and is retried locally while an ordinary activity runs beside it."""

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.common import RetryPolicy

TIMEOUT = timedelta(seconds=5)


@activity.defn
async def square(x: int) -> int:
    return x * x


@activity.defn
async def flaky_double(x: int) -> int:
    if activity.info().attempt < 2:
        raise RuntimeError("first attempt fails")
    return x * 2


@activity.defn
async def describe(x: int) -> str:
    return f"value {x}"


@workflow.defn
class LocalsTogether:
    @workflow.run
    async def run(self, x: int) -> dict[str, Any]:
        squares = await asyncio.gather(*(
            workflow.execute_local_activity(square, x + i, start_to_close_timeout=TIMEOUT)
            for i in range(3)))
        doubled, described = await asyncio.gather(
            workflow.execute_local_activity(
                flaky_double, sum(squares), start_to_close_timeout=TIMEOUT,
                retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=50))),
            workflow.execute_activity(describe, x, start_to_close_timeout=TIMEOUT))
        return {"squares": list(squares), "doubled": doubled, "described": described}


KNOWN_DIFFERENCES = {
    "events:<tq>-locals-together#0": "Temporal keeps the workflow task open while its local "
    "activities run, so the retried one's marker lands in that task, before the ordinary "
    "activity starts; Stalwart runs local activities after the task commits and records the "
    "marker in the task that follows its completion (docs/migrating-from-temporal.md)",
}

WORKFLOWS = [LocalsTogether]
ACTIVITIES = [square, flaky_double, describe]


async def run(client: Client, task_queue: str) -> object:
    return await client.execute_workflow(LocalsTogether.run, 3,
                                         id=f"{task_queue}-locals-together",
                                         task_queue=task_queue)
