"""Temporal's event model over Stalwart's compact history, checked against histories a real
Temporal server recorded (tests/differential/fixtures), and bad imports."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from stalwart._model import proto_json as pj
from stalwart._model.events import COMMAND_EVENT_TYPES, EventType, HistoryEvent
from stalwart._model.history_json import history_from_json, history_to_json
from stalwart._model.temporal_history import (
    HistoryFormatError,
    TemporalLength,
    from_temporal,
    to_temporal,
)
from stalwart.client import WorkflowHistory

FIXTURES = sorted(path for kind in ("fixtures", "extra_fixtures") for path in (
    Path(__file__).parents[1] / "differential" / kind).glob("*/*.json"))
IDS = [f"{p.parent.name}/{p.stem}" for p in FIXTURES]


def load(name: str = "activity_retry/tq-retry#0") -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (Path(__file__).parents[1] / "differential" / "fixtures" / f"{name}.json").read_text())
    return data


@pytest.mark.parametrize("path", FIXTURES, ids=IDS)
def test_temporal_history_survives_compaction_and_expansion(path: Path) -> None:
    """Temporal's events -> what Stalwart stores and replays -> Temporal's events again."""
    events = history_from_json(json.loads(path.read_text()))
    run_id = events[0].attributes["originalExecutionRunId"]

    again = to_temporal(from_temporal(events), run_id=run_id)

    # Event for event, inputs that joined a scheduled task (between its WorkflowTaskScheduled
    # and WorkflowTaskStarted) included.
    assert [e.event_type for e in again] == [e.event_type for e in events]
    for before, after in zip(events, again, strict=True):
        for field in ("scheduledEventId", "startedEventId", "initiatedEventId",
                      "acceptedEventId", "workflowTaskCompletedEventId"):
            assert after.attributes.get(field) == before.attributes.get(field), \
                f"event {before.event_id} {before.event_type}: {field}"


@pytest.mark.parametrize("path", FIXTURES, ids=IDS)
def test_history_length_counts_as_temporal_counts(path: Path) -> None:
    """The runtime's cheap count gives each task the id of Temporal's WorkflowTaskStarted."""
    events = history_from_json(json.loads(path.read_text()))
    want = [e.event_id for e in events if e.event_type == EventType.WORKFLOW_TASK_STARTED]
    length, got = TemporalLength(), []
    for event in from_temporal(events):
        if event.event_type == EventType.WORKFLOW_TASK_COMPLETED:
            started = length.task_started()
            if not got or got[-1] != started:
                got.append(started)
            length.task_completed()
        elif event.event_type == EventType.WORKFLOW_TASK_FAILED:
            got.append(length.task_started())
            length.task_failed()
        elif event.event_type in COMMAND_EVENT_TYPES:
            length.feed_command(event.event_type, event.attributes)
        else:
            length.feed_input(event)
    assert got == want
    # Also a run terminated before its first task: a cron run's task not due yet was never
    # scheduled.
    assert length.count == len(events)


@pytest.mark.parametrize("path", FIXTURES, ids=IDS)
def test_shown_length_of_a_stored_history_is_the_length_of_its_expansion(path: Path) -> None:
    """What the server shows as a run's length (counted from stored rows, fed in any number
    of batches) is the number of Temporal events the same rows expand to, closed or open."""
    events = history_from_json(json.loads(path.read_text()))
    run_id = events[0].attributes["originalExecutionRunId"]
    stored = from_temporal(events)
    for cut in sorted({len(stored), len(stored) // 2, max(1, len(stored) // 3)}):
        head = stored[:cut]
        length = TemporalLength()
        length.feed_stored(head[:cut // 2])
        length.feed_stored(head[cut // 2:])
        closed = cut == len(stored)
        now = head[-1].timestamp  # seen as the last row was written
        assert length.shown(running=not closed, now=now) == len(
            to_temporal(head, run_id=run_id, now=now)), cut


def test_a_delayed_first_task_is_scheduled_when_the_delay_ends() -> None:
    """start_delay: until the delay has passed the history shows no WorkflowTaskScheduled
    (a signal meanwhile waits without scheduling one), then one timed at its end, as in the
    history Temporal recorded."""
    events = history_from_json(json.loads(json.dumps(load("start_delay_history/tq-delayed#0"))))
    run_id = events[0].attributes["originalExecutionRunId"]
    stored = from_temporal(events)
    assert [e.event_type for e in stored[:2]] == [EventType.WORKFLOW_EXECUTION_STARTED,
                                                  EventType.WORKFLOW_EXECUTION_SIGNALED]
    due = stored[0].timestamp + stored[0].attributes["first_workflow_task_backoff"]
    for now, scheduled in ((due - 0.5, False), (due + 0.5, True)):
        shown = [e.event_type for e in to_temporal(stored[:2], run_id=run_id, now=now)]
        assert (shown[-1] == "WorkflowTaskScheduled") is scheduled
        length = TemporalLength()
        length.feed_stored(stored[:2])
        assert length.shown(running=True, now=now) == len(shown)
    again = to_temporal(stored, run_id=run_id)
    assert [e.event_type for e in again] == [e.event_type for e in events]
    scheduled, started = again[2], again[3]
    assert scheduled.event_type == "WorkflowTaskScheduled"
    assert due <= scheduled.timestamp <= started.timestamp


def test_export_is_temporal_json() -> None:
    data = load()
    events = history_from_json(data)
    out = history_to_json(to_temporal(from_temporal(events),
                                      run_id=events[0].attributes["originalExecutionRunId"]))
    scheduled = next(e for e in out["events"]
                     if e["eventType"] == "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED")
    attrs = scheduled["activityTaskScheduledEventAttributes"]
    assert scheduled["eventId"] == "5"
    assert attrs["activityType"] == {"name": "flaky"}
    assert attrs["startToCloseTimeout"] == "10s"
    assert attrs["retryPolicy"]["initialInterval"] == "0.050s"
    assert attrs["input"]["payloads"][0]["metadata"] == {"encoding": "anNvbi9wbGFpbg=="}
    assert attrs["workflowTaskCompletedEventId"] == "4"
    completed = next(e for e in out["events"]
                     if e["eventType"] == "EVENT_TYPE_ACTIVITY_TASK_COMPLETED")
    assert completed["activityTaskCompletedEventAttributes"]["scheduledEventId"] == "5"
    assert completed["activityTaskCompletedEventAttributes"]["startedEventId"] == "6"
    assert out["events"][0]["eventTime"].endswith("Z")


def test_durations_and_times_round_trip() -> None:
    for seconds, text in [(10, "10s"), (0.1, "0.100s"), (1.5, "1.500s"),
                          (0.000001, "0.000001s"), (2.000000005, "2.000000005s")]:
        assert pj.duration_out(seconds) == text
        assert pj.duration_in(text, "x") == pytest.approx(seconds)
    assert pj.time_out(1_700_000_000.25) == "2023-11-14T22:13:20.250Z"
    assert pj.time_in("2023-11-14T22:13:20.250Z", "x") == 1_700_000_000.25
    assert pj.time_in("2023-11-14T23:13:20.25+01:00", "x") == 1_700_000_000.25


def bad(data: Any) -> str:
    with pytest.raises(HistoryFormatError) as raised:
        WorkflowHistory.from_json("wf", data if isinstance(data, str) else json.dumps(data))
    return str(raised.value)


def test_bad_import_not_json() -> None:
    assert "not valid JSON" in bad('{"events": [')


def test_bad_import_unknown_event_type() -> None:
    data = load()
    data["events"][4]["eventType"] = "EVENT_TYPE_ACTIVITY_TASK_TELEPORTED"
    message = bad(data)
    assert "event 5" in message and "eventType" in message
    assert "EVENT_TYPE_ACTIVITY_TASK_TELEPORTED" in message


def test_bad_import_missing_reference() -> None:
    data = load()
    completed = next(e for e in data["events"]
                     if e["eventType"] == "EVENT_TYPE_ACTIVITY_TASK_COMPLETED")
    completed["activityTaskCompletedEventAttributes"]["scheduledEventId"] = "3"
    message = bad(data)
    assert f"event {completed['eventId']} (ActivityTaskCompleted)" in message
    assert "scheduledEventId" in message and "refers to event 3" in message
    del completed["activityTaskCompletedEventAttributes"]["scheduledEventId"]
    assert "scheduledEventId: missing" in bad(data)


def test_bad_import_event_ids_out_of_order() -> None:
    data = load()
    data["events"][3], data["events"][4] = data["events"][4], data["events"][3]
    message = bad(data)
    assert "event 5" in message and "eventId" in message and "expected 4" in message


def test_bad_import_bad_field_values() -> None:
    data = load()
    data["events"][4]["activityTaskScheduledEventAttributes"]["startToCloseTimeout"] = "10 sec"
    message = bad(data)
    assert "event 5 (ActivityTaskScheduled)" in message and "startToCloseTimeout" in message
    data = load()
    data["events"][0]["eventTime"] = "yesterday"
    assert "event 1" in bad(data) and "eventTime" in bad(data)
    assert "{\"events\": [...]}" in bad({"history": []})


def test_bad_import_leaves_nothing_half_read() -> None:
    """A failed import raises before anything is returned; the input is left as it was."""
    data = load()
    data["events"][-1]["eventType"] = "EVENT_TYPE_NOPE"
    original = copy.deepcopy(data)
    bad(data)
    assert data == original


def test_bad_import_malformed_attributes_name_the_event() -> None:
    data = load("updates/tq-limits#0")
    completed = next(e for e in data["events"]
                     if e["eventType"] == "EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED")
    completed["workflowExecutionUpdateCompletedEventAttributes"]["outcome"] = "yes"
    message = bad(data)
    assert f"event {completed['eventId']} (WorkflowExecutionUpdateCompleted)" in message


_ACTIVITY_CLOSES = {"ActivityTaskCompleted", "ActivityTaskFailed", "ActivityTaskTimedOut",
                    "ActivityTaskCanceled"}
_CHILD_CLOSES = {"ChildWorkflowExecutionCompleted", "ChildWorkflowExecutionFailed",
                 "ChildWorkflowExecutionCanceled", "ChildWorkflowExecutionTimedOut",
                 "ChildWorkflowExecutionTerminated"}


@pytest.mark.parametrize("path", FIXTURES, ids=IDS)
def test_event_ids_of_closed_activities_and_children_are_temporals(path: Path) -> None:
    """What ActivityError/ChildWorkflowError report: the ids Temporal's history gives the
    scheduled (initiated) and started events, counted from the stored rows as the runtime
    feeds them (a task's commands before its completion)."""
    events = history_from_json(json.loads(path.read_text()))
    want = [(e.event_type, int(e.attributes.get("scheduledEventId")
                               or e.attributes.get("initiatedEventId") or 0),
             int(e.attributes.get("startedEventId") or 0))
            for e in events if e.event_type in _ACTIVITY_CLOSES | _CHILD_CLOSES]
    length, got, local, in_task = TemporalLength(), [], set(), False
    for event in from_temporal(events):
        if in_task and event.event_type not in COMMAND_EVENT_TYPES:
            length.task_completed()
            in_task = False
        if event.event_type == EventType.WORKFLOW_TASK_COMPLETED:
            length.task_started()
            in_task = True
        elif event.event_type == EventType.WORKFLOW_TASK_FAILED:
            length.task_started()
            length.task_failed()
        elif event.event_type in COMMAND_EVENT_TYPES:
            if event.attributes.get("local"):
                local.add(event.attributes["seq"])
            length.feed_command(event.event_type, event.attributes)
        else:
            length.feed_input(event)
            kind = "a" if event.event_type in _ACTIVITY_CLOSES else \
                "c" if event.event_type in _CHILD_CLOSES else None
            if kind is not None and not (kind == "a" and event.attributes["seq"] in local):
                got.append((event.event_type,
                            *length.event_ids(kind, event.attributes["seq"])))
    assert got == want


def _stored(*rows: tuple[Any, ...]) -> list[HistoryEvent]:
    """Stored rows from (type, time) or (type, time, attributes)."""
    started = {"workflow_id": "wf", "workflow_type": "W", "task_queue": "q", "input": [],
               "random_seed": 1}
    attributes = {EventType.WORKFLOW_EXECUTION_STARTED: started,
                  EventType.WORKFLOW_EXECUTION_SIGNALED: {"signal_name": "s"},
                  EventType.TIMER_FIRED: {"seq": 1}}
    return [HistoryEvent(i, row[0], row[1],
                         row[2] if len(row) > 2 else dict(attributes.get(row[0], {})))
            for i, row in enumerate(rows, start=1)]


def test_inputs_land_where_temporal_writes_them_by_the_state_of_the_task() -> None:
    """Temporal writes an input that waited for a running task to end, or that scheduled a
    task (with what the same transaction wrote), before that task's WorkflowTaskScheduled,
    and one that joined an already scheduled task after it; a signal with start comes before
    the first task's."""
    started, signaled, fired, completed = (
        EventType.WORKFLOW_EXECUTION_STARTED, EventType.WORKFLOW_EXECUTION_SIGNALED,
        EventType.TIMER_FIRED, EventType.WORKFLOW_TASK_COMPLETED)
    stored = _stored(
        (started, 100.0), (signaled, 101.0),                  # joins the first task
        (completed, 103.0, {"workflow_time": 102.0}),
        (signaled, 102.5),                                    # waited for the task's end
        (fired, 104.0),                                       # joins the task it scheduled
        (completed, 106.0, {"workflow_time": 105.0}),
        (fired, 107.0), (fired, 107.0),                       # one transaction: schedule
        (signaled, 107.5),                                    # joins
        (completed, 109.0, {"workflow_time": 108.0}),
        (signaled, 110.0), (signaled, 111.0))                 # not taken yet
    types = [e.event_type for e in to_temporal(stored, run_id="r")]
    sched, start, done = "WorkflowTaskScheduled", "WorkflowTaskStarted", completed
    assert types == [started, sched, signaled, start, done,
                     signaled, sched, fired, start, done,
                     fired, fired, sched, signaled, start, done,
                     signaled, sched, signaled]
    with_start = _stored((started, 100.0), (signaled, 100.0), (signaled, 100.5),
                         (completed, 102.0, {"workflow_time": 101.0}))
    assert [e.event_type for e in to_temporal(with_start, run_id="r")][:5] == [
        started, signaled, sched, signaled, start]


def test_event_group_markers_survive_compaction_and_expansion() -> None:
    """The markers Temporal put on command events (label groups, a signal handler's implicit
    group by the signal's event id, an update handler's by the update's id) come back the
    same after what Stalwart stores, and in the JSON export."""
    data = load("event_groups/tq-grouped#0")
    events = history_from_json(data)
    run_id = events[0].attributes["originalExecutionRunId"]
    again = to_temporal(from_temporal(events), run_id=run_id)
    want = [(e.event_id, e.event_group_markers) for e in events if e.event_group_markers]
    assert len(want) > 5
    assert [(e.event_id, e.event_group_markers) for e in again if e.event_group_markers] == want
    exported = history_to_json(again)["events"]
    assert [e.get("eventGroupMarkers") for e in exported] == [
        e.get("eventGroupMarkers") for e in data["events"]]
