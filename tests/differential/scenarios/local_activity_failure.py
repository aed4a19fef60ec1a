"""A local activity that fails for good; the workflow catches the ActivityError."""

from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.exceptions import ActivityError, ApplicationError


@activity.defn
async def validate(order: str) -> str:
    raise ApplicationError(f"order {order} is invalid", type="Invalid", non_retryable=True)


@workflow.defn
class Checker:
    @workflow.run
    async def run(self, order: str) -> str:
        try:
            return await workflow.execute_local_activity(
                validate, order, start_to_close_timeout=timedelta(seconds=5))
        except ActivityError as error:
            cause = error.cause
            return f"{type(cause).__name__}:{getattr(cause, 'type', '')}:" \
                f"{getattr(cause, 'message', '')}"


WORKFLOWS = [Checker]
ACTIVITIES = [validate]


async def run(client: Client, task_queue: str) -> object:
    return await client.execute_workflow(Checker.run, "A-7", id=f"{task_queue}-checker",
                                         task_queue=task_queue)
