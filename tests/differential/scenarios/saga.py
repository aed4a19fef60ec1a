"""Saga compensation: book three things, the third fails, the first two are undone in reverse."""

from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client, WorkflowFailureError
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError


@activity.defn
async def book(item: str) -> str:
    if item == "car":
        raise ApplicationError("no cars left", type="SoldOut", non_retryable=True)
    return f"booked {item}"


@activity.defn
async def cancel(item: str) -> str:
    return f"cancelled {item}"


@workflow.defn
class Trip:
    @workflow.run
    async def run(self) -> list[str]:
        done: list[str] = []
        undo: list[str] = []
        opts = {"start_to_close_timeout": timedelta(seconds=10),
                "retry_policy": RetryPolicy(maximum_attempts=1)}
        try:
            for item in ("flight", "hotel", "car"):
                done.append(await workflow.execute_activity(book, item, **opts))
                undo.append(item)
        except ActivityError as error:
            for item in reversed(undo):
                done.append(await workflow.execute_activity(cancel, item, **opts))
            raise ApplicationError(f"trip failed after {done}", type="TripFailed") from error
        return done


WORKFLOWS = [Trip]
ACTIVITIES = [book, cancel]


async def run(client: Client, task_queue: str) -> object:
    try:
        return await client.execute_workflow(Trip.run, id=f"{task_queue}-trip",
                                             task_queue=task_queue)
    except WorkflowFailureError as error:
        cause = error.cause
        return {"error": type(cause).__name__, "type": getattr(cause, "type", None),
                "message": getattr(cause, "message", "")}
