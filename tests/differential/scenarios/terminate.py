"""Terminating a waiting workflow: result() raises with a TerminatedError cause, whose message
is the reason given, or Temporal's default without one; details given as arguments; and the
reason and details in the WorkflowExecutionTerminated event."""

from temporalio import workflow
from temporalio.client import Client, WorkflowFailureError

from ._util import wait_for_query


@workflow.defn
class Waiter:
    def __init__(self) -> None:
        self.ready = False

    @workflow.query
    def is_ready(self) -> bool:
        return self.ready

    @workflow.run
    async def run(self) -> str:
        self.ready = True
        await workflow.wait_condition(lambda: False)
        return "never"


WORKFLOWS = [Waiter]
ACTIVITIES: list[object] = []


async def _terminated(client: Client, workflow_id: str, *args: object,
                      **kwargs: object) -> object:
    handle = await client.start_workflow(Waiter.run, id=workflow_id,
                                         task_queue=workflow_id.rsplit("-", 1)[0])
    await wait_for_query(handle, "is_ready", True)
    await handle.terminate(*args, **kwargs)  # type: ignore[arg-type]
    observed: dict[str, object] = {}
    try:
        await handle.result()
        observed["outcome"] = "completed"
    except WorkflowFailureError as error:
        cause = error.cause
        observed["outcome"] = [type(cause).__name__, str(cause),
                               list(getattr(cause, "details", ()))]
    events = (await handle.fetch_history()).to_json_dict()["events"]
    attributes = events[-1].get("workflowExecutionTerminatedEventAttributes", {})
    observed["event_reason"] = attributes.get("reason")
    observed["event_has_details"] = bool(attributes.get("details", {}).get("payloads"))
    return observed


async def run(client: Client, task_queue: str) -> object:
    return {
        "details_only": await _terminated(client, f"{task_queue}-details",
                                          "operator said stop"),
        "reason": await _terminated(client, f"{task_queue}-reason", reason="maintenance"),
        "nothing": await _terminated(client, f"{task_queue}-nothing"),
    }
