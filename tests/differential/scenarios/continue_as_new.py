"""A counter that continues as new twice, carrying its state to each new run."""

from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client


@activity.defn
async def add_one(x: int) -> int:
    return x + 1


@workflow.defn
class Counter:
    @workflow.run
    async def run(self, value: int, runs_left: int) -> dict[str, int]:
        value = await workflow.execute_activity(add_one, value,
                                                start_to_close_timeout=timedelta(seconds=10))
        if runs_left > 0:
            workflow.continue_as_new(args=[value, runs_left - 1])
        return {"value": value, "history_length": workflow.info().get_current_history_length()}


WORKFLOWS = [Counter]
ACTIVITIES = [add_one]


async def run(client: Client, task_queue: str) -> object:
    return await client.execute_workflow(Counter.run, args=[10, 2], id=f"{task_queue}-counter",
                                         task_queue=task_queue)
