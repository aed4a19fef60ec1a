"""Signalling and cancelling a workflow that does not exist: both fail, and the workflow sees
the errors."""

from temporalio import workflow
from temporalio.client import Client


@workflow.defn
class Lonely:
    @workflow.run
    async def run(self) -> dict[str, str]:
        missing = workflow.get_external_workflow_handle(f"{workflow.info().workflow_id}-nobody")
        out = {}
        try:
            await missing.signal("hello")
            out["signal"] = "delivered"
        except Exception as error:
            out["signal"] = type(error).__name__
        try:
            await missing.cancel()
            out["cancel"] = "delivered"
        except Exception as error:
            out["cancel"] = type(error).__name__
        return out


WORKFLOWS = [Lonely]
ACTIVITIES: list[object] = []


async def run(client: Client, task_queue: str) -> object:
    return await client.execute_workflow(Lonely.run, id=f"{task_queue}-lonely",
                                         task_queue=task_queue)
