"""Update-with-start whose update closes the workflow it started: the call returns the
update's outcome although the run closed in the same workflow task; the update's handle
still answers after the close; a second update-with-start under the same workflow id and
update id, with USE_EXISTING, answers that update's outcome and starts nothing; with another
update id it starts a new run, which takes the update; an unknown update id on the closed run
is not found."""

from temporalio import workflow
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError


@workflow.defn
class Order:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.closed = False

    @workflow.run
    async def run(self, owner: str) -> list[str]:
        await workflow.wait_condition(lambda: self.closed)
        return [owner, *self.lines]

    @workflow.update
    def close(self, note: str) -> str:
        self.lines.append(note)
        self.closed = True
        return f"closed with {note}"


WORKFLOWS = [Order]
ACTIVITIES: list[object] = []


def _operation(workflow_id: str, owner: str, task_queue: str) -> WithStartWorkflowOperation:
    return WithStartWorkflowOperation(
        Order.run, owner, id=workflow_id, task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING)


async def run(client: Client, task_queue: str) -> object:
    observed: dict[str, object] = {}
    workflow_id = f"{task_queue}-order"
    first = _operation(workflow_id, "ann", task_queue)
    observed["first"] = await client.execute_update_with_start_workflow(
        Order.close, "paid", id="close-1", start_workflow_operation=first)
    first_handle = await first.workflow_handle()
    observed["first_result"] = await first_handle.result()
    # The update's outcome stays readable once its workflow has closed.
    closed_run = client.get_workflow_handle(workflow_id, run_id=first_handle.result_run_id)
    observed["after_close"] = await closed_run.get_update_handle_for(
        Order.close, "close-1").result()
    try:
        await closed_run.get_update_handle_for(Order.close, "never-sent").result()
        observed["unknown"] = "answered"
    except RPCError as error:
        observed["unknown"] = error.status.name

    second = _operation(workflow_id, "bob", task_queue)
    observed["second"] = await client.execute_update_with_start_workflow(
        Order.close, "refunded", id="close-1", start_workflow_operation=second)
    second_handle = await second.workflow_handle()
    observed["new_run"] = second_handle.result_run_id != first_handle.result_run_id
    observed["second_result"] = await second_handle.result()

    third = _operation(workflow_id, "cy", task_queue)
    observed["third"] = await client.execute_update_with_start_workflow(
        Order.close, "refunded", id="close-2", start_workflow_operation=third)
    third_handle = await third.workflow_handle()
    observed["third_new_run"] = third_handle.result_run_id != first_handle.result_run_id
    observed["third_result"] = await third_handle.result()
    return observed
