"""A handle from start_workflow has run_id=None and follows the continue-as-new chain:
signals, queries, updates, describe and cancel sent after the first run continued-as-new
reach the latest run; only result() is tied to the first run's result chain."""

import asyncio

from temporalio import workflow
from temporalio.client import Client

from ._util import settle


@workflow.defn
class Counter:
    def __init__(self) -> None:
        self.seen: list[str] = []
        self.done = False

    @workflow.run
    async def run(self, generation: int) -> str:
        if generation == 0:
            await workflow.wait_condition(lambda: bool(self.seen))
            workflow.continue_as_new(1)
        await workflow.wait_condition(lambda: self.done)
        return f"generation {generation} saw {self.seen}"

    @workflow.signal
    def add(self, value: str) -> None:
        self.seen.append(value)

    @workflow.signal
    def finish(self) -> None:
        self.done = True

    @workflow.query
    def values(self) -> list[str]:
        return list(self.seen)

    @workflow.query
    def generation(self) -> int:
        return workflow.info().continued_run_id is not None

    @workflow.update
    def add_now(self, value: str) -> int:
        self.seen.append(value)
        return len(self.seen)


WORKFLOWS = [Counter]
ACTIVITIES: list[object] = []


async def run(client: Client, task_queue: str) -> object:
    handle = await client.start_workflow(Counter.run, 0, id=f"{task_queue}-wf",
                                         task_queue=task_queue)
    observed: dict[str, object] = {
        "run_id_is_none": handle.run_id is None,
        "result_run_id_set": handle.result_run_id is not None,
        "first_execution_run_id_is_result_run_id":
            handle.first_execution_run_id == handle.result_run_id,
    }
    # Each input once the previous one is handled: see _util.settle.
    await settle(handle)
    await handle.signal(Counter.add, "first")
    # Wait until the second run is the latest: describe follows the chain.
    while (await handle.describe()).run_id == handle.result_run_id:
        await asyncio.sleep(0.05)
    description = await handle.describe()
    observed["describe_status"] = description.status.name if description.status else None
    observed["describe_run_is_new"] = description.run_id != handle.result_run_id
    await settle(handle)  # the latest run, as every call through this handle
    await handle.signal(Counter.add, "second")
    await settle(handle)
    observed["update"] = await handle.execute_update(Counter.add_now, "third")
    observed["query"] = await handle.query(Counter.values)
    observed["continued"] = await handle.query(Counter.generation)
    await handle.signal(Counter.finish)
    observed["result"] = await handle.result()
    return observed
