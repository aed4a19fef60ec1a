"""Child workflows: one completes, one fails and the parent catches ChildWorkflowError.

Each child waits for a signal from the client, sent once the parent has recorded the child's
start and finished the workflow task that saw it: otherwise whether the child's completion
lands in that task or in a task of its own depends on timing, on either server."""

import asyncio
from typing import Any

from temporalio import workflow
from temporalio.client import Client
from temporalio.exceptions import ApplicationError, ChildWorkflowError

from ._util import settle


@workflow.defn
class Square:
    def __init__(self) -> None:
        self.go = False

    @workflow.run
    async def run(self, x: int) -> int:
        await workflow.wait_condition(lambda: self.go)
        if x < 0:
            raise ApplicationError("negative input", type="BadInput")
        return x * x

    @workflow.signal
    def proceed(self) -> None:
        self.go = True


@workflow.defn
class Parent:
    @workflow.run
    async def run(self, x: int) -> dict[str, Any]:
        wid = workflow.info().workflow_id
        squared = await workflow.execute_child_workflow(Square.run, x, id=f"{wid}-ok")
        try:
            await workflow.execute_child_workflow(Square.run, -x, id=f"{wid}-bad")
            failure = "none"
        except ChildWorkflowError as error:
            cause = error.cause
            failure = f"{type(cause).__name__}:{getattr(cause, 'type', '')}:" \
                f"{getattr(cause, 'message', '')}"
        return {"squared": squared, "failure": failure}


WORKFLOWS = [Parent, Square]
ACTIVITIES: list[object] = []


async def _release(client: Client, parent: Any, child_id: str) -> None:
    """Signal the child once the parent's history has its start and the parent is settled."""
    for _ in range(600):
        history = await parent.fetch_history()
        started = [e for e in history.to_json_dict()["events"]
                   if e["eventType"] == "EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED"
                   and e["childWorkflowExecutionStartedEventAttributes"]["workflowExecution"]
                   ["workflowId"] == child_id]
        if started:
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError(f"the parent never recorded the start of {child_id}")
    await settle(parent)
    await client.get_workflow_handle(child_id).signal(Square.proceed)


async def run(client: Client, task_queue: str) -> object:
    parent_id = f"{task_queue}-parent"
    parent = await client.start_workflow(Parent.run, 4, id=parent_id, task_queue=task_queue)
    await _release(client, parent, f"{parent_id}-ok")
    await _release(client, parent, f"{parent_id}-bad")
    return await parent.result()
