"""What ``workflow.info()`` says of the history as it grows: ``get_current_history_length()``
at each step (the event id of the running task's ``WorkflowTaskStarted``) after an activity,
a timer, a local activity, a signal taken between tasks, a signal handled in the task that
sees it and an update; ``get_current_history_size()`` growing with the history (the byte
count itself is Temporal's protobuf size, estimated by Stalwart, so only its growth is
compared); and ``is_continue_as_new_suggested()`` staying false for a short history. The
run then continues as new, and the new run starts counting again. Outside the workflow,
``describe()``, the list items and the list filter field ``HistoryLength`` count the same."""

import asyncio
from datetime import timedelta
from itertools import pairwise
from typing import Any

from temporalio import activity, workflow
from temporalio.client import Client

from ._util import settle


@activity.defn
async def echo(text: str) -> str:
    return text * 40


@workflow.defn
class Measured:
    def __init__(self) -> None:
        self.points: list[dict[str, Any]] = []
        self.signals = 0

    def _mark(self, label: str) -> None:
        info = workflow.info()
        self.points.append({"at": label, "length": info.get_current_history_length(),
                            "size": info.get_current_history_size(),
                            "suggested": info.is_continue_as_new_suggested()})

    @workflow.run
    async def run(self, earlier: list[Any] | None) -> dict[str, Any]:
        self._mark("start")
        await workflow.execute_activity(echo, "a", start_to_close_timeout=timedelta(seconds=30))
        self._mark("activity")
        await workflow.sleep(timedelta(milliseconds=50))
        self._mark("timer")
        await workflow.execute_local_activity(echo, "b",
                                              start_to_close_timeout=timedelta(seconds=30))
        self._mark("local activity")
        await workflow.wait_condition(lambda: self.signals >= 2)
        self._mark("signals")
        sizes = [p["size"] for p in self.points]
        summary = {"lengths": [(p["at"], p["length"]) for p in self.points],
                   "suggested": [p["suggested"] for p in self.points],
                   "sizes_positive": all(s > 0 for s in sizes),
                   "sizes_grow": [b > a for a, b in pairwise(sizes)]}
        if earlier is None:
            workflow.continue_as_new([summary])
        return {"runs": [*(earlier or []), summary]}

    @workflow.signal
    def poke(self) -> None:
        self.signals += 1
        self._mark(f"signal {self.signals}")

    @workflow.update
    def measure(self) -> int:
        self._mark("update")
        return workflow.info().get_current_history_length()

    @workflow.query
    def progress(self) -> list[int]:
        return [len(self.points), self.signals]


WORKFLOWS = [Measured]
ACTIVITIES = [echo]


async def _quiet(handle: Any) -> bool:
    """Whether the run has taken its local activity and every workflow task it scheduled has
    ended, read from the history (which records nothing for the reading). Only then is it
    queried: on Temporal a query that arrives while a workflow task is in flight (the local
    activity keeps one open while it runs) is held for that task and can cost the run a
    workflow task more (1 run in about 15 did, before the scenario waited this way)."""
    types = [e["eventType"] for e in (await handle.fetch_history()).to_json_dict()["events"]]
    scheduled = types.count("EVENT_TYPE_WORKFLOW_TASK_SCHEDULED")
    ended = sum(types.count(t) for t in ("EVENT_TYPE_WORKFLOW_TASK_COMPLETED",
                                         "EVENT_TYPE_WORKFLOW_TASK_FAILED",
                                         "EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT"))
    return ("EVENT_TYPE_MARKER_RECORDED" in types and scheduled == ended
            and "EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW" not in types)


async def _drive(client: Client, workflow_id: str, run_id: str | None) -> int:
    """Waits for the run to block on its signals, then sends an update and two signals, each
    once the one before was handled and the run has settled (an input arriving while a task
    is in flight would make a task more on one side)."""
    handle = client.get_workflow_handle(workflow_id, run_id=run_id)

    async def wait_for(progress: list[int]) -> None:
        for _ in range(1200):
            try:
                if await _quiet(handle) and await handle.query(Measured.progress) == progress:
                    await settle(handle)
                    return
            except Exception:  # the new run may not have taken its first task yet
                pass
            await asyncio.sleep(0.05)
        raise RuntimeError(f"{workflow_id} never reached {progress}")

    await wait_for([4, 0])
    length = await handle.execute_update(Measured.measure)
    await handle.signal(Measured.poke)
    await wait_for([6, 1])
    await handle.signal(Measured.poke)
    return length


async def run(client: Client, task_queue: str) -> object:
    workflow_id = f"{task_queue}-measured"
    handle = await client.start_workflow(Measured.run, None, id=workflow_id,
                                         task_queue=task_queue)
    first = await _drive(client, workflow_id, handle.result_run_id)
    second = await _drive(client, workflow_id, None)
    result = await handle.result()
    # The counts outside the workflow: describe() and the list's items (Temporal's visibility
    # catches up with the close a moment later).
    described = (await handle.describe()).history_length
    listed: list[int] = []
    for _ in range(600):
        runs = [e async for e in client.list_workflows(f"WorkflowId = '{workflow_id}'")]
        if len(runs) == 2 and all(e.close_time is not None for e in runs):
            listed = sorted(e.history_length for e in runs)
            break
        await asyncio.sleep(0.05)
    # The list filter field HistoryLength compares the same count.
    query = f"WorkflowId = '{workflow_id}' AND HistoryLength"
    filtered: dict[str, int] = {}
    for _ in range(600):
        filtered = {
            "= described": len([e async for e in client.list_workflows(
                f"{query} = {described}")]),
            "> described - 1": (await client.count_workflows(f"{query} > {described - 1}")).count,
            "< described": (await client.count_workflows(f"{query} < {described}")).count}
        if filtered["= described"] == 2:
            break
        await asyncio.sleep(0.05)
    return {"updates": [first, second], "result": result, "described": described,
            "listed": listed, "filtered": filtered}
