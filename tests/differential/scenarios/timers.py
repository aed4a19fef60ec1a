"""Durable timers: a plain sleep, and a timer cancelled when wait_for times out first."""

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.client import Client


@workflow.defn
class TimerWorkflow:
    @workflow.run
    async def run(self) -> dict[str, Any]:
        start = workflow.now()
        await workflow.sleep(timedelta(milliseconds=300))
        waited = (workflow.now() - start) >= timedelta(milliseconds=300)
        try:
            await workflow.wait_condition(lambda: False, timeout=timedelta(milliseconds=200))
            timed_out = False
        except TimeoutError:
            timed_out = True
        return {"waited": waited, "timed_out": timed_out}


WORKFLOWS = [TimerWorkflow]
ACTIVITIES: list[object] = []


async def run(client: Client, task_queue: str) -> object:
    return await client.execute_workflow(TimerWorkflow.run, id=f"{task_queue}-timers",
                                         task_queue=task_queue)
