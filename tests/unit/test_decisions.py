"""The engine decides what a workflow task's commands write; the store only applies it."""

from __future__ import annotations

from stalwart._engine.decisions import TaskContext, decide, eager_activities
from stalwart._model.events import Command, EventType
from stalwart._store.base import (
    CancelExternal,
    CloseRun,
    ExecutionStatus,
    RequestCancelActivity,
    ScheduleActivity,
    SignalExternal,
    StartChild,
    StartTimer,
)


def _context(eager_slots: int = 0) -> TaskContext:
    return TaskContext(run_id="run-1", workflow_id="wf-1", identity="worker-a",
                       task_queue="tq", eager_slots=eager_slots, random_seed=lambda: 7,
                       new_run_id=lambda: "run-2")


def _activity(seq: int, task_queue: str = "tq") -> Command:
    return Command(EventType.ACTIVITY_TASK_SCHEDULED, {
        "seq": seq, "activity_id": str(seq), "activity_type": "act", "task_queue": task_queue,
        "input": [], "start_to_close_timeout": 5.0, "retry_policy": None})


def test_activities_start_eagerly_on_this_queue_up_to_the_free_slots() -> None:
    decisions = decide([_activity(1), _activity(2, "other"), _activity(3), _activity(4)],
                       _context(eager_slots=2))

    effects = [d.effect for d in decisions]
    assert all(isinstance(e, ScheduleActivity) for e in effects)
    assert [e.eager for e in effects if isinstance(e, ScheduleActivity)] == \
        [True, False, True, False]
    assert eager_activities(decisions) == 2
    first = effects[0]
    assert isinstance(first, ScheduleActivity)
    assert first.options["start_to_close_timeout"] == 5.0 and "seq" not in first.options


def test_continue_as_new_names_the_next_run_and_nothing_after_a_close_is_decided() -> None:
    close = Command(EventType.WORKFLOW_EXECUTION_CONTINUED_AS_NEW, {
        "workflow_type": "Wf", "task_queue": "tq", "input": [], "execution_timeout": None})

    decisions = decide([close, _activity(9)], _context())

    assert len(decisions) == 1
    decision = decisions[0]
    assert decision.attributes["new_execution_run_id"] == "run-2"
    assert "new_execution_run_id" not in close.attributes  # the instance keeps its command
    assert isinstance(decision.effect, CloseRun)
    assert decision.effect.status == ExecutionStatus.CONTINUED_AS_NEW
    next_run = decision.effect.next_run
    assert next_run is not None
    assert (next_run.run_id, next_run.workflow_id, next_run.continued_run_id,
            next_run.random_seed) == ("run-2", "wf-1", "run-1", 7)


def test_children_timers_cancels_and_external_messages_carry_what_the_store_writes() -> None:
    decisions = decide([
        Command(EventType.START_CHILD_WORKFLOW_EXECUTION_INITIATED, {
            "seq": 1, "workflow_id": "child", "workflow_type": "Child", "task_queue": "tq",
            "input": [], "execution_timeout": 30.0, "parent_close_policy": 3,
            "random_seed": 5, "run_id": "child-run"}),
        Command(EventType.TIMER_STARTED, {"seq": 1, "start_to_fire_timeout": 2.5}),
        Command(EventType.ACTIVITY_TASK_CANCEL_REQUESTED, {"seq": 4}),
        Command(EventType.SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED, {
            "seq": 2, "workflow_id": "other", "run_id": None, "signal_name": "go",
            "input": [], "child_workflow_only": False}),
        Command(EventType.REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED, {
            "seq": 3, "workflow_id": "child", "run_id": None, "child_workflow_only": True}),
        Command(EventType.MARKER_RECORDED, {"marker_name": "patch", "patch_id": "p"}),
    ], _context())

    child, timer, cancel, signal, cancel_external, marker = (d.effect for d in decisions)
    assert isinstance(child, StartChild)
    assert (child.request.parent_workflow_id, child.request.parent_run_id,
            child.request.parent_seq, child.request.parent_close_policy,
            child.request.execution_timeout) == ("wf-1", "run-1", 1, 3, 30.0)
    assert timer == StartTimer(1, 2.5)
    assert isinstance(cancel, RequestCancelActivity) and cancel.seq == 4
    assert cancel.failure["cause"]["canceled_failure_info"] == {}
    assert signal == SignalExternal(2, "other", None, False, {
        "signal_name": "go", "input": [], "identity": "worker-a",
        "external": {"workflow_id": "wf-1", "run_id": "run-1"}})  # the sender, as Temporal's
    assert isinstance(cancel_external, CancelExternal) and cancel_external.child_only
    assert cancel_external.attributes["external"] == {"workflow_id": "wf-1", "run_id": "run-1"}
    assert marker is None  # an event alone


def test_eager_starts_skip_refused_activities_and_respect_the_remote_limit() -> None:
    refused = _activity(1)
    refused.attributes["disable_eager_execution"] = True
    local = _activity(4)
    local.attributes["local"] = True
    context = _context(eager_slots=10)
    context.eager_remote_limit = 1

    decisions = decide([refused, _activity(2), _activity(3), local], context)

    effects = [d.effect for d in decisions]
    assert [e.eager for e in effects if isinstance(e, ScheduleActivity)] == \
        [False, True, False, True]
    # The flag is read, not recorded; the instance keeps its own command as it was.
    assert "disable_eager_execution" not in decisions[0].attributes
    assert refused.attributes["disable_eager_execution"] is True
