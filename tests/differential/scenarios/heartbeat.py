"""An activity that heartbeats progress, fails, and resumes from its last heartbeat."""

from datetime import timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.common import RetryPolicy


@activity.defn
async def count_to(n: int) -> dict[str, Any]:
    details = activity.info().heartbeat_details
    start = details[0] if details else 0
    for i in range(start, n):
        activity.heartbeat(i + 1)
        if i + 1 == 3 and activity.info().attempt == 1:
            raise RuntimeError("crashed at 3")
    return {"resumed_from": start, "attempt": activity.info().attempt}


@workflow.defn
class HeartbeatWorkflow:
    @workflow.run
    async def run(self, n: int) -> dict[str, Any]:
        result: dict[str, Any] = await workflow.execute_activity(
            count_to, n, start_to_close_timeout=timedelta(seconds=10),
            heartbeat_timeout=timedelta(seconds=5),
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=50)))
        return result


WORKFLOWS = [HeartbeatWorkflow]
ACTIVITIES = [count_to]


async def run(client: Client, task_queue: str) -> object:
    return await client.execute_workflow(HeartbeatWorkflow.run, 5, id=f"{task_queue}-hb",
                                         task_queue=task_queue)
