"""Asking a workflow that has already closed to cancel, from another workflow: with its run
id and without. Temporal accepts both requests (the asking workflow sees them delivered),
and the closed workflow is unchanged."""

from typing import Any

from temporalio import workflow
from temporalio.client import Client


@workflow.defn
class Quick:
    @workflow.run
    async def run(self) -> str:
        return "done"


@workflow.defn
class Asker:
    @workflow.run
    async def run(self, target_id: str, target_run_id: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for label, run_id in (("with_run_id", target_run_id), ("latest", None)):
            handle = workflow.get_external_workflow_handle(target_id, run_id=run_id)
            try:
                await handle.cancel()
                out[label] = "accepted"
            except Exception as error:
                out[label] = type(error).__name__
        return out


WORKFLOWS = [Quick, Asker]
ACTIVITIES: list[object] = []


async def run(client: Client, task_queue: str) -> object:
    target = await client.start_workflow(Quick.run, id=f"{task_queue}-quick",
                                         task_queue=task_queue)
    await target.result()
    asked = await client.execute_workflow(
        Asker.run, args=[target.id, target.result_run_id], id=f"{task_queue}-asker",
        task_queue=task_queue)
    described = await target.describe()
    return {"asked": asked, "target": described.status.name if described.status else None}
