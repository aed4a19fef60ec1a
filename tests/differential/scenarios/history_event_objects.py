"""A fetched history read as temporalio code reads it: ``event.event_type`` against
``temporalio.api.enums.v1.EventType``, ``WhichOneof("attributes")``, the attributes as
messages (nested messages, durations, timestamps, enums, payloads, unset fields as defaults,
``HasField``) over an activity retried then failed for good, a timer, a signal, a child and a
patch marker."""

from datetime import datetime, timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.api.enums.v1 import EventType, RetryState, TimeoutType
from temporalio.client import Client
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

from ._util import settle

ATTEMPTS: dict[str, int] = {}


@activity.defn
async def flaky(key: str) -> str:
    ATTEMPTS[key] = ATTEMPTS.get(key, 0) + 1
    if ATTEMPTS[key] == 1:
        raise ApplicationError("first try fails", type="Transient")
    return f"done {key}"


@activity.defn
async def broken(key: str) -> str:
    raise ApplicationError(f"{key} is broken", {"why": "on purpose"}, type="Broken",
                           non_retryable=True)


@workflow.defn
class Helper:
    @workflow.run
    async def run(self, n: int) -> int:
        return n * 2


@workflow.defn
class Reader:
    def __init__(self) -> None:
        self.notes: list[str] = []

    @workflow.signal
    def note(self, text: str) -> None:
        self.notes.append(text)

    @workflow.run
    async def run(self, key: str) -> dict[str, Any]:
        await workflow.wait_condition(lambda: bool(self.notes))
        patched = workflow.patched("reader-v2")
        first = await workflow.execute_activity(
            flaky, key, start_to_close_timeout=timedelta(seconds=10), summary="flaky one",
            heartbeat_timeout=timedelta(seconds=7),
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=50),
                                     backoff_coefficient=1.5, maximum_attempts=4,
                                     non_retryable_error_types=["Fatal"]))
        failure = ""
        try:
            await workflow.execute_activity(broken, key,
                                            schedule_to_close_timeout=timedelta(seconds=20))
        except ActivityError as error:
            failure = str(error.cause)
        await workflow.sleep(timedelta(milliseconds=20), summary="a short nap")
        doubled = await workflow.execute_child_workflow(Helper.run, 21,
                                                        id=f"{workflow.info().workflow_id}-c",
                                                        static_summary="helps")
        return {"first": first, "failure": failure, "doubled": doubled, "patched": patched,
                "notes": self.notes}


WORKFLOWS = [Reader, Helper]
ACTIVITIES = [flaky, broken]


def _failure(failure: Any) -> dict[str, Any]:
    info = failure.application_failure_info
    return {"message": failure.message, "which": failure.WhichOneof("failure_info"),
            "type": info.type, "non_retryable": info.non_retryable,
            "details": len(info.details.payloads), "has_cause": failure.HasField("cause")}


def _read(event: Any, decode: Any) -> dict[str, Any]:
    kind = EventType.Name(event.event_type)
    which = event.WhichOneof("attributes")
    out: dict[str, Any] = {"type": kind, "which": which, "has": event.HasField(which),
                           "time_is_naive": isinstance(event.event_time.ToDatetime(), datetime)
                           and event.event_time.ToDatetime().tzinfo is None}
    if event.HasField("user_metadata"):
        metadata = event.user_metadata
        out["metadata"] = [decode([metadata.summary]) if metadata.HasField("summary") else None,
                           decode([metadata.details]) if metadata.HasField("details") else None]
    if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
        a = event.workflow_execution_started_event_attributes
        out.update(workflow_type=a.workflow_type.name, input=decode(a.input.payloads),
                   attempt=a.attempt, has_parent=a.HasField("parent_workflow_execution"),
                   parent_id=a.parent_workflow_execution.workflow_id,
                   task_timeout=a.workflow_task_timeout.ToTimedelta().total_seconds(),
                   run_timeout=a.workflow_run_timeout.ToTimedelta().total_seconds(),
                   retry_attempts=a.retry_policy.maximum_attempts,
                   cron=a.cron_schedule, first_backoff=a.first_workflow_task_backoff.seconds)
    elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
        a = event.activity_task_scheduled_event_attributes
        policy = a.retry_policy
        out.update(activity=a.activity_type.name, input=decode(a.input.payloads),
                   start_to_close=a.start_to_close_timeout.ToTimedelta().total_seconds(),
                   heartbeat=a.heartbeat_timeout.ToTimedelta().total_seconds(),
                   initial=policy.initial_interval.ToMilliseconds(),
                   coefficient=policy.backoff_coefficient, attempts=policy.maximum_attempts,
                   non_retryable=list(policy.non_retryable_error_types),
                   completed_by=a.workflow_task_completed_event_id)
    elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
        a = event.activity_task_started_event_attributes
        out.update(attempt=a.attempt, scheduled=a.scheduled_event_id,
                   has_last_failure=a.HasField("last_failure"),
                   last_failure=a.last_failure.message)
    elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
        a = event.activity_task_completed_event_attributes
        out.update(result=decode(a.result.payloads), scheduled=a.scheduled_event_id,
                   started=a.started_event_id)
    elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED:
        a = event.activity_task_failed_event_attributes
        final = a.retry_state == RetryState.RETRY_STATE_NON_RETRYABLE_FAILURE
        out.update(failure=_failure(a.failure), retry_state=RetryState.Name(a.retry_state),
                   non_retryable_state=final)
    elif event.event_type == EventType.EVENT_TYPE_TIMER_STARTED:
        a = event.timer_started_event_attributes
        out.update(fire_after=a.start_to_fire_timeout.ToMilliseconds())
    elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
        a = event.workflow_execution_signaled_event_attributes
        out.update(signal=a.signal_name, input=decode(a.input.payloads))
    elif event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
        a = event.marker_recorded_event_attributes
        out.update(marker=a.marker_name, detail_keys=sorted(a.details.keys()))
    elif event.event_type == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
        a = event.start_child_workflow_execution_initiated_event_attributes
        out.update(child_type=a.workflow_type.name, input=decode(a.input.payloads),
                   parent_close_policy=int(a.parent_close_policy))
    elif event.event_type == EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED:
        a = event.child_workflow_execution_completed_event_attributes
        out.update(child_type=a.workflow_type.name, result=decode(a.result.payloads),
                   initiated=a.initiated_event_id, started=a.started_event_id)
    elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
        a = event.workflow_execution_completed_event_attributes
        out.update(result=decode(a.result.payloads), new_run=a.new_execution_run_id)
    return out


async def run(client: Client, task_queue: str) -> object:
    handle = await client.start_workflow(Reader.run, "box", id=f"{task_queue}-reader",
                                         task_queue=task_queue, static_summary="reads",
                                         static_details="reads the history")
    await settle(handle)
    await handle.signal(Reader.note, "hello")
    await handle.result()
    converter = client.data_converter.payload_converter

    def decode(payloads: Any) -> list[Any]:
        return converter.from_payloads(list(payloads))

    events = [_read(event, decode) async for event in handle.fetch_history_events()]
    history = await handle.fetch_history()
    return {"events": events,
            "same_as_fetch_history": [EventType.Name(e.event_type) for e in history.events]
            == [e["type"] for e in events],
            "timer_fired_listed": EventType.EVENT_TYPE_TIMER_FIRED in
            [int(e.event_type) for e in history.events],
            "empty_other_attributes": history.events[0].timer_fired_event_attributes.timer_id,
            "timeout_name": TimeoutType.Name(TimeoutType.TIMEOUT_TYPE_HEARTBEAT)}
