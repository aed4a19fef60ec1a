"""Signals and updates: a signal sent before its handler is registered is buffered and
delivered; dynamic signal and update handlers; a failing update handler; an update to a
closed workflow; the same update id sent twice runs once; a failing query handler."""

from collections.abc import Sequence

from temporalio import workflow
from temporalio.client import (
    Client,
    RPCError,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
)
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError

from ._util import settle


@workflow.defn
class Mailbox:
    def __init__(self) -> None:
        self.seen: list[str] = []
        self.done = False
        self.counter = 0

    @workflow.run
    async def run(self) -> list[str]:
        await workflow.wait_condition(lambda: len(self.seen) >= 1)
        workflow.set_signal_handler("late", lambda value: self.seen.append(f"late:{value}"))
        await workflow.wait_condition(lambda: self.done)
        return self.seen

    @workflow.signal
    def early(self, value: str) -> None:
        self.seen.append(f"early:{value}")

    @workflow.signal(dynamic=True)
    def anything(self, name: str, args: Sequence[RawValue]) -> None:
        value = workflow.payload_converter().from_payload(args[0].payload, str)
        self.seen.append(f"dynamic:{name}:{value}")

    @workflow.signal
    def finish(self) -> None:
        self.done = True

    @workflow.update
    def bump(self) -> int:
        self.counter += 1
        return self.counter

    @workflow.update
    def explode(self) -> None:
        raise ApplicationError("update handler failed", type="Boom")

    @workflow.update(dynamic=True)
    def any_update(self, name: str, args: Sequence[RawValue]) -> str:
        return f"dynamic update {name}"

    @workflow.query
    def broken(self) -> str:
        raise ValueError("query handler failed")


WORKFLOWS = [Mailbox]
ACTIVITIES: list[object] = []


async def run(client: Client, task_queue: str) -> object:
    handle = await client.start_workflow(Mailbox.run, id=f"{task_queue}-wf",
                                         task_queue=task_queue)
    observed: dict[str, object] = {}
    # Each input once the previous one is handled: see _util.settle.
    await settle(handle)
    await handle.signal("late", "before-registration")
    await settle(handle)
    await handle.signal(Mailbox.early, "one")
    await settle(handle)
    await handle.signal("unregistered", "x")
    await settle(handle)
    observed["bump"] = [await handle.execute_update(Mailbox.bump, id="same"),
                        await handle.execute_update(Mailbox.bump, id="same"),
                        await handle.execute_update(Mailbox.bump)]
    try:
        await handle.execute_update(Mailbox.explode)
    except WorkflowUpdateFailedError as error:
        observed["explode"] = [type(error.cause).__name__, str(error.cause)]
    observed["dynamic_update"] = await handle.execute_update("whatever")
    try:
        await handle.query(Mailbox.broken)
    except WorkflowQueryFailedError as error:
        observed["broken_query"] = str(error)
    await handle.signal(Mailbox.finish)
    observed["result"] = sorted(await handle.result())
    try:
        await handle.execute_update(Mailbox.bump)
        observed["update_closed"] = "accepted"
    except RPCError as error:
        observed["update_closed"] = ["RPCError", error.status.name]
    except WorkflowUpdateFailedError as error:
        observed["update_closed"] = ["WorkflowUpdateFailedError", str(error.cause)]
    return observed
