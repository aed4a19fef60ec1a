"""A cancel request for a workflow that has closed is accepted and changes nothing, as in
Temporal (differential scenario cancel_closed_external); for a nonexistent one it fails."""

from __future__ import annotations

from typing import Any

from stalwart import workflow
from stalwart.client import Client, WorkflowExecutionStatus
from stalwart.worker import Worker


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
        for label, workflow_id, run_id in (("with_run_id", target_id, target_run_id),
                                           ("latest", target_id, None),
                                           ("missing", f"{target_id}-nobody", None)):
            try:
                await workflow.get_external_workflow_handle(workflow_id, run_id=run_id).cancel()
                out[label] = "accepted"
            except Exception as error:
                out[label] = type(error).__name__
        return out


async def test_cancel_of_a_closed_workflow_is_accepted(client: Client, task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[Quick, Asker]):
        target = await client.start_workflow(Quick.run, id="quick", task_queue=task_queue)
        await target.result()
        asked = await client.execute_workflow(Asker.run, args=[target.id, target.result_run_id],
                                              id="asker", task_queue=task_queue)
    assert asked == {"with_run_id": "accepted", "latest": "accepted",
                     "missing": "ApplicationError"}
    described = await target.describe()
    assert described.status == WorkflowExecutionStatus.COMPLETED
    assert described.history_length == 5  # nothing was added to the closed run
