"""asyncio.wait_for around a slow activity: the timeout cancels the activity; what the
workflow sees, and what it records."""

import asyncio
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client


@activity.defn
async def dawdle() -> str:
    for _ in range(100):
        activity.heartbeat()
        await asyncio.sleep(0.05)
    return "done"


@workflow.defn
class Hurried:
    @workflow.run
    async def run(self) -> str:
        try:
            return await asyncio.wait_for(workflow.execute_activity(
                dawdle, start_to_close_timeout=timedelta(seconds=30),
                heartbeat_timeout=timedelta(seconds=2)), timeout=1)
        except BaseException as error:  # what the await raises is what this compares
            cause = getattr(error, "cause", None)
            return f"{type(error).__name__}({type(cause).__name__ if cause else ''})"


WORKFLOWS = [Hurried]
ACTIVITIES = [dawdle]


async def run(client: Client, task_queue: str) -> object:
    return await client.execute_workflow(Hurried.run, id=f"{task_queue}-hurried",
                                         task_queue=task_queue)
