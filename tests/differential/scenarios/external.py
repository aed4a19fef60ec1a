"""Workflows acting on other workflows by id: one signals, another cancels."""

import asyncio

from temporalio import workflow
from temporalio.client import Client, WorkflowFailureError

from ._util import wait_for_query


@workflow.defn
class Listener:
    def __init__(self) -> None:
        self.heard: list[str] = []
        self.listening = False

    @workflow.signal
    def hear(self, word: str) -> None:
        self.heard.append(word)

    @workflow.query
    def count(self) -> int:
        return len(self.heard)

    @workflow.run
    async def run(self) -> list[str]:
        await workflow.wait_condition(lambda: len(self.heard) >= 1)
        await workflow.wait_condition(lambda: False)
        return self.heard


@workflow.defn
class Greeter:
    @workflow.run
    async def run(self, target: str) -> str:
        await workflow.get_external_workflow_handle(target).signal(Listener.hear, "hello")
        return "signalled"


@workflow.defn
class Stopper:
    @workflow.run
    async def run(self, target: str) -> str:
        await workflow.get_external_workflow_handle(target).cancel()
        return "cancelled"


WORKFLOWS = [Listener, Greeter, Stopper]
ACTIVITIES: list[object] = []


async def run(client: Client, task_queue: str) -> object:
    listener = await client.start_workflow(Listener.run, id=f"{task_queue}-listener",
                                           task_queue=task_queue)
    await wait_for_query(listener, "count", 0)
    greeted = await client.execute_workflow(Greeter.run, listener.id,
                                            id=f"{task_queue}-greeter", task_queue=task_queue)
    await wait_for_query(listener, "count", 1)
    stopped = await client.execute_workflow(Stopper.run, listener.id,
                                            id=f"{task_queue}-stopper", task_queue=task_queue)
    try:
        await asyncio.wait_for(listener.result(), 30)
        outcome = "completed"
    except WorkflowFailureError as error:
        outcome = type(error.cause).__name__
    return {"greeter": greeted, "stopper": stopped, "listener": outcome}
