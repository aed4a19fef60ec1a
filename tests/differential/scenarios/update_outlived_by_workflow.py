"""Updates the workflow closes on: an accepted update whose handler is still waiting when the
workflow completes fails, with the failure Temporal gives it; its handle, asked afterwards,
says the same; a new update to the closed workflow is refused with an RPC error."""

from temporalio import workflow
from temporalio.client import Client, WorkflowUpdateFailedError, WorkflowUpdateStage
from temporalio.service import RPCError

from ._util import settle


@workflow.defn
class Batch:
    def __init__(self) -> None:
        self.done = False

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self.done)
        return "closed"

    @workflow.update
    async def wait_forever(self, tag: str) -> str:
        await workflow.wait_condition(lambda: False)
        return tag

    @workflow.signal
    def finish(self) -> None:
        self.done = True


WORKFLOWS = [Batch]
ACTIVITIES: list[object] = []


def _failure(error: BaseException) -> list[object]:
    cause = error.__cause__
    return [type(error).__name__, type(cause).__name__, str(cause),
            getattr(cause, "type", None), getattr(cause, "non_retryable", None)]


async def run(client: Client, task_queue: str) -> object:
    observed: dict[str, object] = {}
    handle = await client.start_workflow(Batch.run, id=f"{task_queue}-batch",
                                         task_queue=task_queue)
    await settle(handle)
    update = await handle.start_update(Batch.wait_forever, "a", id="pending",
                                       wait_for_stage=WorkflowUpdateStage.ACCEPTED)
    await settle(handle)
    await handle.signal(Batch.finish)
    observed["result"] = await handle.result()
    try:
        await update.result()
        observed["pending"] = "completed"
    except WorkflowUpdateFailedError as error:
        observed["pending"] = _failure(error)
    try:
        await handle.get_update_handle_for(Batch.wait_forever, "pending").result()
        observed["asked_again"] = "completed"
    except WorkflowUpdateFailedError as error:
        observed["asked_again"] = _failure(error)
    try:
        await handle.execute_update(Batch.wait_forever, "b", id="late")
        observed["late"] = "completed"
    except RPCError as error:
        # Temporal's text; Stalwart's goes on to say which run and why.
        observed["late"] = [error.status.name,
                            error.message.startswith("workflow execution already completed")]
    return observed
