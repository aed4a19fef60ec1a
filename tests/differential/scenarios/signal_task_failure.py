"""A workflow task that fails over the signal it took (a bug in the handler, fixed by the
retry): Temporal has the signal before the failed task's ``WorkflowTaskScheduled``, the
failure once, and the retry completes."""

import asyncio
from typing import Any

from temporalio import workflow
from temporalio.client import Client

from ._util import settle, wait_for_query

_failures_left = {"count": 0}


@workflow.defn
class FailsOverSignal:
    def __init__(self) -> None:
        self.items: list[str] = []

    @workflow.signal
    def add(self, item: str) -> None:
        if _failures_left["count"] > 0 and not workflow.unsafe.is_replaying():
            # Stands in for a bug fixed by a redeploy: the first attempt fails, the retry runs.
            _failures_left["count"] -= 1
            raise RuntimeError("a bug in the signal handler")
        self.items.append(item)

    @workflow.query
    def count(self) -> int:
        return len(self.items)

    @workflow.run
    async def run(self) -> list[str]:
        await workflow.wait_condition(lambda: len(self.items) >= 2)
        return self.items


async def _completed_tasks(handle: Any, count: int) -> None:
    for _ in range(600):
        events = (await handle.fetch_history()).to_json_dict()["events"]
        if [e["eventType"] for e in events].count("EVENT_TYPE_WORKFLOW_TASK_COMPLETED") >= count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"the run never completed {count} workflow tasks")


WORKFLOWS = [FailsOverSignal]
ACTIVITIES: list[object] = []


async def run(client: Client, task_queue: str) -> object:
    handle = await client.start_workflow(FailsOverSignal.run, id=f"{task_queue}-fails",
                                         task_queue=task_queue)
    await wait_for_query(handle, "count", 0)
    await settle(handle)
    _failures_left["count"] = 1
    await handle.signal(FailsOverSignal.add, "a")
    # The retry has completed (a query could be answered before: it replays the signal).
    await _completed_tasks(handle, 2)
    await handle.signal(FailsOverSignal.add, "b")
    return await handle.result()
