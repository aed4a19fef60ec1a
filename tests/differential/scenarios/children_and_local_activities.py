"""Child workflows cancelled through their handle with each cancellation type, a child's
handle properties, and local activities that succeed after retries and fail for good."""

import asyncio
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, ChildWorkflowError


@activity.defn
async def flaky_local() -> str:
    attempt = activity.info().attempt
    if attempt < 3:
        raise RuntimeError(f"attempt {attempt}")
    return f"ok on attempt {attempt}"


@activity.defn
async def broken_local() -> str:
    raise ValueError("never works")


@workflow.defn
class Sleeper:
    @workflow.run
    async def run(self) -> str:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            return "child saw cancel"
        return "unreachable"


@workflow.defn
class Parent:
    @workflow.run
    async def run(self) -> dict:
        observed: dict = {}
        info = workflow.info()
        for kind in (workflow.ChildWorkflowCancellationType.WAIT_CANCELLATION_COMPLETED,
                     workflow.ChildWorkflowCancellationType.TRY_CANCEL,
                     workflow.ChildWorkflowCancellationType.ABANDON):
            child = await workflow.start_child_workflow(
                Sleeper.run, id=f"{info.workflow_id}-{kind.name}", cancellation_type=kind)
            observed[f"{kind.name}_handle"] = [child.id == f"{info.workflow_id}-{kind.name}",
                                               child.first_execution_run_id is not None]
            child.cancel()
            try:
                observed[kind.name] = await child
            except ChildWorkflowError as error:
                observed[kind.name] = ["ChildWorkflowError", type(error.cause).__name__]
            except asyncio.CancelledError:
                observed[kind.name] = "asyncio.CancelledError"
        observed["local_retry"] = await workflow.execute_local_activity(
            flaky_local, start_to_close_timeout=timedelta(seconds=5),
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=10)))
        try:
            await workflow.execute_local_activity(
                broken_local, start_to_close_timeout=timedelta(seconds=5),
                retry_policy=RetryPolicy(maximum_attempts=2,
                                         initial_interval=timedelta(milliseconds=10)))
        except (ActivityError, ApplicationError) as error:
            # temporalio raises a local activity's failure itself, not an ActivityError.
            observed["local_failure"] = [type(error).__name__, error.message,
                                         getattr(error, "type", None),
                                         type(error.__cause__).__name__]
        return observed


WORKFLOWS = [Parent, Sleeper]
ACTIVITIES = [flaky_local, broken_local]


async def run(client: object, task_queue: str) -> object:
    return await client.execute_workflow(Parent.run, id=f"{task_queue}-wf",  # type: ignore[attr-defined]
                                         task_queue=task_queue)
