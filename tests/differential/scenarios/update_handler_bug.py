"""An update handler with a bug (raises a plain exception): the caller gets an RPC error
(FAILED_PRECONDITION) and the workflow is not stuck: later signals still reach it."""

from temporalio import workflow
from temporalio.client import Client, RPCError, WorkflowUpdateFailedError


@workflow.defn
class Buggy:
    def __init__(self) -> None:
        self.done = False

    @workflow.run
    async def run(self) -> int:
        await workflow.wait_condition(lambda: self.done)
        return 0

    @workflow.update
    def bad(self) -> None:
        raise ValueError("handler bug")

    @workflow.signal
    def finish(self) -> None:
        self.done = True


KNOWN_DIFFERENCES = {
    "events": "intended (docs/migrating-from-temporal.md, buggy update handlers): Temporal "
              "fails the workflow task, Stalwart records the update as failed",
    "replay": "the same difference: temporalio's replay of Stalwart's history runs into the "
              "handler's bug where Temporal's own history has a failed task"}

WORKFLOWS = [Buggy]
ACTIVITIES: list[object] = []


async def run(client: Client, task_queue: str) -> object:
    handle = await client.start_workflow(Buggy.run, id=f"{task_queue}-wf",
                                         task_queue=task_queue)
    observed: dict[str, object] = {}
    try:
        await handle.execute_update(Buggy.bad)
        observed["bad"] = "ok"
    except WorkflowUpdateFailedError as error:
        observed["bad"] = ["WorkflowUpdateFailedError", type(error.cause).__name__]
    except RPCError as error:
        observed["bad"] = ["RPCError", error.status.name]
    await handle.signal(Buggy.finish)
    observed["result"] = await handle.result()
    return observed
