"""cancel() and terminate() through a start_workflow handle reach the latest run of the
continue-as-new chain; a handle whose first_execution_run_id names an older chain of the same
workflow id is refused."""

import asyncio

from temporalio import workflow
from temporalio.client import Client, RPCError, WorkflowFailureError

from ._util import settle


@workflow.defn
class Looper:
    @workflow.run
    async def run(self, generation: int) -> int:
        if generation == 0:
            workflow.continue_as_new(1)
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            return -generation
        return generation


WORKFLOWS = [Looper]
ACTIVITIES: list[object] = []


async def _second_run(handle: object) -> None:
    while (await handle.describe()).run_id == handle.result_run_id:  # type: ignore[attr-defined]
        await asyncio.sleep(0.01)
    # Its first workflow task done before the cancel or terminate: see _util.settle.
    await settle(handle)


async def run(client: Client, task_queue: str) -> object:
    observed: dict[str, object] = {}
    first = await client.start_workflow(Looper.run, 0, id=f"{task_queue}-a",
                                        task_queue=task_queue)
    await _second_run(first)
    await first.cancel()
    observed["cancelled_result"] = await first.result()

    second = await client.start_workflow(Looper.run, 0, id=f"{task_queue}-a",
                                         task_queue=task_queue)
    await _second_run(second)
    stale = client.get_workflow_handle(f"{task_queue}-a",
                                       first_execution_run_id=first.first_execution_run_id)
    try:
        await stale.cancel()
        observed["stale_cancel"] = "accepted"
    except RPCError as error:
        observed["stale_cancel"] = error.status.name
    try:
        await stale.terminate("stale")
        observed["stale_terminate"] = "accepted"
    except RPCError as error:
        observed["stale_terminate"] = error.status.name
    await second.terminate("done")
    try:
        await second.result()
    except WorkflowFailureError as error:
        observed["terminated"] = type(error.cause).__name__
    observed["final_status"] = (await second.describe()).status.name
    return observed
