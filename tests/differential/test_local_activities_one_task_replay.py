"""Temporal histories whose local activities resolve inside one workflow task replay on Stalwart.

Temporal's SDK keeps a workflow task open while its local activities run: each result wakes
a new activation inside the same task, and the task's completion carries the commands of all
of them, the local activities' markers where they finished. The histories below are built by
hand in Temporal's JSON form with the shape a run of ``Gathered`` records (the one recorded by
a Temporal dev server is the ``local_activities_together`` fixture): three local activities
gathered, then a local and an ordinary activity gathered, all in the first task."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from stalwart import exceptions, workflow
from stalwart.client import WorkflowHistory
from stalwart.worker import Replayer

from .test_task_heartbeat_replay import RUN_ID, Builder, event_types, payload

TIMEOUT = timedelta(seconds=5)


@workflow.defn(name="Gathered")
class Gathered:
    @workflow.run
    async def run(self, x: int) -> dict[str, Any]:
        squares = await asyncio.gather(*(
            workflow.execute_local_activity("square", x + i, start_to_close_timeout=TIMEOUT)
            for i in range(3)))
        doubled, described = await asyncio.gather(
            workflow.execute_local_activity("double", sum(squares),
                                            start_to_close_timeout=TIMEOUT),
            workflow.execute_activity("describe", x, start_to_close_timeout=TIMEOUT))
        return {"squares": list(squares), "doubled": doubled, "described": described}


def gathered_history(*, finished_before_scheduled: bool, second_local: str = "double",
                     ordinary: str = "describe") -> dict[str, Any]:
    """``finished_before_scheduled``: the markers' completion times precede their schedule
    times, as the workers' clocks wrote them in the recorded run (so no two look as if they
    ran together); otherwise the squares overlap in time."""
    b = Builder()
    b.add("WORKFLOW_EXECUTION_STARTED", workflowType={"name": "Gathered"},
          taskQueue={"name": "tq"}, input={"payloads": [payload(3)]},
          workflowTaskTimeout="10s", originalExecutionRunId=RUN_ID,
          firstExecutionRunId=RUN_ID, attempt=1, workflowId="gathered", identity="client")
    completed = b.task()
    done = 0.25 if finished_before_scheduled else 0.35
    for seq, value in enumerate((9, 16, 25), start=1):
        b.local_activity(completed, seq, "square", value,
                         scheduled_at=0.3, completed_at=done + seq / 100)
    scheduled = b.add("ACTIVITY_TASK_SCHEDULED", activityId="5",
                      activityType={"name": ordinary}, taskQueue={"name": "tq"},
                      input={"payloads": [payload(3)]}, startToCloseTimeout="5s",
                      workflowTaskCompletedEventId=completed)
    b.local_activity(completed, 4, second_local, 100,
                     scheduled_at=0.4, completed_at=0.3 if finished_before_scheduled else 0.45)
    started = b.add("ACTIVITY_TASK_STARTED", scheduledEventId=scheduled, identity="worker",
                    attempt=1)
    b.add("ACTIVITY_TASK_COMPLETED", scheduledEventId=scheduled, startedEventId=started,
          result={"payloads": [payload("value 3")]}, identity="worker")
    completed = b.task()
    b.add("WORKFLOW_EXECUTION_COMPLETED", workflowTaskCompletedEventId=completed,
          result={"payloads": [payload({"described": "value 3", "doubled": 100,
                                        "squares": [9, 16, 25]})]})
    return {"events": b.events}


def test_the_built_history_has_the_one_task_shape() -> None:
    """Guards the builder: every local activity's marker is in the first task's completion."""
    assert event_types(gathered_history(finished_before_scheduled=True)) == [
        "WORKFLOW_EXECUTION_STARTED",
        "WORKFLOW_TASK_SCHEDULED", "WORKFLOW_TASK_STARTED", "WORKFLOW_TASK_COMPLETED",
        "MARKER_RECORDED", "MARKER_RECORDED", "MARKER_RECORDED", "ACTIVITY_TASK_SCHEDULED",
        "MARKER_RECORDED", "ACTIVITY_TASK_STARTED", "ACTIVITY_TASK_COMPLETED",
        "WORKFLOW_TASK_SCHEDULED", "WORKFLOW_TASK_STARTED", "WORKFLOW_TASK_COMPLETED",
        "WORKFLOW_EXECUTION_COMPLETED"]


@pytest.mark.parametrize("finished_before_scheduled", [True, False])
async def test_local_activities_resolved_in_one_task_replay(
        finished_before_scheduled: bool) -> None:
    history = WorkflowHistory.from_json("gathered", gathered_history(
        finished_before_scheduled=finished_before_scheduled))
    result = await Replayer(workflows=[Gathered]).replay_workflow(history)
    assert result.replay_failure is None


@pytest.mark.parametrize("finished_before_scheduled", [True, False])
async def test_another_local_activity_in_the_task_is_still_nondeterministic(
        finished_before_scheduled: bool) -> None:
    history = WorkflowHistory.from_json("gathered", gathered_history(
        finished_before_scheduled=finished_before_scheduled, second_local="triple"))
    with pytest.raises(exceptions.NondeterminismError) as raised:
        await Replayer(workflows=[Gathered]).replay_workflow(history)
    message = str(raised.value)
    assert "ActivityTaskScheduled(activity #4 'triple') at event 9" in message
    assert "ActivityTaskScheduled(activity #4 'double')" in message


async def test_another_ordinary_activity_in_the_task_is_still_nondeterministic() -> None:
    history = WorkflowHistory.from_json("gathered", gathered_history(
        finished_before_scheduled=True, ordinary="summarise"))
    with pytest.raises(exceptions.NondeterminismError) as raised:
        await Replayer(workflows=[Gathered]).replay_workflow(history)
    message = str(raised.value)
    assert "ActivityTaskScheduled(activity #5 'summarise') at event 8" in message
    assert "ActivityTaskScheduled(activity #5 'describe')" in message
