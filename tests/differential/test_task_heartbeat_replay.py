"""Temporal histories whose workflow tasks were heartbeated replay on Stalwart.

While a local activity runs longer than most of the workflow task's timeout, Temporal's SDK
completes the task (with no commands, or with the markers of the local activities done so
far) and carries on in a new one. The histories below are built by hand in Temporal's JSON
form, shaped as such a run records them: a heartbeat with no commands, one between two
local-activity markers, and one between a timer's start and its firing. One more was written
by a real Temporal dev server for each workflow below, run with ``task_timeout=1s`` and an
activity that sleeps as long as its argument says (2.5 s for the slow ones), in
``heartbeat_histories``."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from stalwart import exceptions, workflow
from stalwart.client import WorkflowHistory
from stalwart.worker import Replayer

START = 1796551223.0  # any instant: replay reads times only from the history
RUN_ID = "01a24acc-27a7-7693-a8cf-c18d8fe3dbdb"
TIMEOUT = timedelta(seconds=30)


@workflow.defn(name="SlowLookups")
class SlowLookups:
    @workflow.run
    async def run(self) -> str:
        first = await workflow.execute_local_activity("lookup", "a",
                                                      start_to_close_timeout=TIMEOUT)
        timer = asyncio.create_task(workflow.sleep(timedelta(seconds=5)))
        second = await workflow.execute_local_activity("lookup", "b",
                                                       start_to_close_timeout=TIMEOUT)
        await timer
        return f"{first}{second}"


@workflow.defn(name="SlowLA")
class SlowLocals:
    @workflow.run
    async def run(self) -> str:
        first = await workflow.execute_local_activity("slow", "a",
                                                      start_to_close_timeout=TIMEOUT)
        second = await workflow.execute_local_activity("slow", "b",
                                                       start_to_close_timeout=TIMEOUT)
        return f"{first}{second}"


@workflow.defn(name="Together")
class Together:
    """A quick and a slow local activity started together: the quick one's marker is recorded
    in the first heartbeat, the slow one's three heartbeats later."""

    @workflow.run
    async def run(self) -> list[float]:
        both = await asyncio.gather(
            workflow.execute_local_activity("nap", 0.1, start_to_close_timeout=TIMEOUT),
            workflow.execute_local_activity("nap", 2.5, start_to_close_timeout=TIMEOUT))
        third = await workflow.execute_local_activity("nap", 0.1, start_to_close_timeout=TIMEOUT)
        return [*both, third]


def payload(value: Any) -> dict[str, Any]:
    return {"metadata": {"encoding": base64.b64encode(b"json/plain").decode()},
            "data": base64.b64encode(json.dumps(value, separators=(",", ":")).encode()).decode()}


def at(offset: float) -> dict[str, int]:
    seconds = START + offset
    return {"seconds": int(seconds), "nanos": round((seconds % 1) * 1e9)}


class Builder:
    """Events in Temporal's JSON form, numbered and timed as they are added."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def add(self, event_type: str, **attributes: Any) -> str:
        event_id = len(self.events) + 1
        stamp = datetime.fromtimestamp(START + event_id / 10, UTC).isoformat()
        words = event_type.lower().split("_")
        key = words[0] + "".join(w.title() for w in words[1:]) + "EventAttributes"
        self.events.append({"eventId": str(event_id), "eventTime": stamp.replace("+00:00", "Z"),
                            "eventType": f"EVENT_TYPE_{event_type}", key: attributes})
        return str(event_id)

    def task(self) -> str:
        """One workflow task, scheduled, started and completed; the completion's id."""
        scheduled = self.add("WORKFLOW_TASK_SCHEDULED", taskQueue={"name": "tq"},
                             startToCloseTimeout="10s", attempt=1)
        started = self.add("WORKFLOW_TASK_STARTED", scheduledEventId=scheduled,
                           identity="worker")
        return self.add("WORKFLOW_TASK_COMPLETED", scheduledEventId=scheduled,
                        startedEventId=started, identity="worker")

    def local_activity(self, completed: str, seq: int, activity_type: str, result: Any, *,
                       scheduled_at: float, completed_at: float) -> str:
        data = {"seq": seq, "attempt": 1, "activity_id": str(seq),
                "activity_type": activity_type, "complete_time": at(completed_at),
                "backoff": None, "original_schedule_time": at(scheduled_at),
                "activation_index": 1}
        return self.add("MARKER_RECORDED", markerName="core_local_activity",
                        details={"data": {"payloads": [payload(data)]},
                                 "result": {"payloads": [payload(result)]}},
                        workflowTaskCompletedEventId=completed)


def slow_lookups_history(second_type: str = "lookup") -> dict[str, Any]:
    b = Builder()
    b.add("WORKFLOW_EXECUTION_STARTED", workflowType={"name": "SlowLookups"},
          taskQueue={"name": "tq"}, workflowTaskTimeout="10s", originalExecutionRunId=RUN_ID,
          firstExecutionRunId=RUN_ID, attempt=1, workflowId="slow", identity="client")
    b.task()  # 4: the first lookup runs on; a heartbeat with no commands
    completed = b.task()  # 7: it finished in the next task, which starts the timer and 2nd
    b.local_activity(completed, 1, "lookup", "A", scheduled_at=0.3, completed_at=0.65)
    timer = b.add("TIMER_STARTED", timerId="1", startToFireTimeout="5s",
                  workflowTaskCompletedEventId=completed)
    completed = b.task()  # 12: the second lookup runs on; a heartbeat with no commands
    b.local_activity(completed, 2, second_type, "B", scheduled_at=0.66, completed_at=1.15)
    b.add("TIMER_FIRED", timerId="1", startedEventId=timer)
    completed = b.task()
    b.add("WORKFLOW_EXECUTION_COMPLETED", result={"payloads": [payload("AB")]},
          workflowTaskCompletedEventId=completed)
    return {"events": b.events}


def event_types(history: dict[str, Any]) -> list[str]:
    return [e["eventType"].removeprefix("EVENT_TYPE_") for e in history["events"]]


def test_the_built_history_has_the_heartbeat_shape() -> None:
    """Guards the builder: the heartbeats sit where this module says they do."""
    assert event_types(slow_lookups_history()) == [
        "WORKFLOW_EXECUTION_STARTED",
        "WORKFLOW_TASK_SCHEDULED", "WORKFLOW_TASK_STARTED", "WORKFLOW_TASK_COMPLETED",
        "WORKFLOW_TASK_SCHEDULED", "WORKFLOW_TASK_STARTED", "WORKFLOW_TASK_COMPLETED",
        "MARKER_RECORDED", "TIMER_STARTED",
        "WORKFLOW_TASK_SCHEDULED", "WORKFLOW_TASK_STARTED", "WORKFLOW_TASK_COMPLETED",
        "MARKER_RECORDED", "TIMER_FIRED",
        "WORKFLOW_TASK_SCHEDULED", "WORKFLOW_TASK_STARTED", "WORKFLOW_TASK_COMPLETED",
        "WORKFLOW_EXECUTION_COMPLETED"]


async def test_heartbeated_tasks_replay() -> None:
    history = WorkflowHistory.from_json("slow", slow_lookups_history())
    result = await Replayer(workflows=[SlowLookups]).replay_workflow(history)
    assert result.replay_failure is None


async def test_a_marker_for_another_activity_is_still_nondeterministic() -> None:
    history = WorkflowHistory.from_json("slow", slow_lookups_history("lookup_other"))
    with pytest.raises(exceptions.NondeterminismError) as raised:
        await Replayer(workflows=[SlowLookups]).replay_workflow(history)
    message = str(raised.value)
    assert "ActivityTaskScheduled(activity #2 'lookup_other') at event 13" in message
    assert "ActivityTaskScheduled(activity #2 'lookup')" in message


def recorded(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (Path(__file__).parent / "heartbeat_histories" / f"{name}.json").read_text())
    return data


async def test_a_recorded_history_with_heartbeats_replays() -> None:
    data = recorded("slow-local-activities")
    # Each 2.5 s activity outlasts the 1 s task timeout: Temporal's SDK heartbeated the task.
    assert event_types(data).count("WORKFLOW_TASK_COMPLETED") == 7
    assert event_types(data).count("MARKER_RECORDED") == 2
    history = WorkflowHistory.from_json("slow-la", data)
    await Replayer(workflows=[SlowLocals]).replay_workflow(history)


async def test_local_activities_started_together_replay_across_heartbeats() -> None:
    data = recorded("local-activities-together")
    types = event_types(data)
    markers = [i for i, t in enumerate(types) if t == "MARKER_RECORDED"]
    assert types[markers[0] + 1:markers[1]].count("WORKFLOW_TASK_COMPLETED") == 3
    history = WorkflowHistory.from_json("together", data)
    await Replayer(workflows=[Together]).replay_workflow(history)
