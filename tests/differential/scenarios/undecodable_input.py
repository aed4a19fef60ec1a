"""A workflow whose input does not fit its run method's type hints: temporalio fails the
workflow task ("Failed decoding arguments") and retries it, so the run waits for a deployment
whose types fit, instead of failing; an activity whose input does not fit fails the attempt."""

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError


@activity.defn
async def count(items: list[int]) -> int:
    return len(items)


@workflow.defn
class Counter:
    @workflow.run
    async def run(self, items: list[int]) -> int:
        return await workflow.execute_activity(count, items,
                                               start_to_close_timeout=timedelta(seconds=10))


@workflow.defn
class Caller:
    @workflow.run
    async def run(self) -> list[Any]:
        try:
            return ["ok", await workflow.execute_activity(
                "count", ["not a number"], start_to_close_timeout=timedelta(seconds=10),
                retry_policy=RetryPolicy(maximum_attempts=1))]
        except ActivityError as error:
            return [type(error.cause).__name__]


WORKFLOWS = [Counter, Caller]
ACTIVITIES = [count]

KNOWN_DIFFERENCES = {
    "attributes": (
        "the failures of arguments that do not decode: Stalwart's message names the "
        "activity or workflow and the value, and an activity's is not retried (Temporal's "
        "says 'Failed decoding arguments' and retries it)"
    ),
}


async def _first_task_failure(handle: Any) -> str | None:
    for _ in range(400):
        events = (await handle.fetch_history()).to_json_dict()["events"]
        for event in events:
            failed = event.get("workflowTaskFailedEventAttributes")
            if failed:
                return str(failed.get("failure", {}).get("message"))
        await asyncio.sleep(0.05)
    return None


async def run(client: Client, task_queue: str) -> object:
    observed: dict[str, Any] = {"activity": await client.execute_workflow(
        Caller.run, id=f"{task_queue}-caller", task_queue=task_queue)}
    handle = await client.start_workflow("Counter", ["a", "b"], id=f"{task_queue}-input",
                                         task_queue=task_queue)
    message = await _first_task_failure(handle)
    # Stalwart's message goes on to say which workflow and why; Temporal's begins the same.
    observed["task_failure"] = message is not None and \
        message.split(" (")[0].endswith("Failed decoding arguments")
    await handle.terminate("done")
    return observed
