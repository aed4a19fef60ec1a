"""The workflow functions no other scenario calls: activity methods and classes as activities
(execute_activity_method, start/execute_local_activity_method and _class), handlers set at run
time (set_query_handler / set_update_handler and their getters), current_update_info,
all_handlers_finished, in_workflow, memo_value, time/time_ns, uuid4, metric_meter,
register_random_seed_callback, get_external_workflow_handle_for, and cancellation_reason after
a cancel from the client."""

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import CancelledError

from ._util import settle, wait_for_events, wait_for_query

TIMEOUT = timedelta(seconds=10)


class Tools:
    @activity.defn
    async def greet(self, name: str) -> str:
        return f"hi {name}"


@activity.defn
class Adder:
    async def __call__(self, value: int) -> int:
        return value + 1


@workflow.defn
class Rest:
    def __init__(self) -> None:
        self.finished = False
        self.stage = "starting"
        self.seen_updates: list[dict[str, Any]] = []

    @workflow.run
    async def run(self) -> dict[str, Any]:
        workflow.set_query_handler("dyn_q", lambda text: f"q:{text}")
        workflow.set_update_handler("dyn_u", self.dyn_update)
        handlers = [workflow.get_query_handler("dyn_q") is not None,
                    workflow.get_update_handler("dyn_u") is not None,
                    workflow.get_signal_handler("finish") is not None,
                    workflow.get_query_handler("missing") is None]
        # The client's query and update come first, then the activities run undisturbed.
        await workflow.wait_condition(lambda: bool(self.seen_updates))
        greeted = await workflow.execute_activity_method(Tools.greet, "ana",
                                                         start_to_close_timeout=TIMEOUT)
        # Awaited before the next local activity starts: two local activities in flight at
        # once do not replay from Temporal's history on Stalwart yet.
        local = await workflow.start_local_activity_method(Tools.greet, "bo",
                                                           start_to_close_timeout=TIMEOUT)
        added = await workflow.execute_local_activity_class(Adder, 1,
                                                            start_to_close_timeout=TIMEOUT)
        started = workflow.start_activity_class(Adder, 41, start_to_close_timeout=TIMEOUT)
        workflow.register_random_seed_callback(lambda seed: None)
        counter = workflow.metric_meter().create_counter("rest_steps")
        counter.add(1)
        external = workflow.get_external_workflow_handle_for(Rest.run, "no-such-workflow")
        self.stage = "waiting"
        await workflow.wait_condition(lambda: self.finished)
        return {
            "handlers": handlers, "greeted": greeted, "local": local, "added": added,
            "started": await started, "in_workflow": workflow.in_workflow(),
            "memo": workflow.memo_value("owner", default="nobody"),
            "memo_missing": workflow.memo_value("absent", default="fallback"),
            "time_matches_now": abs(workflow.time() - workflow.now().timestamp()) < 0.001,
            "time_ns_matches": abs(workflow.time_ns() / 1e9 - workflow.time()) < 0.001,
            "uuid4_version": workflow.uuid4().version, "external_id": external.id,
            "updates": self.seen_updates,
            "all_finished": workflow.all_handlers_finished(),
        }

    def dyn_update(self, text: str) -> str:
        info = workflow.current_update_info()
        self.seen_updates.append({"name": info.name if info else None,
                                  "has_id": bool(info and info.id), "text": text})
        return f"u:{text}"

    @workflow.signal
    def finish(self) -> None:
        self.finished = True

    @workflow.query
    def current_stage(self) -> str:
        return self.stage


@workflow.defn
class Cancellable:
    @workflow.run
    async def run(self) -> str:
        try:
            await workflow.wait_condition(lambda: False)
        except asyncio.CancelledError:
            return f"cancelled, reason={workflow.cancellation_reason()!r}"
        return "not cancelled"


WORKFLOWS = [Rest, Cancellable]
ACTIVITIES = [Tools().greet, Adder()]


async def run(client: Client, task_queue: str) -> object:
    handle = await client.start_workflow(Rest.run, id=f"{task_queue}-wf", task_queue=task_queue,
                                         memo={"owner": "ana"})
    await settle(handle)
    queried = await handle.query("dyn_q", "x")
    updated = await handle.execute_update("dyn_u", "y")
    # Both activities done (the local ones before them), read from the history: a query
    # polled meanwhile could reach Temporal's worker while it runs a local activity.
    await wait_for_events(handle, "EVENT_TYPE_ACTIVITY_TASK_COMPLETED", 2)
    await settle(handle)
    await wait_for_query(handle, "current_stage", "waiting")
    await handle.signal(Rest.finish)
    result = await handle.result()
    cancellable = await client.start_workflow(Cancellable.run, id=f"{task_queue}-cancel",
                                              task_queue=task_queue)
    await settle(cancellable)
    await cancellable.cancel()
    try:
        cancelled: Any = await cancellable.result()
    except WorkflowFailureError as error:
        cancelled = f"{type(error.cause).__name__}: {isinstance(error.cause, CancelledError)}"
    return {"query": queried, "update": updated, "result": result, "cancelled": cancelled}
