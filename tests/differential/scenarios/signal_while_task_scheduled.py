"""Where a signal lands in the history, by the state of the workflow task when it arrives.

The run's task queue has no worker at first: the start schedules the first workflow task and
two signals arrive while it is scheduled but not started (Temporal records them after its
``WorkflowTaskScheduled``, before its ``WorkflowTaskStarted``). A worker then runs the task and
leaves. With no task scheduled, a third signal schedules one (recorded before that task's
``WorkflowTaskScheduled``) and a fourth joins it (after). A worker comes back and the run
completes."""

from temporalio import workflow
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from ._util import settle, wait_for_query


@workflow.defn
class Collect:
    def __init__(self) -> None:
        self.items: list[str] = []

    @workflow.signal
    def add(self, item: str) -> None:
        self.items.append(item)

    @workflow.query
    def count(self) -> int:
        return len(self.items)

    @workflow.run
    async def run(self, wanted: int) -> list[str]:
        await workflow.wait_condition(lambda: len(self.items) >= wanted)
        return self.items


WORKFLOWS = [Collect]  # the harness's worker polls another queue
ACTIVITIES: list[object] = []


def _worker(client: Client, task_queue: str) -> Worker:
    return Worker(client, task_queue=task_queue, workflows=[Collect],
                  workflow_runner=UnsandboxedWorkflowRunner())


async def _types(handle: object) -> list[str]:
    history = await handle.fetch_history()  # type: ignore[attr-defined]
    return [str(e["eventType"]).removeprefix("EVENT_TYPE_")
            for e in history.to_json_dict()["events"]]


async def run(client: Client, task_queue: str) -> object:
    queue = f"{task_queue}-unpolled"
    handle = await client.start_workflow(Collect.run, 4, id=f"{task_queue}-collect",
                                         task_queue=queue)
    await handle.signal(Collect.add, "a")
    await handle.signal(Collect.add, "b")
    async with _worker(client, queue):
        await wait_for_query(handle, "count", 2)
        await settle(handle)
    first = await _types(handle)
    await handle.signal(Collect.add, "c")
    await handle.signal(Collect.add, "d")
    pending = await _types(handle)
    async with _worker(client, queue):
        result = await handle.result()
    return {"result": result, "first": first, "pending": pending[len(first):],
            "rest": (await _types(handle))[len(pending):]}
