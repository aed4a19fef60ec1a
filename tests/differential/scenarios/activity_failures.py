"""How activity failures reach the workflow: retries exhausted, non-retryable error types,
a non-retryable ApplicationError with details, start-to-close and heartbeat timeouts (with
the last heartbeat details), and an unknown activity type."""

import asyncio
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError


class QuotaError(Exception):
    pass


@activity.defn
async def always_fails() -> None:
    raise RuntimeError(f"attempt {activity.info().attempt} failed")


@activity.defn
async def quota() -> None:
    raise QuotaError("out of quota")


@activity.defn
async def refuses() -> None:
    raise ApplicationError("no way", {"reason": "policy"}, type="Refused", non_retryable=True)


@activity.defn
async def too_slow() -> None:
    await asyncio.sleep(10)


@activity.defn
async def stops_heartbeating() -> None:
    activity.heartbeat("checkpoint-1")
    await asyncio.sleep(10)


FAST = RetryPolicy(initial_interval=timedelta(milliseconds=50), maximum_attempts=2)


def _describe(error: ActivityError) -> list:
    cause = error.cause
    described = [error.message, error.retry_state.name if error.retry_state else None,
                 type(cause).__name__, getattr(cause, "message", str(cause)),
                 getattr(cause, "type", None)]
    if hasattr(cause, "details"):
        described.append(list(cause.details))
    if hasattr(cause, "last_heartbeat_details"):
        described.append(list(cause.last_heartbeat_details))
    if cause is not None and cause.__cause__ is not None:
        described.append(type(cause.__cause__).__name__)
    return described


@workflow.defn
class Fails:
    @workflow.run
    async def run(self) -> dict:
        outcomes: dict = {}
        cases = {
            "exhausted": (always_fails, {"retry_policy": FAST}),
            "non_retryable_type": (quota, {"retry_policy": RetryPolicy(
                non_retryable_error_types=["QuotaError"])}),
            "application": (refuses, {}),
            "start_to_close": (too_slow, {"start_to_close_timeout": timedelta(seconds=1),
                                          "retry_policy": RetryPolicy(maximum_attempts=1)}),
            "heartbeat": (stops_heartbeating, {"heartbeat_timeout": timedelta(seconds=1),
                                               "retry_policy": RetryPolicy(maximum_attempts=1)}),
            "unknown": ("no_such_activity", {"retry_policy": RetryPolicy(maximum_attempts=1)}),
        }
        for name, (fn, options) in cases.items():
            options.setdefault("start_to_close_timeout", timedelta(seconds=10))
            try:
                await workflow.execute_activity(fn, **options)
                outcomes[name] = "completed"
            except ActivityError as error:
                outcomes[name] = _describe(error)
        return outcomes


WORKFLOWS = [Fails]
ACTIVITIES = [always_fails, quota, refuses, too_slow, stops_heartbeating]


async def run(client: object, task_queue: str) -> object:
    result = await client.execute_workflow(  # type: ignore[attr-defined]
        Fails.run, id=f"{task_queue}-wf", task_queue=task_queue)
    result["unknown"][3] = result["unknown"][3].replace(task_queue, "<task queue>")
    return result
