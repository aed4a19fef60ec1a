"""Local activities, one after the other, then an ordinary activity."""

from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client


@activity.defn
async def double(x: int) -> int:
    return x * 2


@activity.defn
async def describe(x: int) -> str:
    return f"value {x}"


@workflow.defn
class Locals:
    @workflow.run
    async def run(self, x: int) -> str:
        x = await workflow.execute_local_activity(double, x,
                                                  start_to_close_timeout=timedelta(seconds=5))
        x = await workflow.execute_local_activity(double, x,
                                                  start_to_close_timeout=timedelta(seconds=5))
        return await workflow.execute_activity(describe, x,
                                               start_to_close_timeout=timedelta(seconds=5))


WORKFLOWS = [Locals]
ACTIVITIES = [double, describe]


async def run(client: Client, task_queue: str) -> object:
    return await client.execute_workflow(Locals.run, 3, id=f"{task_queue}-locals",
                                         task_queue=task_queue)
