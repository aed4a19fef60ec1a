"""Workflow tasks a run can be reset to, named by Temporal's event ids.

Temporal's reset takes the id of a workflow task's ``WorkflowTaskStarted``,
``WorkflowTaskCompleted`` or ``WorkflowTaskFailed`` event; the store keeps one row per task.
Expanding the stored events once, in order, pairs each stored task row with the ids Temporal
shows for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..events import EventType, HistoryEvent
from .common import WORKFLOW_TASK_STARTED
from .expand import _Expander


@dataclass(frozen=True)
class ResetPoint:
    stored_event_id: int  # the stored WorkflowTaskCompleted / WorkflowTaskFailed row
    started_event_id: int  # Temporal's WorkflowTaskStarted of that task
    finish_event_id: int  # Temporal's WorkflowTaskCompleted / WorkflowTaskFailed
    completed: bool
    timestamp: float

    def matches(self, temporal_event_id: int) -> bool:
        return temporal_event_id in (self.started_event_id, self.finish_event_id)


def reset_points(events: Sequence[HistoryEvent], *, run_id: str) -> list[ResetPoint]:
    expander = _Expander(run_id, "default")
    points: list[ResetPoint] = []
    for event in events:
        before = len(expander.out)
        expander.feed(event)
        if event.event_type not in (EventType.WORKFLOW_TASK_COMPLETED,
                                    EventType.WORKFLOW_TASK_FAILED):
            continue
        emitted = expander.out[before:]
        started = next((e for e in emitted if e.event_type == WORKFLOW_TASK_STARTED), None)
        finish = next((e for e in emitted if e.event_type in (
            EventType.WORKFLOW_TASK_COMPLETED, EventType.WORKFLOW_TASK_FAILED)), None)
        if started is None or finish is None:
            continue  # a task Temporal does not show (it only recorded local activities)
        points.append(ResetPoint(event.event_id, started.event_id, finish.event_id,
                                 finish.event_type == EventType.WORKFLOW_TASK_COMPLETED,
                                 finish.timestamp))
    return points
