"""Arguments that do not fit a handler: updates with a missing, an extra or a mistyped
argument, and a signal whose argument cannot be converted (the workflow carries on)."""

from temporalio import workflow
from temporalio.client import Client, RPCError, WorkflowUpdateFailedError

from ._util import settle


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


# The updates whose arguments do not fit go to a run of their own, so that this difference
# covers only that run's events.
KNOWN_DIFFERENCES = {
    "events:<tq>-bad#0": "intended (docs/migrating-from-temporal.md, buggy update handlers): "
                         "an update handler called with arguments that do not fit raises "
                         "TypeError; Temporal fails the workflow task (its history shows two "
                         "failed tasks), Stalwart rejects the update without "
                         "recording a failed task; the caller sees the same RPCError"}


async def run(client: Client, task_queue: str) -> object:
    handle = await client.start_workflow(Strict.run, id=f"{task_queue}-wf",
                                         task_queue=task_queue)
    # Each input once the previous one is handled: see _util.settle.
    await settle(handle)
    observed: dict[str, object] = {
        "good": await _update(handle, 1),
        "bool_for_int": await _update(handle, True),
    }
    bad = await client.start_workflow(Strict.run, id=f"{task_queue}-bad",
                                      task_queue=task_queue)
    await settle(bad)
    observed["missing"] = await _update(bad)
    observed["extra"] = await _update(bad, 2, 3)
    observed["mistyped"] = await _update(bad, "three")
    await bad.terminate("done")
    for value in ("not a number", 7):
        await handle.signal(Strict.push, value)
        await settle(handle)
    await handle.signal(Strict.finish)
    observed["result"] = await handle.result()
    return observed
