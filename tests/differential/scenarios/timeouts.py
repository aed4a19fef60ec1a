"""Timeouts: an activity over its start-to-close timeout (one attempt), and a workflow over its
execution timeout."""

import asyncio
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client, WorkflowFailureError
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError


@activity.defn
async def slow() -> str:
    await asyncio.sleep(3)
    return "late"


@workflow.defn
class Impatient:
    @workflow.run
    async def run(self) -> str:
        try:
            return await workflow.execute_activity(
                slow, start_to_close_timeout=timedelta(milliseconds=300),
                retry_policy=RetryPolicy(maximum_attempts=1))
        except ActivityError as error:
            return f"{type(error.cause).__name__}"


@workflow.defn
class Sleeper:
    @workflow.run
    async def run(self) -> str:
        await workflow.sleep(timedelta(hours=1))
        return "woke"


WORKFLOWS = [Impatient, Sleeper]
ACTIVITIES = [slow]


async def run(client: Client, task_queue: str) -> object:
    impatient = await client.execute_workflow(Impatient.run, id=f"{task_queue}-impatient",
                                              task_queue=task_queue)
    try:
        await client.execute_workflow(Sleeper.run, id=f"{task_queue}-sleeper",
                                      task_queue=task_queue,
                                      execution_timeout=timedelta(seconds=1))
        sleeper = "completed"
    except WorkflowFailureError as error:
        sleeper = type(error.cause).__name__
    return {"impatient": impatient, "sleeper": sleeper}
