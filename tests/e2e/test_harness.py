"""The crash invariant checker must reject the failures it exists to catch."""

from __future__ import annotations

import pytest

from stalwart._model.events import HistoryEvent

from ._harness import Line, check_exactly_once

KILLED, REPLACEMENT = 100, 200


def _history(recorded: list[tuple[int, int, int]]) -> list[HistoryEvent]:
    """Scheduled, started and completed events (Temporal's shape) for (step, attempt, pid)."""
    events: list[HistoryEvent] = []
    for step, attempt, pid in recorded:
        scheduled = str(len(events) + 1)
        events.append(HistoryEvent(len(events) + 1, "ActivityTaskScheduled", 0.0,
                                   {"activityId": f"step-{step}"}))
        started = str(len(events) + 1)
        events.append(HistoryEvent(len(events) + 1, "ActivityTaskStarted", 0.0,
                                   {"scheduledEventId": scheduled, "attempt": attempt}))
        events.append(HistoryEvent(len(events) + 1, "ActivityTaskCompleted", 0.0, {
            "scheduledEventId": scheduled, "startedEventId": started,
            "identity": f"{pid}@h"}))
    return events


def _check(recorded: list[tuple[int, int, int]], journal: list[tuple[int, int, int]],
           recorded_at_kill: set[int]) -> None:
    check_exactly_once(steps=2, final_history=_history(recorded),
                       recorded_at_kill=recorded_at_kill,
                       journal=[Line("step", s, a, p) for s, a, p in journal],
                       killed_pid=KILLED)


def test_check_exactly_once_accepts_in_flight_step_run_twice() -> None:
    _check([(1, 1, KILLED), (2, 2, REPLACEMENT)],
           [(1, 1, KILLED), (2, 1, KILLED), (2, 2, REPLACEMENT)], {1})


def test_check_exactly_once_rejects_recorded_step_run_again() -> None:
    with pytest.raises(AssertionError, match="recorded before the kill"):
        _check([(1, 2, REPLACEMENT), (2, 1, REPLACEMENT)],
               [(1, 1, KILLED), (1, 2, REPLACEMENT), (2, 1, REPLACEMENT)], {1})


def test_check_exactly_once_rejects_run_after_recorded_attempt() -> None:
    with pytest.raises(AssertionError, match="journal shows"):
        _check([(1, 1, KILLED), (2, 1, KILLED)],
               [(1, 1, KILLED), (2, 1, KILLED), (2, 2, REPLACEMENT)], {1})


def test_check_exactly_once_rejects_double_record() -> None:
    with pytest.raises(AssertionError, match="ActivityTaskCompleted per step"):
        _check([(1, 1, KILLED), (1, 1, KILLED), (2, 1, KILLED)],
               [(1, 1, KILLED), (2, 1, KILLED)], set())
