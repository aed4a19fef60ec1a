"""Update-with-start: execute_update_with_start_workflow starts the workflow and delivers the
update; with USE_EXISTING a second call updates the running workflow; the operation's
workflow_handle() resolves; a rejected update still leaves the workflow started; a missing
id_conflict_policy is refused."""

from temporalio import workflow
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowUpdateFailedError,
    WorkflowUpdateStage,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError


@workflow.defn
class Cart:
    def __init__(self) -> None:
        self.items: list[str] = []
        self.done = False

    @workflow.run
    async def run(self, owner: str) -> list[str]:
        await workflow.wait_condition(lambda: self.done)
        return [owner, *self.items]

    @workflow.update
    def add(self, item: str) -> int:
        self.items.append(item)
        return len(self.items)

    @add.validator
    def check_add(self, item: str) -> None:
        if not item:
            raise ApplicationError("empty item")

    @workflow.signal
    def checkout(self) -> None:
        self.done = True


WORKFLOWS = [Cart]
ACTIVITIES: list[object] = []


def _operation(task_queue: str, suffix: str) -> WithStartWorkflowOperation:
    return WithStartWorkflowOperation(
        Cart.run, "ann", id=f"{task_queue}-{suffix}", task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING)


async def run(client: Client, task_queue: str) -> object:
    observed: dict[str, object] = {}
    first = _operation(task_queue, "cart")
    observed["first"] = await client.execute_update_with_start_workflow(
        Cart.add, "apple", start_workflow_operation=first)
    handle = await first.workflow_handle()
    observed["handle"] = [handle.id == f"{task_queue}-cart", handle.run_id is None,
                          handle.result_run_id is not None,
                          handle.first_execution_run_id is not None]
    second = _operation(task_queue, "cart")
    update = await client.start_update_with_start_workflow(
        Cart.add, "pear", start_workflow_operation=second,
        wait_for_stage=WorkflowUpdateStage.ACCEPTED)
    observed["second"] = await update.result()
    second_handle = await second.workflow_handle()
    observed["same_run"] = second_handle.result_run_id == handle.result_run_id

    rejected = _operation(task_queue, "rejected")
    try:
        await client.execute_update_with_start_workflow(
            Cart.add, "", start_workflow_operation=rejected)
        observed["rejected"] = "accepted"
    except WorkflowUpdateFailedError as error:
        observed["rejected"] = [type(error.__cause__).__name__, str(error.__cause__)]
    rejected_handle = await rejected.workflow_handle()
    observed["rejected_workflow"] = (await rejected_handle.describe()).status.name
    await rejected_handle.terminate()

    try:
        WithStartWorkflowOperation(Cart.run, "bob", id=f"{task_queue}-x",
                                   task_queue=task_queue,
                                   id_conflict_policy=WorkflowIDConflictPolicy.UNSPECIFIED)
        await client.execute_update_with_start_workflow(
            Cart.add, "kiwi", start_workflow_operation=WithStartWorkflowOperation(
                Cart.run, "bob", id=f"{task_queue}-x", task_queue=task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.UNSPECIFIED))
        observed["unspecified"] = "accepted"
    except ValueError:
        observed["unspecified"] = "ValueError"
    await handle.signal(Cart.checkout)
    observed["result"] = await handle.result()
    return observed
