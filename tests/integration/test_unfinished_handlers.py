"""A run that closes while update or signal handlers still run warns as temporalio does,
unless the handler's unfinished_policy is ABANDON."""

from __future__ import annotations

import asyncio
import warnings

from stalwart import workflow
from stalwart.client import Client, WorkflowUpdateStage
from stalwart.worker import Worker


@workflow.defn
class LeavesHandlers:
    def __init__(self) -> None:
        self.started = 0

    @workflow.run
    async def run(self) -> int:
        await workflow.wait_condition(lambda: self.started == 2)
        return self.started

    @workflow.update
    async def warned(self) -> None:
        self.started += 1
        await asyncio.Event().wait()

    @workflow.update(unfinished_policy=workflow.HandlerUnfinishedPolicy.ABANDON)
    async def abandoned(self) -> None:
        self.started += 1
        await asyncio.Event().wait()


async def test_unfinished_update_handler_warns_unless_abandoned(client: Client,
                                                                task_queue: str) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with Worker(client, task_queue=task_queue, workflows=[LeavesHandlers]):
            handle = await client.start_workflow(LeavesHandlers.run, id="wf",
                                                 task_queue=task_queue)
            await handle.start_update(LeavesHandlers.warned, id="w-1",
                                      wait_for_stage=WorkflowUpdateStage.ACCEPTED)
            await handle.start_update(LeavesHandlers.abandoned, id="a-1",
                                      wait_for_stage=WorkflowUpdateStage.ACCEPTED)
            assert await asyncio.wait_for(handle.result(), 30) == 2
    unfinished = [w for w in caught
                  if issubclass(w.category, workflow.UnfinishedUpdateHandlersWarning)]
    assert len(unfinished) == 1
    message = str(unfinished[0].message)
    assert "'warned' (id w-1)" in message and "abandoned" not in message
