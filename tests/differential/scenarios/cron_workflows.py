"""A cron workflow (start_workflow with cron_schedule): each run starts at the schedule's next
time under the same workflow id; a run's result becomes the next run's last completion result,
a failed run's failure its last failure (the last result carried past it); the closed runs
keep their own status, and result(follow_runs=False) on one raises
WorkflowContinuedAsNewError; cancelling the running one ends the chain and the first handle's
result() follows the chain to that end."""

import asyncio
import itertools
from typing import Any

from temporalio import workflow
from temporalio.client import Client, WorkflowContinuedAsNewError, WorkflowFailureError
from temporalio.exceptions import ApplicationError


@workflow.defn
class CronCounter:
    def __init__(self) -> None:
        self.seen: dict[str, Any] = {}

    @workflow.run
    async def run(self) -> dict[str, Any]:
        last = workflow.get_last_completion_result(dict) if \
            workflow.has_last_completion_result() else None
        failure = workflow.get_last_failure()
        count = (last["count"] if last else 0) + 1
        self.seen = {
            "count": count, "cron": workflow.info().cron_schedule,
            "continued": workflow.info().continued_run_id is not None,
            "last_count": last["count"] if last else None,
            "failure": [type(failure).__name__, str(failure)] if failure else None}
        if count == 2 and failure is None:
            raise ApplicationError("second run fails", non_retryable=True)
        if count >= 3:
            await workflow.wait_condition(lambda: False)
        return self.seen

    @workflow.query
    def state(self) -> dict[str, Any]:
        return self.seen


WORKFLOWS = [CronCounter]
ACTIVITIES: list[object] = []


async def _runs(client: Client, workflow_id: str) -> list[Any]:
    runs = [w async for w in client.list_workflows(f"WorkflowId = '{workflow_id}'")]
    return sorted(runs, key=lambda w: w.start_time)


async def run(client: Client, task_queue: str) -> object:
    workflow_id = f"{task_queue}-cron"
    handle = await client.start_workflow(CronCounter.run, id=workflow_id,
                                         task_queue=task_queue, cron_schedule="@every 1s")
    observed: dict[str, object] = {"handle_run_id_is_none": handle.run_id is None}
    runs = await _runs(client, workflow_id)
    while len(runs) < 4:  # a pause between reads leaves the CPU to the workers
        await asyncio.sleep(0.05)
        runs = await _runs(client, workflow_id)
    fourth = client.get_workflow_handle(workflow_id, run_id=runs[3].run_id)
    while (await fourth.describe()).history_length <= 1:
        await asyncio.sleep(0.05)
    observed["fourth_saw"] = await fourth.query(CronCounter.state)
    outcomes: list[object] = []
    for closed, following in itertools.pairwise(runs[:4]):
        next_id = following.run_id
        one = client.get_workflow_handle(workflow_id, run_id=closed.run_id)
        status = (await one.describe()).status
        try:
            outcome: object = await one.result(follow_runs=False)
        except WorkflowFailureError as error:
            outcome = [type(error.cause).__name__, str(error.cause)]
        except WorkflowContinuedAsNewError as error:
            # Temporal reports a cron run's close as a continue-as-new to a caller that
            # does not follow runs.
            outcome = ["WorkflowContinuedAsNewError", error.new_execution_run_id == next_id]
        outcomes.append([status.name if status else None, outcome])
    observed["closed_runs"] = outcomes
    await handle.cancel()
    try:
        await handle.result()
    except WorkflowFailureError as error:
        observed["result"] = ["WorkflowFailureError", type(error.cause).__name__]
    final = await handle.describe()
    observed["final"] = [final.run_id == runs[3].run_id,
                         final.status.name if final.status else None]
    observed["runs"] = len(await _runs(client, workflow_id))
    return observed
