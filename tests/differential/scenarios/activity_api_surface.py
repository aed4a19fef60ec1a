"""Inside activities: activity.client() reaches the worker's client, cancellation_details()
says why an activity was cancelled, is_worker_shutdown() is false while the worker runs."""

import asyncio
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.exceptions import ActivityError


@activity.defn
async def describe_own_workflow() -> str:
    handle = activity.client().get_workflow_handle(activity.info().workflow_id)
    description = await handle.describe()
    return description.status.name if description.status else "?"


@activity.defn
async def report_cancellation() -> list:
    try:
        while True:
            activity.heartbeat()
            await asyncio.sleep(0.05)
    except asyncio.CancelledError:
        details = activity.cancellation_details()
        return ["cancelled", details.cancel_requested if details else None,
                activity.is_worker_shutdown()]


@workflow.defn
class UsesActivityApi:
    @workflow.run
    async def run(self) -> list:
        status = await workflow.execute_activity(
            describe_own_workflow, start_to_close_timeout=timedelta(seconds=10))
        handle = workflow.start_activity(
            report_cancellation, start_to_close_timeout=timedelta(seconds=30),
            heartbeat_timeout=timedelta(seconds=5),
            cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED)
        await workflow.sleep(0.5)
        handle.cancel()
        try:
            return [status, await handle]
        except ActivityError as error:
            return [status, type(error.cause).__name__]


WORKFLOWS = [UsesActivityApi]
ACTIVITIES = [describe_own_workflow, report_cancellation]


async def run(client: Client, task_queue: str) -> object:
    return await client.execute_workflow(UsesActivityApi.run, id=f"{task_queue}-wf",
                                         task_queue=task_queue)
