"""Child workflows that do not complete: one timed out, one that cannot start because its id
is taken, and one terminated when its parent closes (parent close policy TERMINATE)."""

from datetime import timedelta

from temporalio import workflow
from temporalio.client import Client
from temporalio.exceptions import ChildWorkflowError, WorkflowAlreadyStartedError


@workflow.defn
class Forever:
    @workflow.run
    async def run(self) -> str:
        await workflow.sleep(timedelta(hours=1))
        return "never"


@workflow.defn
class Guardian:
    @workflow.run
    async def run(self) -> dict[str, str]:
        wid = workflow.info().workflow_id
        out: dict[str, str] = {}
        try:
            await workflow.execute_child_workflow(
                Forever.run, id=f"{wid}-timed-out", execution_timeout=timedelta(seconds=1))
        except ChildWorkflowError as error:
            out["timed_out"] = type(error.cause).__name__
        await workflow.start_child_workflow(Forever.run, id=f"{wid}-taken")
        try:
            await workflow.start_child_workflow(Forever.run, id=f"{wid}-taken")
            out["duplicate"] = "started"
        except WorkflowAlreadyStartedError as error:
            out["duplicate"] = type(error).__name__
        return out


KNOWN_DIFFERENCES = {
    "events:<tq>-guardian-taken#0": "the child is terminated when its parent completes, right "
    "after it started; whether its first workflow task ran before that is a race on either "
    "server, not a difference between them",
}

WORKFLOWS = [Guardian, Forever]
ACTIVITIES: list[object] = []


async def run(client: Client, task_queue: str) -> object:
    return await client.execute_workflow(Guardian.run, id=f"{task_queue}-guardian",
                                         task_queue=task_queue)
