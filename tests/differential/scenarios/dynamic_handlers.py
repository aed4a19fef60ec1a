"""Dynamic workflows, activities, signals, queries and updates: any type or name lands on
the dynamic definition, which reads its arguments as RawValues; what it sees (names,
arguments, info) and what callers get back, including a static handler beside a dynamic one."""

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.common import RawValue

from ._util import settle, wait_for_events


@activity.defn(dynamic=True)
async def any_activity(args: Sequence[RawValue]) -> str:
    values = [activity.payload_converter().from_payload(a.payload) for a in args]
    return f"{activity.info().activity_type}{values}"


@workflow.defn(dynamic=True)
class AnyWorkflow:
    def __init__(self) -> None:
        self.seen: list[Any] = []
        self.done = False

    @workflow.signal(dynamic=True)
    def any_signal(self, name: str, args: Sequence[RawValue]) -> None:
        self.seen.append(["signal", name, [workflow.payload_converter().from_payload(a.payload)
                                           for a in args]])

    @workflow.signal
    def static(self, value: int) -> None:
        self.seen.append(["static", value])

    @workflow.query(dynamic=True)
    def any_query(self, name: str, args: Sequence[RawValue]) -> Any:
        return [name, [workflow.payload_converter().from_payload(a.payload) for a in args],
                len(self.seen)]

    @workflow.update(dynamic=True)
    def any_update(self, name: str, args: Sequence[RawValue]) -> str:
        self.done = True
        return f"update {name} with {len(args)} args"

    @workflow.run
    async def run(self, args: Sequence[RawValue]) -> Any:
        values = [workflow.payload_converter().from_payload(a.payload) for a in args]
        await workflow.wait_condition(lambda: len(self.seen) >= 2)
        made_up = await workflow.execute_activity(
            "made_up_activity", args=values, start_to_close_timeout=timedelta(seconds=10))
        await workflow.wait_condition(lambda: self.done)
        return {"type": workflow.info().workflow_type, "args": values, "activity": made_up,
                "seen": self.seen}


WORKFLOWS = [AnyWorkflow]
ACTIVITIES = [any_activity]


async def run(client: Client, task_queue: str) -> object:
    handle = await client.start_workflow("SomeType", args=["hello", 3],
                                         id=f"{task_queue}-dynamic", task_queue=task_queue)
    await settle(handle)
    await handle.signal("anything", "sig")
    await settle(handle)
    await handle.signal("static", 5)
    # Until the activity is done and the run waits for the update.
    await wait_for_events(handle, "EVENT_TYPE_ACTIVITY_TASK_COMPLETED", 1)
    await settle(handle)
    queried = await handle.query("whatever", args=[1, "two"])
    answer = await handle.execute_update("finish", args=["now", 1])
    return {"queried": queried, "answer": answer, "result": await handle.result()}
