"""Terminating a waiting workflow: result() raises with a TerminatedError cause."""

from temporalio import workflow
from temporalio.client import Client, WorkflowFailureError

from ._util import wait_for_query


@workflow.defn
class Waiter:
    def __init__(self) -> None:
        self.ready = False

    @workflow.query
    def is_ready(self) -> bool:
        return self.ready

    @workflow.run
    async def run(self) -> str:
        self.ready = True
        await workflow.wait_condition(lambda: False)
        return "never"


WORKFLOWS = [Waiter]
ACTIVITIES: list[object] = []


async def run(client: Client, task_queue: str) -> object:
    handle = await client.start_workflow(Waiter.run, id=f"{task_queue}-waiter",
                                         task_queue=task_queue)
    await wait_for_query(handle, "is_ready", True)
    await handle.terminate("operator said stop")
    try:
        await handle.result()
        return "completed"
    except WorkflowFailureError as error:
        return {"cause": type(error.cause).__name__}
