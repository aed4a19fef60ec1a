"""Cancelling an activity with TRY_CANCEL, ABANDON or WAIT_CANCELLATION_COMPLETED: awaiting the
handle (directly, or through a task that awaited it) raises ActivityError caused by
CancelledError, for every cancellation type."""

import asyncio
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.exceptions import ActivityError


@activity.defn
async def wait_for_cancel() -> str:
    while True:
        try:
            await asyncio.sleep(0.05)
            activity.heartbeat()
        except asyncio.CancelledError:
            return "saw cancel"


@workflow.defn
class CancelsActivities:
    @workflow.run
    async def run(self, cancellation_type: int, through_task: bool) -> list:
        handle = workflow.start_activity(
            wait_for_cancel, start_to_close_timeout=timedelta(seconds=30),
            heartbeat_timeout=timedelta(seconds=5),
            cancellation_type=workflow.ActivityCancellationType(cancellation_type))
        await workflow.sleep(0.5)
        awaited: object = handle
        if through_task:
            async def waiter() -> str:
                return await handle
            awaited = asyncio.ensure_future(waiter())
            await asyncio.sleep(0)
        awaited.cancel()  # type: ignore[attr-defined]
        try:
            return ["result", await awaited]  # type: ignore[misc]
        except ActivityError as error:
            cause = error.__cause__
            return ["ActivityError", error.message, type(cause).__name__,
                    getattr(cause, "message", None),
                    error.retry_state.name if error.retry_state else None,
                    error.activity_type]
        except asyncio.CancelledError:
            return ["asyncio.CancelledError"]


WORKFLOWS = [CancelsActivities]
ACTIVITIES = [wait_for_cancel]


async def run(client: object, task_queue: str) -> object:
    observed = {}
    for cancellation_type in (0, 1, 2):
        for through_task in (False, True):
            observed[f"{cancellation_type}-{through_task}"] = await client.execute_workflow(  # type: ignore[attr-defined]
                CancelsActivities.run, args=[cancellation_type, through_task],
                id=f"{task_queue}-{cancellation_type}-{through_task}", task_queue=task_queue)
    return observed
