"""Event Groups (``workflow.create_event_group``, ``EventGroup.scope()``, the ``event_groups=``
option) in history: each command's event carries the markers of its groups
(``eventGroupMarkers``): a label group's id and its label as a JSON payload, the implicit
group of a signal handler (the signal's event id) or an update handler (the update's id),
nested scopes, a local activity's marker, a patch's marker and its search-attribute upsert,
a memo upsert, a child, a timer and its cancellation."""

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.client import Client

from ._util import settle, wait_for_query


@activity.defn
async def echo(value: str) -> str:
    return value


@workflow.defn
class Leaf:
    @workflow.run
    async def run(self) -> str:
        return "leaf"


@workflow.defn
class Grouped:
    def __init__(self) -> None:
        self.stage = "running"
        self.signalled = False
        self.updated = False

    @workflow.run
    async def run(self) -> str:
        first = workflow.create_event_group("first", label="The first group")
        second = workflow.create_event_group("second")
        await workflow.execute_activity(echo, "plain", start_to_close_timeout=timedelta(seconds=10))
        await workflow.execute_activity(echo, "direct", event_groups=[first],
                                        start_to_close_timeout=timedelta(seconds=10))
        with first.scope():
            await workflow.sleep(timedelta(milliseconds=10))
            with second.scope():
                await workflow.execute_child_workflow(Leaf.run,
                                                      id=f"{workflow.info().workflow_id}-leaf")
            await workflow.execute_local_activity(echo, "local",
                                                  start_to_close_timeout=timedelta(seconds=10))
            workflow.patched("grouped-patch")
            workflow.upsert_memo({"note": "grouped"})
            long = asyncio.ensure_future(workflow.sleep(timedelta(hours=1)))
            await workflow.sleep(timedelta(milliseconds=10), event_groups=[second])
            long.cancel()
        self.stage = "waiting"
        await workflow.wait_condition(lambda: self.signalled)
        self.stage = "signalled"
        await workflow.wait_condition(lambda: self.updated)
        return "done"

    @workflow.signal
    async def poke(self) -> None:
        await workflow.sleep(timedelta(milliseconds=10))
        self.signalled = True

    @workflow.update
    async def change(self) -> str:
        await workflow.execute_activity(echo, "from the update",
                                        start_to_close_timeout=timedelta(seconds=10))
        self.updated = True
        return "changed"

    @workflow.query
    def where(self) -> str:
        return self.stage


WORKFLOWS = [Grouped, Leaf]
ACTIVITIES = [echo]


async def _past_the_local_activity(handle: Any) -> None:
    """Wait, reading the history (which records nothing for the reading), until the run has
    cancelled its long timer, well after its local activity, and settled. Only then is it
    queried: on Temporal a query that arrives while the local activity holds a workflow task
    open is held for that task and can cost the run a workflow task more."""
    for _ in range(1200):
        types = [e["eventType"] for e in (await handle.fetch_history()).to_json_dict()["events"]]
        if "EVENT_TYPE_TIMER_CANCELED" in types:
            await settle(handle)
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the run never cancelled its long timer")


async def run(client: Client, task_queue: str) -> object:
    handle = await client.start_workflow(Grouped.run, id=f"{task_queue}-grouped",
                                         task_queue=task_queue)
    await _past_the_local_activity(handle)
    await wait_for_query(handle, Grouped.where, "waiting")
    await settle(handle)
    await handle.signal(Grouped.poke)
    await wait_for_query(handle, Grouped.where, "signalled")
    await settle(handle)
    updated = await handle.execute_update(Grouped.change, id="the-update")
    result = await handle.result()
    events = (await handle.fetch_history()).to_json_dict()["events"]
    types = {e["eventId"]: e["eventType"].removeprefix("EVENT_TYPE_") for e in events}
    grouped: list[Any] = []
    for event in events:
        markers = event.get("eventGroupMarkers")
        if markers:
            # Event ids depend on how workflow tasks fell (local activities); what an
            # implicit signal group points at does not.
            grouped.append([types[event["eventId"]], [
                {"inboundEvent": types[m["inboundEvent"]["inboundEventId"]]}
                if "inboundEvent" in m else m for m in markers]])
    return {"result": result, "update": updated, "grouped_events": grouped}
