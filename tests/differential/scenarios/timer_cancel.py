"""A timer cancelled before it fires: a sleep task the workflow cancels on a signal."""

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.client import Client

from ._util import wait_for_query


@workflow.defn
class Alarm:
    def __init__(self) -> None:
        self.dismissed = False
        self.armed = False

    @workflow.signal
    def dismiss(self) -> None:
        self.dismissed = True

    @workflow.query
    def is_armed(self) -> bool:
        return self.armed

    @workflow.run
    async def run(self) -> str:
        ring = asyncio.ensure_future(workflow.sleep(timedelta(hours=1)))
        self.armed = True
        await workflow.wait_condition(lambda: self.dismissed)
        ring.cancel()
        try:
            await ring
            return "rang"
        except asyncio.CancelledError:
            return "dismissed"


WORKFLOWS = [Alarm]
ACTIVITIES: list[object] = []


async def run(client: Client, task_queue: str) -> object:
    handle = await client.start_workflow(Alarm.run, id=f"{task_queue}-alarm",
                                         task_queue=task_queue)
    await wait_for_query(handle, "is_armed", True)
    await handle.signal(Alarm.dismiss)
    return await handle.result()
