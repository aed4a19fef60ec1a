"""Activities completed from outside their worker by workflow id plus activity id
(AsyncActivityIDReference): heartbeated, then completed or failed."""

import asyncio
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.exceptions import ActivityError, ApplicationError


@activity.defn
async def waits_for_someone(label: str) -> str:
    activity.raise_complete_async()


@workflow.defn
class AwaitsHumans:
    @workflow.run
    async def run(self) -> list:
        outcomes = []
        for label in ("by-token", "by-id", "fails"):
            try:
                outcomes.append(await workflow.execute_activity(
                    waits_for_someone, label, activity_id=label,
                    start_to_close_timeout=timedelta(seconds=30)))
            except ActivityError as error:
                cause = error.cause
                outcomes.append([type(cause).__name__, getattr(cause, "message", None),
                                 getattr(cause, "non_retryable", None)])
        return outcomes


WORKFLOWS = [AwaitsHumans]
ACTIVITIES = [waits_for_someone]


async def _when_pending(handle: object) -> None:
    """Poll until the activity is running (a heartbeat is accepted)."""
    while True:
        try:
            await handle.heartbeat("still thinking")  # type: ignore[attr-defined]
            return
        except Exception:
            await asyncio.sleep(0.05)


async def run(client: Client, task_queue: str) -> object:
    workflow_id = f"{task_queue}-wf"
    handle = await client.start_workflow(AwaitsHumans.run, id=workflow_id,
                                         task_queue=task_queue)
    for activity_id, finish in (("by-token", "complete"), ("by-id", "complete"),
                                ("fails", "fail")):
        external = client.get_async_activity_handle(workflow_id=workflow_id, run_id=None,
                                                    activity_id=activity_id)
        await _when_pending(external)
        if finish == "complete":
            await external.complete(f"{activity_id} done")
        else:
            await external.fail(ApplicationError("the human said no", non_retryable=True))
    return await handle.result()
