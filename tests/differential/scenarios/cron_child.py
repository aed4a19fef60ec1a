"""A cron child workflow (start_child_workflow with cron_schedule): each run of the child
starts at the schedule's next time under the child's id and sees the previous run's result;
the parent's handle does not resolve when a run closes, only when the chain ends. The parent
cancelling the child through its handle changes nothing once the first run has closed (the
request goes to the run the child started as); a client terminating the chain ends it."""

import asyncio
from typing import Any

from temporalio import workflow
from temporalio.client import Client
from temporalio.exceptions import ChildWorkflowError


@workflow.defn
class CronChildCounter:
    @workflow.run
    async def run(self) -> dict[str, Any]:
        last = workflow.get_last_completion_result(dict) if \
            workflow.has_last_completion_result() else None
        count = (last["count"] if last else 0) + 1
        info = workflow.info()
        seen = {"count": count, "cron": info.cron_schedule,
                "parent": info.parent.workflow_id.endswith("-parent") if info.parent else None}
        if count >= 3:
            await workflow.wait_condition(lambda: False)
        return seen


@workflow.defn
class CronParent:
    def __init__(self) -> None:
        self.cancel_child = False

    @workflow.run
    async def run(self) -> list[Any]:
        child = await workflow.start_child_workflow(
            CronChildCounter.run, id=f"{workflow.info().workflow_id}-child",
            cron_schedule="@every 1s")
        await workflow.wait_condition(lambda: self.cancel_child)
        child.cancel()
        try:
            await child
        except ChildWorkflowError as error:
            return ["ChildWorkflowError", type(error.cause).__name__]
        return ["completed"]

    @workflow.signal
    def cancel(self) -> None:
        self.cancel_child = True


WORKFLOWS = [CronParent, CronChildCounter]
ACTIVITIES: list[object] = []


def _event_name(event: Any) -> str:
    # temporalio's events are protos (an enum number); Stalwart's carry the name.
    kind = event.event_type
    if isinstance(kind, str):
        return kind
    from temporalio.api.enums.v1 import EventType

    name = EventType.Name(kind).removeprefix("EVENT_TYPE_")
    return "".join(part.capitalize() for part in name.split("_"))


async def _runs(client: Client, workflow_id: str) -> list[Any]:
    runs = [w async for w in client.list_workflows(f"WorkflowId = '{workflow_id}'")]
    return sorted(runs, key=lambda w: w.start_time)


async def run(client: Client, task_queue: str) -> object:
    parent_id = f"{task_queue}-parent"
    child_id = f"{parent_id}-child"
    handle = await client.start_workflow(CronParent.run, id=parent_id, task_queue=task_queue)
    # Polls wait on real conditions; the pause between reads keeps them from taking the CPU
    # the workers need (reads record nothing in either history).
    runs = await _runs(client, child_id)
    while len(runs) < 3:
        await asyncio.sleep(0.05)
        runs = await _runs(client, child_id)
    third = client.get_workflow_handle(child_id, run_id=runs[2].run_id)
    while (await third.describe()).history_length <= 2:
        await asyncio.sleep(0.05)
    observed: dict[str, object] = {}
    closed = []
    for one in runs[:2]:
        run_handle = client.get_workflow_handle(child_id, run_id=one.run_id)
        described = await run_handle.describe()
        closed.append(described.status.name if described.status else None)
    observed["closed_runs"] = closed
    observed["parent_still_running"] = (await handle.describe()).status.name
    await handle.signal(CronParent.cancel)
    while "ExternalWorkflowExecutionCancelRequested" not in [
            _event_name(e) async for e in handle.fetch_history_events()]:
        await asyncio.sleep(0.05)
    latest = await client.get_workflow_handle(child_id).describe()
    observed["after_cancel"] = [latest.run_id == runs[2].run_id,
                                latest.status.name if latest.status else None]
    await client.get_workflow_handle(child_id).terminate("enough runs")
    observed["parent_result"] = await handle.result()
    final = await client.get_workflow_handle(child_id).describe()
    observed["chain_end"] = [final.run_id == runs[2].run_id,
                             final.status.name if final.status else None]
    first = client.get_workflow_handle(child_id, run_id=runs[0].run_id)
    observed["first_run_parent"] = (await first.describe()).parent_id == parent_id
    return observed
