"""Updates with a validator: one accepted, one rejected (no history), then the run ends."""

from temporalio import workflow
from temporalio.client import Client, WorkflowUpdateFailedError

from ._util import wait_for_query


@workflow.defn
class Limits:
    def __init__(self) -> None:
        self.limit = 0
        self.done = False

    @workflow.update
    def set_limit(self, limit: int) -> int:
        previous, self.limit = self.limit, limit
        return previous

    @set_limit.validator
    def check_limit(self, limit: int) -> None:
        if limit < 0:
            raise ValueError("limit must not be negative")

    @workflow.update
    async def finish(self) -> str:
        self.done = True
        return "finishing"

    @workflow.query
    def current(self) -> int:
        return self.limit

    @workflow.run
    async def run(self) -> int:
        await workflow.wait_condition(lambda: self.done)
        return self.limit


WORKFLOWS = [Limits]
ACTIVITIES: list[object] = []


async def run(client: Client, task_queue: str) -> object:
    handle = await client.start_workflow(Limits.run, id=f"{task_queue}-limits",
                                         task_queue=task_queue)
    await wait_for_query(handle, "current", 0)
    previous = await handle.execute_update(Limits.set_limit, 7)
    try:
        await handle.execute_update(Limits.set_limit, -1)
        rejected = "accepted"
    except WorkflowUpdateFailedError as error:
        rejected = f"{type(error.cause).__name__}: {getattr(error.cause, 'message', '')}"
    finishing = await handle.execute_update(Limits.finish)
    return {"previous": previous, "rejected": rejected, "finishing": finishing,
            "result": await handle.result()}
