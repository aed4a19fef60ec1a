"""Child workflows: one completes, one fails and the parent catches ChildWorkflowError."""

from typing import Any

from temporalio import workflow
from temporalio.client import Client
from temporalio.exceptions import ApplicationError, ChildWorkflowError


@workflow.defn
class Square:
    @workflow.run
    async def run(self, x: int) -> int:
        if x < 0:
            raise ApplicationError("negative input", type="BadInput")
        return x * x


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


async def run(client: Client, task_queue: str) -> object:
    return await client.execute_workflow(Parent.run, 4, id=f"{task_queue}-parent",
                                         task_queue=task_queue)
