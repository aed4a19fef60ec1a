"""WorkflowHandle calls on closed runs and on a specific older run, with the exact error
types and messages: signal, cancel, terminate and execute_update of a closed run; cancel and
terminate naming an older run_id; get_update_handle / get_update_handle_for with an unknown
update id; describe() of a given run_id; fetch_history_events(wait_new_event=True) following a
run to its end; Client.get_workflow_handle_for with a run_id."""

from temporalio import workflow
from temporalio.client import Client, RPCError, WorkflowHistoryEventFilterType, WorkflowUpdateStage

from ._util import settle


@workflow.defn
class Gate:
    def __init__(self) -> None:
        self.open = False

    @workflow.run
    async def run(self, wait: bool) -> str:
        if wait:
            await workflow.wait_condition(lambda: self.open)
        return "through"

    @workflow.signal
    def release(self) -> None:
        self.open = True

    @workflow.update
    def poke(self, value: int) -> int:
        return value + 1


WORKFLOWS = [Gate]
ACTIVITIES: list[object] = []


async def _error(call: object) -> object:
    try:
        outcome = await call  # type: ignore[misc]
        return ["ok", outcome]
    except RPCError as error:
        # Temporal's message up to the first colon: Stalwart follows Temporal's text with
        # the workflow id, run id and status of the closed run.
        return ["RPCError", error.status.name, error.message.split(":")[0]]
    except Exception as error:  # the type and message are the observation
        cause = error.__cause__
        return [type(error).__name__, str(error),
                type(cause).__name__ if cause else None, str(cause) if cause else None]


def _name(event: object) -> str:
    """The event type's name on both sides: Temporal's is a protobuf enum number, Stalwart's
    a name (a documented difference of the event objects)."""
    kind = event.event_type  # type: ignore[attr-defined]
    if isinstance(kind, int):
        from temporalio.api.enums.v1 import EventType
        return "".join(w.title() for w in EventType.Name(kind)[len("EVENT_TYPE_"):].split("_"))
    return str(kind)


async def run(client: Client, task_queue: str) -> object:
    observed: dict[str, object] = {}
    wid = f"{task_queue}-gate"
    first = await client.start_workflow(Gate.run, False, id=wid, task_queue=task_queue)
    await first.result()
    observed["signal_closed"] = await _error(first.signal(Gate.release))
    observed["cancel_closed"] = await _error(first.cancel())
    observed["terminate_closed"] = await _error(first.terminate("late"))
    observed["update_closed"] = await _error(first.execute_update(Gate.poke, 1))
    observed["start_update_closed"] = await _error(first.start_update(
        Gate.poke, 1, wait_for_stage=WorkflowUpdateStage.ACCEPTED))
    observed["unknown_update_closed"] = await _error(
        first.get_update_handle("no-such-update").result())

    # A second run under the same id; the handle to the first run still names it.
    second = await client.start_workflow(Gate.run, True, id=wid, task_queue=task_queue)
    await settle(second)
    first_by_run = client.get_workflow_handle(wid, run_id=first.result_run_id)
    observed["cancel_old_run"] = await _error(first_by_run.cancel())
    observed["terminate_old_run"] = await _error(first_by_run.terminate("old"))
    observed["signal_old_run"] = await _error(first_by_run.signal(Gate.release))
    described = await first_by_run.describe()
    observed["describe_old_run"] = [described.run_id == first.result_run_id,
                                    described.status.name if described.status else None,
                                    described.close_time is not None]
    latest = await client.get_workflow_handle(wid).describe()
    observed["describe_latest"] = [latest.run_id == second.result_run_id,
                                   latest.status.name if latest.status else None,
                                   latest.close_time is None]
    observed["unknown_update_running"] = await _error(
        second.get_update_handle_for(Gate.poke, "no-such-update").result())
    observed["update_running"] = await _error(second.execute_update(Gate.poke, 41))
    await settle(second)

    # Long-poll the history to the close while the release arrives.
    events = second.fetch_history_events(wait_new_event=True)
    seen = []
    async for event in events:
        seen.append(_name(event))
        if seen[-1] == "WorkflowExecutionStarted":
            await second.signal(Gate.release)
        if seen[-1] == "WorkflowExecutionCompleted":
            break
    observed["followed_to_close"] = [len(seen) > 3, seen[-1]]
    close_only = [e async for e in second.fetch_history_events(
        wait_new_event=True, event_filter_type=WorkflowHistoryEventFilterType.CLOSE_EVENT,
        skip_archival=True)]
    observed["close_only"] = [_name(e) for e in close_only]
    observed["result_for_run"] = await client.get_workflow_handle_for(
        Gate.run, wid, run_id=second.result_run_id).result()
    observed["result_first_run"] = await client.get_workflow_handle_for(
        Gate.run, wid, run_id=first.result_run_id).result()
    return observed
