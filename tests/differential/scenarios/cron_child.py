"""A cron child workflow (start_child_workflow with cron_schedule): each run of the child
starts at the schedule's next time under the child's id and sees the previous run's result;
the parent's handle does not resolve when a run closes, only when the chain ends (here, a
client terminates it after the third run has begun).

Not covered: cancelling the child from the parent's handle. Temporal sends that request to the
child's first run, which has closed by then, so the chain goes on; Stalwart cancels the
running run (docs/migrating-from-temporal.md)."""

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
    @workflow.run
    async def run(self) -> list[Any]:
        child = await workflow.start_child_workflow(
            CronChildCounter.run, id=f"{workflow.info().workflow_id}-child",
            cron_schedule="@every 1s")
        try:
            await child
        except ChildWorkflowError as error:
            return ["ChildWorkflowError", type(error.cause).__name__]
        return ["completed"]


WORKFLOWS = [CronParent, CronChildCounter]
ACTIVITIES: list[object] = []


async def _runs(client: Client, workflow_id: str) -> list[Any]:
    runs = [w async for w in client.list_workflows(f"WorkflowId = '{workflow_id}'")]
    return sorted(runs, key=lambda w: w.start_time)


async def run(client: Client, task_queue: str) -> object:
    parent_id = f"{task_queue}-parent"
    child_id = f"{parent_id}-child"
    handle = await client.start_workflow(CronParent.run, id=parent_id, task_queue=task_queue)
    runs = await _runs(client, child_id)
    while len(runs) < 3:
        runs = await _runs(client, child_id)
    third = client.get_workflow_handle(child_id, run_id=runs[2].run_id)
    while (await third.describe()).history_length <= 2:
        pass
    observed: dict[str, object] = {}
    closed = []
    for one in runs[:2]:
        run_handle = client.get_workflow_handle(child_id, run_id=one.run_id)
        described = await run_handle.describe()
        closed.append(described.status.name if described.status else None)
    observed["closed_runs"] = closed
    observed["parent_still_running"] = (await handle.describe()).status.name
    await client.get_workflow_handle(child_id).terminate("enough runs")
    observed["parent_result"] = await handle.result()
    final = await client.get_workflow_handle(child_id).describe()
    observed["chain_end"] = [final.run_id == runs[2].run_id,
                             final.status.name if final.status else None]
    first = client.get_workflow_handle(child_id, run_id=runs[0].run_id)
    observed["first_run_parent"] = (await first.describe()).parent_id == parent_id
    return observed
