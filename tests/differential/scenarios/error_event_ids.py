"""What ``ActivityError`` and ``ChildWorkflowError`` report besides their cause: the activity's
id and type, the worker identity, the retry state (retries exhausted, a non-retryable failure,
a timeout: a child's execution timeout or its run timeout) and the ids of the
scheduled/started (initiated/started) events in the history."""

import asyncio
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, ChildWorkflowError


@activity.defn
async def always_fails() -> None:
    raise RuntimeError(f"attempt {activity.info().attempt} failed")


@activity.defn
async def refuses() -> None:
    raise ApplicationError("no way", type="Refused", non_retryable=True)


@activity.defn
async def too_slow() -> None:
    await asyncio.sleep(10)


@workflow.defn
class FailingChild:
    @workflow.run
    async def run(self) -> None:
        raise ApplicationError("child gave up", non_retryable=True)


@workflow.defn
class SlowChild:
    @workflow.run
    async def run(self) -> None:
        await workflow.sleep(timedelta(hours=1))


def _activity(error: ActivityError) -> dict:
    return {"activity_id": error.activity_id, "activity_type": error.activity_type,
            "has_identity": bool(error.identity),
            "retry_state": error.retry_state.name if error.retry_state else None,
            "scheduled_event_id": error.scheduled_event_id,
            "started_event_id": error.started_event_id}


def _child(error: ChildWorkflowError, run_id: str | None) -> dict:
    return {"namespace": error.namespace, "workflow_id": error.workflow_id,
            "run_id_matches": error.run_id == run_id, "workflow_type": error.workflow_type,
            "retry_state": error.retry_state.name if error.retry_state else None,
            "initiated_event_id": error.initiated_event_id,
            "started_event_id": error.started_event_id}


@workflow.defn
class Reports:
    @workflow.run
    async def run(self) -> dict:
        wid = workflow.info().workflow_id
        out: dict = {}
        cases = {
            "exhausted": (always_fails, RetryPolicy(
                initial_interval=timedelta(milliseconds=50), maximum_attempts=2), 10),
            "non_retryable": (refuses, None, 10),
            "timed_out": (too_slow, RetryPolicy(maximum_attempts=1), 1),
        }
        for name, (fn, policy, timeout) in cases.items():
            try:
                await workflow.execute_activity(
                    fn, activity_id=name, retry_policy=policy,
                    start_to_close_timeout=timedelta(seconds=timeout))
            except ActivityError as error:
                out[name] = _activity(error)
        second = timedelta(seconds=1)
        for name, child, timeouts in (
                ("child_failed", FailingChild, {}),
                ("child_timed_out", SlowChild, {"execution_timeout": second}),
                # Its run timeout, not its execution timeout: RETRY_POLICY_NOT_SET.
                ("child_run_timed_out", SlowChild, {"run_timeout": second}),
                ("child_both_timeouts", SlowChild, {"run_timeout": second,
                                                    "execution_timeout": 5 * second})):
            handle = await workflow.start_child_workflow(
                child.run, id=f"{wid}-{name}", **timeouts)
            try:
                await handle
            except ChildWorkflowError as error:
                out[name] = _child(error, handle.first_execution_run_id)
                out[name]["workflow_id"] = out[name]["workflow_id"].replace(wid, "<wf>")
                cause = error.cause
                out[name]["cause"] = [type(cause).__name__, str(cause),
                                      getattr(getattr(cause, "type", None), "name", None)]
        return out


WORKFLOWS = [Reports, FailingChild, SlowChild]
ACTIVITIES = [always_fails, refuses, too_slow]


async def run(client: object, task_queue: str) -> object:
    return await client.execute_workflow(  # type: ignore[attr-defined]
        Reports.run, id=f"{task_queue}-wf", task_queue=task_queue)
