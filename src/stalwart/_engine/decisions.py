"""A workflow task's commands, decided: the events the store appends and the rows they imply.

The store does not interpret commands. What an activity's options are, whether it starts
eagerly on this worker, what the next run of a continue-as-new or a child looks like, which
payload records a cancelled activity: all that is decided here, once, for every database.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .._model.events import EV, NO_EAGER, Command
from .._schedules.spec import cron_workflow_next
from .._store.base import (
    CancelExternal,
    CancelTimer,
    CloseRun,
    CompleteUpdate,
    Decision,
    Effect,
    ExecutionStatus,
    RequestCancelActivity,
    ScheduleActivity,
    SignalExternal,
    StartChild,
    StartTimer,
    StartWorkflowRequest,
    UpsertMemo,
    UpsertSearchAttributes,
)
from .._store.workflow_retry import retry_backoff, retry_request, settled_policy

CLOSE_STATUS: dict[str, ExecutionStatus] = {
    EV.WORKFLOW_EXECUTION_COMPLETED: ExecutionStatus.COMPLETED,
    EV.WORKFLOW_EXECUTION_FAILED: ExecutionStatus.FAILED,
    EV.WORKFLOW_EXECUTION_CANCELED: ExecutionStatus.CANCELED,
    EV.WORKFLOW_EXECUTION_TERMINATED: ExecutionStatus.TERMINATED,
    EV.WORKFLOW_EXECUTION_CONTINUED_AS_NEW: ExecutionStatus.CONTINUED_AS_NEW,
    EV.WORKFLOW_EXECUTION_TIMED_OUT: ExecutionStatus.TIMED_OUT,
}

# The command attributes an activity task keeps as its options.
ACTIVITY_OPTIONS = ("schedule_to_close_timeout", "schedule_to_start_timeout",
                    "start_to_close_timeout", "heartbeat_timeout", "retry_policy",
                    "cancellation_type", "local", "header", "priority")


@dataclass
class TaskContext:
    """What the deciding worker knows about the task beyond its commands."""

    run_id: str
    workflow_id: str
    identity: str
    task_queue: str  # activities for this queue may start eagerly on this worker
    eager_slots: int  # how many may
    random_seed: Callable[[], int]
    new_run_id: Callable[[], str] = lambda: str(uuid.uuid4())
    cron: CronRun | None = None  # set when the run belongs to a Temporal cron workflow
    retry: RetryRun | None = None  # set when the run was started with a retry policy
    now: float = 0.0  # when the task's decisions are made (a cron child's first backoff)
    root: dict[str, str] | None = None  # the root its children get: this run's root, or itself
    # The worker's max_eager_activity_reservations_per_workflow_task: how many non-local
    # activities of one task may start eagerly.
    eager_remote_limit: int | float = float("inf")


@dataclass
class CronRun:
    """What the next run of a cron workflow is made of: the chain's schedule and start
    input, this run's memo and search attributes, and the last completed run's result."""

    schedule: str
    workflow_type: str
    task_queue: str
    input: list[dict[str, Any]]
    now: float
    due: float | None = None  # when this run was due (start plus its first task backoff)
    last_completion_result: list[dict[str, Any]] | None = None
    memo: dict[str, Any] | None = None
    search_attributes: dict[str, Any] | None = None
    retry_policy: dict[str, Any] | None = None  # as in Temporal, every run of the chain keeps it


@dataclass
class RetryRun:
    """What the retry of a run started with a retry policy is made of: the run's started
    attributes (its policy, attempt, input, timeouts...), its memo and search attributes."""

    started: dict[str, Any]
    memo: dict[str, Any] | None = None
    search_attributes: dict[str, Any] | None = None


def decide(commands: Sequence[Command], context: TaskContext) -> list[Decision]:
    """The decisions of one workflow task, in command order; nothing after a close."""
    decisions: list[Decision] = []
    eager_left = context.eager_slots
    remote_eager = 0
    for command in commands:
        attrs = command.attributes
        decider = _DECIDERS.get(command.event_type)
        if command.event_type == EV.ACTIVITY_TASK_SCHEDULED:
            allowed = True
            if NO_EAGER in attrs:
                attrs = {k: v for k, v in attrs.items() if k != NO_EAGER}
                allowed = False
            # Temporal's eager execution (and its limits) covers remote activities only;
            # Stalwart's local activities always take a free slot of their own worker.
            remote = not attrs.get("local")
            if remote and remote_eager >= context.eager_remote_limit:
                allowed = False
            eager = allowed and eager_left > 0 and attrs["task_queue"] == context.task_queue
            eager_left -= eager
            remote_eager += eager and remote
            decisions.append(Decision(command.event_type, attrs,
                                      _schedule_activity(attrs, eager)))
        elif command.event_type in CLOSE_STATUS:
            decisions.append(_close(command, context))
            break
        else:
            effect = decider(attrs, context) if decider is not None else None
            decisions.append(Decision(command.event_type, attrs, effect))
    return decisions


def eager_activities(decisions: Sequence[Decision]) -> int:
    return sum(1 for d in decisions if isinstance(d.effect, ScheduleActivity) and d.effect.eager)


def _schedule_activity(attrs: dict[str, Any], eager: bool) -> ScheduleActivity:
    return ScheduleActivity(
        seq=attrs["seq"], task_queue=attrs["task_queue"], activity_type=attrs["activity_type"],
        activity_id=attrs["activity_id"], input=attrs["input"],
        options={key: attrs.get(key) for key in ACTIVITY_OPTIONS}, eager=eager)


def _cancel_activity(attrs: dict[str, Any], _: TaskContext) -> RequestCancelActivity:
    seq = attrs["seq"]
    return RequestCancelActivity(seq, {
        "message": "Activity cancelled", "source": "Stalwart",
        "activity_failure_info": {"activity_id": str(seq)},
        "cause": {"message": "Activity cancelled", "canceled_failure_info": {}}})


def _start_child(attrs: dict[str, Any], context: TaskContext) -> StartChild:
    return StartChild(StartWorkflowRequest(
        workflow_id=attrs["workflow_id"], workflow_type=attrs["workflow_type"],
        task_queue=attrs["task_queue"], input=attrs["input"], run_id=attrs["run_id"],
        random_seed=attrs["random_seed"], execution_timeout=attrs.get("execution_timeout"),
        run_timeout=attrs.get("run_timeout"), task_timeout=attrs.get("task_timeout"),
        identity=context.identity, parent_workflow_id=context.workflow_id,
        parent_run_id=context.run_id, parent_seq=attrs["seq"],
        parent_close_policy=attrs.get("parent_close_policy") or 1,
        priority=attrs.get("priority"), header=attrs.get("header"),
        root=context.root or {"workflow_id": context.workflow_id, "run_id": context.run_id},
        memo=attrs.get("memo"), search_attributes=attrs.get("search_attributes"),
        user_metadata=attrs.get("user_metadata"), retry_policy=attrs.get("retry_policy"),
        **_cron_child(attrs.get("cron_schedule"), context.now)))


def _cron_child(schedule: str | None, now: float) -> dict[str, Any]:
    """A cron child, as Temporal starts one: its first task waits for the schedule."""
    if not schedule:
        return {}
    return {"cron_schedule": schedule, "initiator": "CronSchedule",
            "first_task_backoff": max(0.0, cron_workflow_next(schedule, now) - now)}


def _signal_external(attrs: dict[str, Any], context: TaskContext) -> SignalExternal:
    return SignalExternal(
        seq=attrs["seq"], workflow_id=attrs["workflow_id"], run_id=attrs.get("run_id"),
        child_only=bool(attrs.get("child_workflow_only")),
        attributes={"signal_name": attrs["signal_name"], "input": attrs["input"],
                    "identity": context.identity,
                    "external": {"workflow_id": context.workflow_id, "run_id": context.run_id}})


def _cancel_external(attrs: dict[str, Any], context: TaskContext) -> CancelExternal:
    return CancelExternal(
        seq=attrs["seq"], workflow_id=attrs["workflow_id"], run_id=attrs.get("run_id"),
        child_only=bool(attrs.get("child_workflow_only")),
        attributes={"cause": "requested by another workflow", "identity": context.identity,
                    # Temporal's event names the workflow that asked.
                    "external": {"workflow_id": context.workflow_id, "run_id": context.run_id}})


def _complete_update(attrs: dict[str, Any], _: TaskContext) -> CompleteUpdate:
    return CompleteUpdate(attrs["update_id"], attrs.get("result"), attrs.get("failure"))


_DECIDERS: dict[str, Callable[[dict[str, Any], TaskContext], Effect]] = {
    EV.ACTIVITY_TASK_CANCEL_REQUESTED: _cancel_activity,
    EV.TIMER_STARTED: lambda a, _: StartTimer(a["seq"], a["start_to_fire_timeout"]),
    EV.TIMER_CANCELED: lambda a, _: CancelTimer(a["seq"]),
    EV.START_CHILD_WORKFLOW_EXECUTION_INITIATED: _start_child,
    EV.SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED: _signal_external,
    EV.REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED: _cancel_external,
    EV.UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
        lambda a, _: UpsertSearchAttributes(a["search_attributes"]),
    EV.WORKFLOW_PROPERTIES_MODIFIED: lambda a, _: UpsertMemo(a["upserted_memo"]),
    EV.WORKFLOW_EXECUTION_UPDATE_COMPLETED: _complete_update,
}


def _close(command: Command, context: TaskContext) -> Decision:
    attrs = command.attributes
    status = CLOSE_STATUS[command.event_type]
    retry_state = None
    if status == ExecutionStatus.FAILED and context.retry is not None:
        retry_state, retried = _retry(attrs, context.retry, context)
        if retried is not None:
            return retried
        attrs = {**attrs, "retry_state": retry_state}
    cron = context.cron
    if cron is not None and status in (ExecutionStatus.COMPLETED, ExecutionStatus.FAILED):
        return _next_cron_run(command.event_type, attrs, status, cron, context)
    if status != ExecutionStatus.CONTINUED_AS_NEW:
        return Decision(command.event_type, attrs,
                        CloseRun(status, attrs.get("result"), attrs.get("failure"),
                                 retry_state=retry_state))
    next_run = StartWorkflowRequest(
        workflow_id=context.workflow_id, workflow_type=attrs["workflow_type"],
        task_queue=attrs["task_queue"], input=attrs["input"], run_id=context.new_run_id(),
        # The chain's execution timeout is the store's to carry over; the run and task
        # timeouts are in the event (histories before they were: run_timeout under the
        # name execution_timeout).
        random_seed=context.random_seed(), task_timeout=attrs.get("task_timeout"),
        continued_run_id=context.run_id, root=context.root, identity=context.identity,
        initiator="Workflow",
        # As in Temporal, the next run keeps the memo and search attributes.
        memo=attrs.get("memo"), search_attributes=attrs.get("search_attributes"),
        first_task_backoff=attrs.get("backoff_start_interval"),
        run_timeout=attrs["run_timeout"] if "run_timeout" in attrs
        else attrs.get("execution_timeout"),
        # A cron workflow's own continue-as-new keeps it a cron workflow.
        cron_schedule=cron.schedule if cron is not None else None,
        last_completion_result=cron.last_completion_result if cron is not None else None,
        # As in Temporal, the next run has the retry policy given to continue_as_new, else
        # this run's (its attempts start afresh).
        retry_policy=settled_policy(attrs["retry_policy"]) if attrs.get("retry_policy")
        else context.retry.started.get("retry_policy") if context.retry is not None else None)
    # The event names the run it continues in (a copy: the instance keeps its command).
    return Decision(command.event_type, {**attrs, "new_execution_run_id": next_run.run_id},
                    CloseRun(status, None, None, next_run))


def _retry(attrs: dict[str, Any], retry: RetryRun, context: TaskContext
           ) -> tuple[int, Decision | None]:
    """A failed run of a workflow with a retry policy: its retry state and, when it is
    retried, its close naming the retry, which starts at once with its first workflow task
    after the policy's backoff (as Temporal's server retries it)."""
    started = retry.started
    failure = attrs.get("failure")
    state, backoff = retry_backoff(started.get("retry_policy"), int(started.get("attempt") or 1),
                                   failure, context.now, started.get("execution_expiration"))
    if backoff is None:
        return state, None
    next_run = retry_request(
        started, run_id=context.new_run_id(), continued_run_id=context.run_id,
        random_seed=context.random_seed(), identity=context.identity, failure=failure,
        backoff=backoff, memo=retry.memo, search_attributes=retry.search_attributes)
    return state, Decision(
        EV.WORKFLOW_EXECUTION_FAILED,
        {**attrs, "new_execution_run_id": next_run.run_id, "retry_state": state},
        CloseRun(ExecutionStatus.FAILED, None, failure, next_run, retry_state=state))


def _next_cron_run(event_type: str, attrs: dict[str, Any], status: ExecutionStatus,
                   cron: CronRun, context: TaskContext) -> Decision:
    """A cron run that completed or failed closes as such and, as in Temporal, the next run
    of the chain starts at once with its first workflow task delayed to the schedule's next
    time. It gets the same input, the result of the last run that completed and, after a
    failure, that failure."""
    failed = status == ExecutionStatus.FAILED
    next_time = cron_workflow_next(cron.schedule, cron.now, cron.due)
    next_run = StartWorkflowRequest(
        workflow_id=context.workflow_id, workflow_type=cron.workflow_type,
        task_queue=cron.task_queue, input=cron.input, run_id=context.new_run_id(),
        random_seed=context.random_seed(), continued_run_id=context.run_id, root=context.root,
        identity=context.identity, memo=cron.memo, search_attributes=cron.search_attributes,
        cron_schedule=cron.schedule, first_task_backoff=max(0.0, next_time - cron.now),
        initiator="CronSchedule", retry_policy=cron.retry_policy,
        last_completion_result=cron.last_completion_result if failed
        else [attrs["result"]] if attrs.get("result") is not None else None,
        continued_failure=attrs.get("failure") if failed else None)
    return Decision(event_type, {**attrs, "new_execution_run_id": next_run.run_id},
                    CloseRun(status, attrs.get("result"), attrs.get("failure"), next_run))
