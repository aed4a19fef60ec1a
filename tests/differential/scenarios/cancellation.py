"""Cancelling a workflow that waits on an activity: the activity is cancelled, the workflow
cleans up in an activity of its own and ends cancelled."""

import asyncio
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ActivityError

from ._util import wait_for_query

# Set by the activity once it runs (the worker runs in run()'s process and event loop), so
# run() cancels an activity that has started, on both servers.
activity_running = asyncio.Event()


@activity.defn
async def wait_forever() -> str:
    activity_running.set()
    while True:
        activity.heartbeat()
        await asyncio.sleep(0.05)


@activity.defn
async def clean_up(what: str) -> str:
    return f"cleaned {what}"


@workflow.defn
class Cancellable:
    def __init__(self) -> None:
        self.stage = "starting"

    @workflow.query
    def where(self) -> str:
        return self.stage

    @workflow.run
    async def run(self) -> str:
        try:
            self.stage = "waiting"
            return await workflow.execute_activity(
                wait_forever, start_to_close_timeout=timedelta(seconds=30),
                heartbeat_timeout=timedelta(seconds=2))
        except ActivityError:  # cause CancelledError: the activity was cancelled with the run
            self.stage = "cleaning"
            await workflow.execute_activity(clean_up, "room",
                                            start_to_close_timeout=timedelta(seconds=10))
            raise


WORKFLOWS = [Cancellable]
ACTIVITIES = [wait_forever, clean_up]


async def run(client: Client, task_queue: str) -> object:
    handle = await client.start_workflow(Cancellable.run, id=f"{task_queue}-cancel",
                                         task_queue=task_queue)
    await wait_for_query(handle, "where", "waiting")
    await asyncio.wait_for(activity_running.wait(), 30)
    await handle.cancel()
    try:
        await handle.result()
        return "completed"
    except WorkflowFailureError as error:
        return f"{type(error.cause).__name__}"
