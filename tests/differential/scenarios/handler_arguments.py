"""Arguments that do not fit a handler: updates with a missing, an extra or a mistyped
argument, and a signal whose argument cannot be converted (the workflow carries on)."""

from temporalio import workflow
from temporalio.client import Client, RPCError, WorkflowUpdateFailedError


@workflow.defn
class Strict:
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

    @workflow.signal
    def push(self, value: int) -> None:
        self.values.append(value)

    @workflow.signal
    def finish(self) -> None:
        self.done = True


WORKFLOWS = [Strict]
ACTIVITIES: list[object] = []


async def _update(handle: object, *args: object) -> object:
    try:
        return ["ok", await handle.execute_update(Strict.put, args=list(args))]  # type: ignore[attr-defined]
    except WorkflowUpdateFailedError as error:
        return ["WorkflowUpdateFailedError", type(error.cause).__name__]
    except RPCError as error:
        return ["RPCError", error.status.name]


async def run(client: Client, task_queue: str) -> object:
    handle = await client.start_workflow(Strict.run, id=f"{task_queue}-wf",
                                         task_queue=task_queue)
    observed: dict[str, object] = {
        "good": await _update(handle, 1),
        "bool_for_int": await _update(handle, True),
        "missing": await _update(handle),
        "extra": await _update(handle, 2, 3),
        "mistyped": await _update(handle, "three"),
    }
    await handle.signal(Strict.push, "not a number")
    await handle.signal(Strict.push, 7)
    await handle.signal(Strict.finish)
    observed["result"] = await handle.result()
    return observed
