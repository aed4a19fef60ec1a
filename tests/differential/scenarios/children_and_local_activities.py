"""Child workflows cancelled through their handle with each cancellation type, a child's
handle properties, and local activities that succeed after retries and fail for good."""

import asyncio
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import RPCError
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, ChildWorkflowError

from ._util import settle


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
    """Starts a child with one cancellation type, then cancels it once the client says go.

    One parent per cancellation type, and the cancel only once the child's first workflow
    task is done (the client waits for it, see _util.settle): where a cancel request and the
    acknowledgements of the previous child's cancel land otherwise depends on timing, on
    Temporal as on Stalwart."""

    def __init__(self) -> None:
        self.go = False

    @workflow.run
    async def run(self, kind_name: str) -> dict:
        observed: dict = {}
        info = workflow.info()
        kind = workflow.ChildWorkflowCancellationType[kind_name]
        child = await workflow.start_child_workflow(
            Sleeper.run, id=f"{info.workflow_id}-child", cancellation_type=kind)
        observed["handle"] = [child.id == f"{info.workflow_id}-child",
                              child.first_execution_run_id is not None]
        await workflow.wait_condition(lambda: self.go)
        child.cancel()
        try:
            observed["outcome"] = await child
        except ChildWorkflowError as error:
            observed["outcome"] = ["ChildWorkflowError", type(error.cause).__name__]
        except asyncio.CancelledError:
            observed["outcome"] = "asyncio.CancelledError"
        return observed

    @workflow.signal
    def proceed(self) -> None:
        self.go = True


@workflow.defn
class Locals:
    @workflow.run
    async def run(self) -> dict:
        observed: dict = {}
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


WORKFLOWS = [Parent, Sleeper, Locals]
ACTIVITIES = [flaky_local, broken_local]


async def run(client: object, task_queue: str) -> object:
    observed = {}
    for kind in ("WAIT_CANCELLATION_COMPLETED", "TRY_CANCEL", "ABANDON"):
        parent_id = f"{task_queue}-{kind.lower()}"
        parent = await client.start_workflow(  # type: ignore[attr-defined]
            Parent.run, kind, id=parent_id, task_queue=task_queue)
        child = client.get_workflow_handle(f"{parent_id}-child")  # type: ignore[attr-defined]
        await _wait_started(child)
        await settle(child)
        await settle(parent)
        await parent.signal(Parent.proceed)
        observed[kind] = await parent.result()
    observed["locals"] = await client.execute_workflow(  # type: ignore[attr-defined]
        Locals.run, id=f"{task_queue}-locals", task_queue=task_queue)
    return observed


async def _wait_started(handle: object) -> None:
    for _ in range(400):
        try:
            await handle.describe()  # type: ignore[attr-defined]
            return
        except RPCError:
            await asyncio.sleep(0.02)
    raise AssertionError("the child never started")
