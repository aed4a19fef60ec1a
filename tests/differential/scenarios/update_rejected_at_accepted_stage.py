"""start_update(wait_for_stage=ACCEPTED) on an update its validator rejects returns a handle;
the rejection surfaces from the handle's result() as WorkflowUpdateFailedError."""

from temporalio import workflow
from temporalio.client import Client, WorkflowUpdateFailedError, WorkflowUpdateStage
from temporalio.exceptions import ApplicationError


@workflow.defn
class Guarded:
    def __init__(self) -> None:
        self.values: list[int] = []
        self.done = False

    @workflow.run
    async def run(self) -> list[int]:
        await workflow.wait_condition(lambda: self.done)
        return self.values

    @workflow.update
    def put(self, value: int) -> int:
        self.values.append(value)
        return len(self.values)

    @put.validator
    def check_put(self, value: int) -> None:
        if value < 0:
            raise ApplicationError(f"negative: {value}", type="Negative")

    @workflow.signal
    def finish(self) -> None:
        self.done = True


WORKFLOWS = [Guarded]
ACTIVITIES: list[object] = []


def _describe(error: BaseException) -> object:
    cause = error.__cause__
    return [type(error).__name__, type(cause).__name__, str(cause),
            getattr(cause, "type", None)]


async def run(client: Client, task_queue: str) -> object:
    handle = await client.start_workflow(Guarded.run, id=f"{task_queue}-wf",
                                         task_queue=task_queue)
    observed: dict[str, object] = {}
    rejected = await handle.start_update(Guarded.put, -1, id="bad",
                                         wait_for_stage=WorkflowUpdateStage.ACCEPTED)
    observed["handle_id"] = rejected.id
    try:
        await rejected.result()
        observed["rejected_result"] = "no error"
    except WorkflowUpdateFailedError as error:
        observed["rejected_result"] = _describe(error)
    try:
        await handle.execute_update(Guarded.put, -2)
        observed["execute"] = "no error"
    except WorkflowUpdateFailedError as error:
        observed["execute"] = _describe(error)
    accepted = await handle.start_update(Guarded.put, 5,
                                         wait_for_stage=WorkflowUpdateStage.ACCEPTED)
    observed["accepted_result"] = await accepted.result()
    await handle.signal(Guarded.finish)
    observed["result"] = await handle.result()
    return observed
