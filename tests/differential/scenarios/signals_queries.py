"""Signals drive a workflow waiting on a condition; queries read its state."""

from temporalio import workflow
from temporalio.client import Client

from ._util import wait_for_query


@workflow.defn
class Inbox:
    def __init__(self) -> None:
        self.items: list[str] = []
        self.closed = False

    @workflow.signal
    def add(self, item: str) -> None:
        self.items.append(item)

    @workflow.signal
    def close(self) -> None:
        self.closed = True

    @workflow.query
    def count(self) -> int:
        return len(self.items)

    @workflow.run
    async def run(self) -> list[str]:
        await workflow.wait_condition(lambda: self.closed)
        return self.items


WORKFLOWS = [Inbox]
ACTIVITIES: list[object] = []


async def run(client: Client, task_queue: str) -> object:
    handle = await client.start_workflow(Inbox.run, id=f"{task_queue}-inbox",
                                         task_queue=task_queue)
    await wait_for_query(handle, "count", 0)
    await handle.signal(Inbox.add, "a")
    await wait_for_query(handle, "count", 1)
    await handle.signal(Inbox.add, "b")
    await wait_for_query(handle, "count", 2)
    seen = await handle.query(Inbox.count)
    await handle.signal(Inbox.close)
    return {"seen": seen, "result": await handle.result()}
