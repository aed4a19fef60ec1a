"""asyncio.wait_for around execute_activity that times out: the activity is cancelled
(TRY_CANCEL) and the wait raises ActivityError caused by CancelledError, not TimeoutError."""

import asyncio
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.exceptions import ActivityError


@activity.defn
async def slow() -> str:
    try:
        await asyncio.sleep(30)
    except asyncio.CancelledError:
        return "cancelled"
    return "done"


@workflow.defn
class WaitsWithTimeout:
    @workflow.run
    async def run(self) -> list[str]:
        try:
            return ["ok", await asyncio.wait_for(workflow.execute_activity(
                slow, start_to_close_timeout=timedelta(seconds=60),
                heartbeat_timeout=timedelta(seconds=1)), 1)]
        except TimeoutError as error:
            return ["TimeoutError", type(error.__cause__).__name__]
        except ActivityError as error:
            return ["ActivityError", type(error.__cause__).__name__]


WORKFLOWS = [WaitsWithTimeout]
ACTIVITIES = [slow]


async def run(client: Client, task_queue: str) -> object:
    return await client.execute_workflow(WaitsWithTimeout.run, id=f"{task_queue}-wf",
                                         task_queue=task_queue)
