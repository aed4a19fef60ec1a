"""A child that lets its cancellation end it (ChildWorkflowExecutionCanceled in the parent)
and a child terminated from the client (ChildWorkflowExecutionTerminated): the errors the
parent sees and the events both runs record."""

import asyncio

from temporalio import workflow
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ChildWorkflowError

from ._util import settle


@workflow.defn
class Idle:
    @workflow.run
    async def run(self) -> str:
        await asyncio.Event().wait()  # a cancel ends the run as canceled
        return "unreachable"


@workflow.defn
class Guardian:
    def __init__(self) -> None:
        self.go = False

    @workflow.run
    async def run(self, cancel_it: bool) -> list[str | int | None]:
        child = await workflow.start_child_workflow(
            Idle.run, id=f"{workflow.info().workflow_id}-child")
        if cancel_it:
            await workflow.wait_condition(lambda: self.go)
            child.cancel()
        try:
            await child
            return ["completed", None]
        except ChildWorkflowError as error:
            return [type(error.cause).__name__, str(error.cause),
                    error.retry_state.name if error.retry_state else None,
                    error.initiated_event_id, error.started_event_id]

    @workflow.signal
    def proceed(self) -> None:
        self.go = True


WORKFLOWS = [Guardian, Idle]
ACTIVITIES: list[object] = []


async def run(client: Client, task_queue: str) -> object:
    observed: dict[str, object] = {}
    for case in ("cancel", "terminate"):
        parent = await client.start_workflow(Guardian.run, case == "cancel",
                                             id=f"{task_queue}-{case}", task_queue=task_queue)
        child = client.get_workflow_handle(f"{task_queue}-{case}-child")
        # The child's first task and the parent's task that saw it start, both done, before
        # anything else happens: see _util.settle.
        for _ in range(400):
            try:
                await child.describe()
                break
            except Exception:
                await asyncio.sleep(0.02)
        await settle(child)
        await settle(parent)
        if case == "cancel":
            await parent.signal(Guardian.proceed)
        else:
            await child.terminate("from the client")
        observed[case] = await parent.result()
        try:
            await child.result()
            observed[f"{case}_child"] = "completed"
        except WorkflowFailureError as error:
            observed[f"{case}_child"] = type(error.cause).__name__
    return observed
