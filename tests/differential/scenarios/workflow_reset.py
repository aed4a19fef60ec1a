"""Workflow reset: to the workflow task that scheduled the second activity of a completed run,
with a signal after the point reapplied. Temporal is driven through its raw service
(``ResetWorkflowExecution``: temporalio has no reset method); Stalwart through
``WorkflowHandle.reset`` (its addition). The new run's history, result and the reset's task
failure are compared, and its randomness: draws before the point replay unchanged, from the
point on the run is reseeded from its own run id (``workflow.random()``, a ``new_random``
generator and the seed callbacks follow). The new run is then reset to its first workflow
task, where the reseed meets the workflow's start."""

import uuid
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.client import Client

from ._util import wait_for_query

CALLS: list[str] = []


@activity.defn
async def work(name: str) -> str:
    CALLS.append(name)
    return name.upper()


@workflow.defn
class ResetMe:
    def __init__(self) -> None:
        self.notes: list[str] = []
        self.waiting = False
        self.reseeds = 0
        workflow.register_random_seed_callback(self._reseeded)

    def _reseeded(self, seed: int) -> None:
        self.reseeds += 1

    @workflow.query
    def is_waiting(self) -> bool:
        return self.waiting

    @workflow.signal
    def note(self, text: str) -> None:
        self.notes.append(text)

    @workflow.run
    async def run(self) -> dict[str, Any]:
        named = workflow.new_random("named")
        # One draw in each workflow task: the first task's, the task that schedules "b" (the
        # reset point), the one after "b".
        draws = [[workflow.random().random(), named.random()]]
        done = []
        for name in ("a", "b"):
            done.append(await workflow.execute_activity(
                work, name, start_to_close_timeout=timedelta(seconds=10)))
            draws.append([workflow.random().random(), named.random()])
        self.waiting = True
        await workflow.wait_condition(lambda: bool(self.notes))
        return {"done": done + self.notes, "draws": draws, "reseeds": self.reseeds}


WORKFLOWS = [ResetMe]
ACTIVITIES = [work]

KNOWN_DIFFERENCES = {
    "attributes": (
        "random draws after a reset: Temporal's server gives the reset run a seed of its "
        "own; Stalwart derives it from the new run's id"
    ),
}


def _name(event: dict[str, Any]) -> str:
    return str(event["eventType"]).removeprefix("EVENT_TYPE_").replace("_", "").lower()


async def _events(handle: Any) -> list[dict[str, Any]]:
    """The run's events in Temporal's JSON form (the same shape on both sides)."""
    events: list[dict[str, Any]] = (await handle.fetch_history()).to_json_dict()["events"]
    return events


async def _reset(client: Client, handle: Any, event_id: int, reason: str,
                 run_id: str = "") -> str:
    if hasattr(handle, "reset"):  # Stalwart
        if run_id:
            handle = client.get_workflow_handle(handle.id, run_id=run_id)
        return str((await handle.reset(event_id=event_id, reason=reason)).run_id)
    from temporalio.api.common.v1 import WorkflowExecution
    from temporalio.api.workflowservice.v1 import ResetWorkflowExecutionRequest
    response = await client.workflow_service.reset_workflow_execution(
        ResetWorkflowExecutionRequest(
            namespace=client.namespace,
            workflow_execution=WorkflowExecution(workflow_id=handle.id, run_id=run_id),
            reason=reason, workflow_task_finish_event_id=event_id,
            request_id=str(uuid.uuid4())))
    return str(response.run_id)


async def run(client: Client, task_queue: str) -> object:
    CALLS.clear()
    handle = await client.start_workflow(ResetMe.run, id=f"{task_queue}-reset",
                                         task_queue=task_queue)
    await wait_for_query(handle, "is_waiting", True)
    await handle.signal(ResetMe.note, "after")
    first = await handle.result()
    events = await _events(handle)
    scheduled = [e for e in events if _name(e) == "activitytaskscheduled"]
    # The WorkflowTaskCompleted that scheduled "b".
    point = int(scheduled[1]["activityTaskScheduledEventAttributes"]
                ["workflowTaskCompletedEventId"])
    base_run = (await handle.describe()).run_id
    new_run = await _reset(client, handle, point, "try b again")
    new = client.get_workflow_handle(handle.id, run_id=new_run)
    second = await new.result()
    new_events = await _events(new)
    failed = next(e for e in new_events if int(e["eventId"]) == point)
    attrs = failed["workflowTaskFailedEventAttributes"]
    # The new run reset to its first workflow task.
    first_task = next(int(e["eventId"]) for e in new_events
                      if _name(e) == "workflowtaskcompleted")
    third_run = await _reset(client, handle, first_task, "from the start", run_id=new_run)
    third = await client.get_workflow_handle(handle.id, run_id=third_run).result()
    # Which draws a new run repeats: [workflow.random(), the named generator] per task.
    draws = [run.pop("draws") for run in (first, second, third)]
    same_draws = [[[a == b for a, b in zip(old, new, strict=True)]
                   for old, new in zip(draws[0], later, strict=True)] for later in draws[1:]]
    return {"first": first, "second": second, "third": third, "same_draws": same_draws,
            "calls": sorted(CALLS),
            "point_type": _name(events[point - 1]),
            "new_types": [_name(e) for e in new_events],
            "cause": attrs["cause"], "failure": attrs["failure"].get("message"),
            "links": [attrs["baseRunId"] == base_run, attrs["newRunId"] == new_run],
            "original": new_events[0]["workflowExecutionStartedEventAttributes"]
            ["originalExecutionRunId"] == base_run}
