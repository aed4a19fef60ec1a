"""Replay: histories split into activations, rebuilt instances, and nondeterminism detection."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from stalwart import workflow
from stalwart._model.events import EventType, HistoryEvent
from stalwart._runtime.instance import WorkflowInstance, WorkflowTaskError
from stalwart._runtime.replay import replay_into, split_activations
from stalwart.exceptions import NondeterminismError

from .harness import (
    START_TIME,
    Run,
    activity_completed,
    decode,
    payload,
    signaled,
    started_event,
    timer_fired,
    types_of,
)

MakeRun = Callable[..., Run]
MakeInstance = Callable[..., WorkflowInstance]
FIVE_SECONDS = timedelta(seconds=5)


def event(event_id: int, event_type: str, **attributes: Any) -> HistoryEvent:
    return HistoryEvent(event_id, event_type, START_TIME + event_id, attributes)


@workflow.defn
class TwoSteps:
    def __init__(self) -> None:
        self.log: list[str] = []

    @workflow.signal
    def note(self, text: str) -> None:
        self.log.append(text)

    @workflow.run
    async def run(self, name: str) -> dict[str, Any]:
        first = await workflow.execute_activity("fetch", name,
                                                start_to_close_timeout=FIVE_SECONDS)
        await workflow.sleep(30)
        second = await workflow.execute_activity("store", first,
                                                 start_to_close_timeout=FIVE_SECONDS)
        return {"result": second, "log": self.log, "id": str(workflow.uuid4()),
                "replaying": workflow.unsafe.is_replaying()}


def _recorded_two_steps(make_run: MakeRun) -> Run:
    run = make_run(TwoSteps, "ada")
    run.start()
    run.step(activity_completed(1, "fetched"), signaled("note", "hello"))
    run.step(timer_fired(1), advance=30)
    return run


def test_split_activations_groups_inputs_and_commands(make_run: MakeRun) -> None:
    run = _recorded_two_steps(make_run)
    history = run.history
    assert types_of(history) == [
        EventType.WORKFLOW_EXECUTION_STARTED, EventType.WORKFLOW_TASK_COMPLETED,
        EventType.ACTIVITY_TASK_SCHEDULED,
        EventType.ACTIVITY_TASK_COMPLETED, EventType.WORKFLOW_EXECUTION_SIGNALED,
        EventType.WORKFLOW_TASK_COMPLETED, EventType.TIMER_STARTED,
        EventType.TIMER_FIRED, EventType.WORKFLOW_TASK_COMPLETED,
        EventType.ACTIVITY_TASK_SCHEDULED,
    ]

    activations, pending = split_activations(history)

    assert pending == []
    assert [[e.event_id for e in a.inputs] for a in activations] == [[1], [4, 5], [8]]
    assert [a.completed_event.event_id for a in activations] == [2, 6, 9]
    assert [[e.event_id for e in a.commands] for a in activations] == [[3], [7], [10]]
    assert [a.failed_before for a in activations] == [0, 0, 0]
    assert [a.workflow_time for a in activations] == [START_TIME, START_TIME + 1,
                                                      START_TIME + 31]


def test_split_activations_returns_trailing_inputs_as_pending() -> None:
    history = [
        event(1, EventType.WORKFLOW_EXECUTION_STARTED),
        event(2, EventType.WORKFLOW_TASK_COMPLETED, workflow_time=50.0),
        event(3, EventType.TIMER_STARTED, seq=1, start_to_fire_timeout=5),
        event(4, EventType.TIMER_FIRED, seq=1),
        event(5, EventType.WORKFLOW_EXECUTION_SIGNALED, signal_name="s", input=[]),
    ]

    activations, pending = split_activations(history)

    assert len(activations) == 1
    assert activations[0].workflow_time == 50.0
    assert [e.event_id for e in pending] == [4, 5]


def test_split_activations_skips_failed_workflow_tasks() -> None:
    history = [
        event(1, EventType.WORKFLOW_EXECUTION_STARTED),
        event(2, EventType.WORKFLOW_TASK_FAILED, failure={"message": "bug"}),
        event(3, EventType.WORKFLOW_TASK_COMPLETED),
        event(4, EventType.MARKER_RECORDED, marker_name="core_patch", patch_id="p1"),
        event(5, EventType.MARKER_RECORDED, marker_name="other"),
    ]

    activations, pending = split_activations(history)

    assert [e.event_id for e in activations[0].inputs] == [1]
    assert activations[0].patches == ["p1"]
    assert pending == []


def test_split_activations_rejects_command_before_any_task() -> None:
    history = [
        event(1, EventType.WORKFLOW_EXECUTION_STARTED),
        event(2, EventType.TIMER_STARTED, seq=1),
    ]

    with pytest.raises(NondeterminismError, match=r"malformed.*TimerStarted \(event 2\)"):
        split_activations(history)


def test_replay_into_rebuilds_state_and_continues_like_the_original(
        make_run: MakeRun, make_instance: MakeInstance) -> None:
    original = _recorded_two_steps(make_run)
    recorded = list(original.history)
    final_original = original.step(activity_completed(2, "stored"))
    replayed = make_instance(TwoSteps)

    pending = replay_into(replayed, recorded)

    assert pending == []
    assert replayed.is_replaying
    final_replayed = replayed.activate([activity_completed(2, "stored")],
                                       now=original.now, replaying=False)
    assert types_of(final_replayed) == [EventType.WORKFLOW_EXECUTION_COMPLETED]
    result = decode(final_replayed[0].attributes["result"])
    expected = decode(final_original[0].attributes["result"])
    assert result == expected
    assert result["log"] == ["hello"]
    assert result["replaying"] is False


def test_replay_into_returns_unconsumed_inputs(make_run: MakeRun,
                                               make_instance: MakeInstance) -> None:
    original = _recorded_two_steps(make_run)
    history = [*original.history,
               HistoryEvent(11, EventType.ACTIVITY_TASK_COMPLETED, START_TIME,
                            {"seq": 2, "result": payload("stored")})]
    replayed = make_instance(TwoSteps)

    pending = replay_into(replayed, history)

    assert [e.event_id for e in pending] == [11]
    commands = replayed.activate(pending, now=START_TIME + 40, replaying=False)
    assert decode(commands[0].attributes["result"])["result"] == "stored"


def _with_attributes(history: list[HistoryEvent], event_id: int,
                     **changes: Any) -> list[HistoryEvent]:
    out = []
    for e in history:
        attrs = {**e.attributes, **changes} if e.event_id == event_id else e.attributes
        out.append(HistoryEvent(e.event_id, e.event_type, e.timestamp, attrs))
    return out


def test_replay_mismatch_names_event_id_and_both_commands(
        make_run: MakeRun, make_instance: MakeInstance) -> None:
    original = _recorded_two_steps(make_run)
    tampered = _with_attributes(original.history, 10, activity_type="archive")

    with pytest.raises(NondeterminismError) as caught:
        replay_into(make_instance(TwoSteps), tampered)

    message = str(caught.value)
    assert "workflow 'wf-1'" in message
    assert "run run-1" in message
    assert "workflow task completed at event 9" in message
    assert "ActivityTaskScheduled(activity #2 'archive') at event 10" in message
    assert "code now produces ActivityTaskScheduled(activity #2 'store')" in message
    assert "workflow.patched" in message


def test_replay_command_missing_from_code_is_nondeterminism(
        make_run: MakeRun, make_instance: MakeInstance) -> None:
    original = _recorded_two_steps(make_run)
    extra = HistoryEvent(11, EventType.TIMER_STARTED, START_TIME,
                         {"seq": 2, "timer_id": "2", "start_to_fire_timeout": 1})

    with pytest.raises(NondeterminismError,
                       match=re.escape("TimerStarted(#2) at event 11, but the code no longer "
                                       "produces it")):
        replay_into(make_instance(TwoSteps), [*original.history, extra])


def test_replay_command_missing_from_history_is_nondeterminism(
        make_run: MakeRun, make_instance: MakeInstance) -> None:
    original = _recorded_two_steps(make_run)
    without_timer = [e for e in original.history if e.event_id != 7]

    with pytest.raises(NondeterminismError,
                       match=re.escape("workflow task completed at event 6: the code now "
                                       "produces TimerStarted(#1), but the history has no "
                                       "command there")):
        replay_into(make_instance(TwoSteps), without_timer)


@workflow.defn
class PatchedBranch:
    @workflow.run
    async def run(self) -> str:
        if workflow.patched("v2"):
            await workflow.execute_activity("new", start_to_close_timeout=FIVE_SECONDS)
            return "new"
        await workflow.execute_activity("old", start_to_close_timeout=FIVE_SECONDS)
        return "old"


def _history_of_old_code() -> list[HistoryEvent]:
    return [
        started_event(PatchedBranch),
        event(2, EventType.WORKFLOW_TASK_COMPLETED, workflow_time=START_TIME),
        event(3, EventType.ACTIVITY_TASK_SCHEDULED, seq=1, activity_type="old"),
    ]


def test_replay_patched_without_marker_takes_old_branch(make_instance: MakeInstance) -> None:
    instance = make_instance(PatchedBranch)

    pending = replay_into(instance, _history_of_old_code())
    commands = instance.activate([activity_completed(1, None)], now=START_TIME + 1,
                                 replaying=False)

    assert pending == []
    assert decode(commands[0].attributes["result"]) == "old"


def test_replay_patched_with_marker_takes_new_branch(make_run: MakeRun,
                                                     make_instance: MakeInstance) -> None:
    original = make_run(PatchedBranch)
    assert types_of(original.start()) == [EventType.MARKER_RECORDED,
                                          EventType.ACTIVITY_TASK_SCHEDULED]
    instance = make_instance(PatchedBranch)

    replay_into(instance, original.history)
    commands = instance.activate([activity_completed(1, None)], now=START_TIME + 1,
                                 replaying=False)

    assert decode(commands[0].attributes["result"]) == "new"


@workflow.defn
class BuggyOnReplay:
    @workflow.run
    async def run(self) -> None:
        await asyncio.sleep(1)
        raise KeyError("bug")


def test_replay_workflow_code_error_raises_workflow_task_error(
        make_instance: MakeInstance) -> None:
    history = [
        started_event(BuggyOnReplay),
        event(2, EventType.WORKFLOW_TASK_COMPLETED, workflow_time=START_TIME),
        event(3, EventType.TIMER_STARTED, seq=1, start_to_fire_timeout=1),
        event(4, EventType.TIMER_FIRED, seq=1),
        event(5, EventType.WORKFLOW_TASK_COMPLETED, workflow_time=START_TIME + 1),
    ]

    with pytest.raises(WorkflowTaskError) as caught:
        replay_into(make_instance(BuggyOnReplay), history)

    assert isinstance(caught.value.cause, KeyError)
