"""An activity that fails twice and then succeeds; one that fails for good (non-retryable)."""

from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

_attempts: dict[str, int] = {}


@activity.defn
async def flaky(key: str) -> str:
    _attempts[key] = _attempts.get(key, 0) + 1
    if activity.info().attempt < 3:
        raise RuntimeError(f"attempt {activity.info().attempt} failed")
    return f"{key} done after {activity.info().attempt} attempts"


@activity.defn
async def broken(reason: str) -> str:
    raise ApplicationError(f"cannot: {reason}", type="Broken", non_retryable=True)


@workflow.defn
class RetryWorkflow:
    @workflow.run
    async def run(self, key: str) -> dict[str, str]:
        policy = RetryPolicy(initial_interval=timedelta(milliseconds=50),
                             backoff_coefficient=1.0)
        done = await workflow.execute_activity(flaky, key, retry_policy=policy,
                                               start_to_close_timeout=timedelta(seconds=10))
        try:
            await workflow.execute_activity(broken, "no stock", retry_policy=policy,
                                            start_to_close_timeout=timedelta(seconds=10))
            failed = "no error"
        except ActivityError as error:
            cause = error.cause
            failed = f"{type(cause).__name__}:{getattr(cause, 'type', '')}:{cause.message}"
        return {"done": done, "failed": failed}


WORKFLOWS = [RetryWorkflow]
ACTIVITIES = [flaky, broken]


async def run(client: Client, task_queue: str) -> object:
    return await client.execute_workflow(RetryWorkflow.run, "k1", id=f"{task_queue}-retry",
                                         task_queue=task_queue)
