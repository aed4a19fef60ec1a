"""Update-with-start refuses a cron schedule and a start delay for the workflow it would
start (Temporal's server checks both, as invalid arguments); nothing is started, and the
operation's handle raises the same error. The same call without them starts and updates."""

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy


@workflow.defn
class Waits:
    def __init__(self) -> None:
        self.done = False

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self.done)
        return "done"

    @workflow.update
    def finish(self) -> str:
        self.done = True
        return "finishing"


WORKFLOWS = [Waits]
ACTIVITIES: list[Any] = []


async def run(client: Client, task_queue: str) -> object:
    outcomes: dict[str, Any] = {}
    for name, options in (("cron", {"cron_schedule": "* * * * *"}),
                          ("delay", {"start_delay": timedelta(seconds=30)})):
        operation = WithStartWorkflowOperation(
            Waits.run, id=f"{task_queue}-{name}", task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL, **options)
        try:
            await client.execute_update_with_start_workflow(
                Waits.finish, start_workflow_operation=operation)
            outcomes[name] = "accepted"
        except Exception as error:
            outcomes[name] = [type(error).__name__, str(error),
                              int(getattr(error, "status", 0) or 0)]
        try:
            await operation.workflow_handle()
        except Exception as error:
            outcomes[f"{name} handle"] = [type(error).__name__, str(error)]
    operation = WithStartWorkflowOperation(
        Waits.run, id=f"{task_queue}-plain", task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL)
    outcomes["plain"] = await client.execute_update_with_start_workflow(
        Waits.finish, start_workflow_operation=operation)
    outcomes["plain result"] = await (await operation.workflow_handle()).result()
    return outcomes
