"""The store interface the engine talks to, and the rows it exchanges.

The store knows events, tasks, leases and deadlines; it knows nothing of Python workflow code.
Every write method is one transaction. Methods that act on a leased task take the caller's
worker id and attempt and do nothing (``False`` / ``None``) when the lease is no longer theirs:
that fencing is what makes a redelivered task safe.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Protocol

from .._model.events import HistoryEvent
from .._model.run_timeouts import settle as run_timeouts_settle
from .wakeup import Notifier, Subscription


class ExecutionStatus(IntEnum):
    """Mirrors ``temporalio.client.WorkflowExecutionStatus``."""

    RUNNING = 1
    COMPLETED = 2
    FAILED = 3
    CANCELED = 4
    TERMINATED = 5
    CONTINUED_AS_NEW = 6
    TIMED_OUT = 7


class UpdateState(IntEnum):
    """Where an update request stands (``updates.state``)."""

    ADMITTED = 0
    ACCEPTED = 1
    REFUSED = 2  # rejected by its validator, or its run closed before it completed
    COMPLETED = 3
    # Admitted while its run's last workflow task ran, never seen by that run: it went on to
    # the next run of the chain (continue-as-new, retry, cron), as Temporal retries it there.
    MOVED_ON = 4


@dataclass
class StartWorkflowRequest:
    workflow_id: str
    workflow_type: str
    task_queue: str
    input: list[dict[str, Any]]
    run_id: str
    random_seed: int
    execution_timeout: float | None = None
    # Seconds a workflow task may take (Temporal's workflow task timeout); None: the default.
    task_timeout: float | None = None
    id_reuse_policy: int = 1
    id_conflict_policy: int = 0
    start_signal: tuple[str, list[dict[str, Any]]] | None = None
    # Update-with-start's update (id, name, input): admitted in the start's transaction, so
    # the run's first workflow task delivers it, as Temporal's does.
    start_update: tuple[str, str, list[dict[str, Any]]] | None = None
    first_run_id: str | None = None
    continued_run_id: str | None = None
    identity: str = ""
    parent_workflow_id: str | None = None
    parent_run_id: str | None = None
    parent_seq: int | None = None
    parent_close_policy: int = 1
    # A child's root workflow ({"workflow_id", "run_id"}): its parent's root, else the parent.
    root: dict[str, str] | None = None
    eager_worker_id: str | None = None
    search_attributes: dict[str, Any] | None = None
    memo: dict[str, Any] | None = None
    header: dict[str, Any] | None = None
    # A Temporal cron workflow: its schedule, how long the run's first workflow task waits
    # (until the schedule's next time), and what the previous run of the chain left.
    cron_schedule: str | None = None
    first_task_backoff: float | None = None
    initiator: str | None = None
    last_completion_result: list[dict[str, Any]] | None = None
    continued_failure: dict[str, Any] | None = None
    # Temporal's Priority.priority_key: lower is claimed first; None inherits the parent's
    # (or the previous run's), else DEFAULT_PRIORITY.
    priority: int | None = None
    # Seconds this run may take (Temporal's run timeout; each run of a chain has its own).
    # execution_timeout bounds the whole chain: its end is execution_expiration, set at the
    # chain's first run and inherited by every later one.
    run_timeout: float | None = None
    execution_expiration: float | None = None
    # start_workflow's static_summary / static_details ({"summary", "details"}), which
    # describe() reports (Temporal's user metadata of the start).
    user_metadata: dict[str, str] | None = None
    # The workflow's retry policy (RetryPolicy._to_json form): recorded in the started event,
    # reported by info().retry_policy, and followed when a run fails or its run timeout ends
    # it (``workflow_retry``).
    retry_policy: dict[str, Any] | None = None
    # Which attempt of the chain this run is (a retry's: the failed run's plus one).
    attempt: int = 1


# Temporal's default priority key: the middle of its default range 1-5.
DEFAULT_PRIORITY = 3


def run_timeouts(request: StartWorkflowRequest
                 ) -> tuple[float | None, float | None, float | None]:
    """The run's (execution, run, task) timeouts as Temporal's server settles them."""
    return run_timeouts_settle(request.execution_timeout, request.run_timeout,
                               request.task_timeout)


def run_deadline(request: StartWorkflowRequest, now: float) -> float | None:
    """When the run times out: at its run timeout or at the chain's expiration, if sooner.
    As in Temporal, the run timeout counts from the run's first workflow task, after its
    backoff (a retry's, a cron run's, a start delay)."""
    _, run, _ = run_timeouts(request)
    run_end = now + (request.first_task_backoff or 0.0) + run if run else None
    ends = [t for t in (execution_expiration(request, now), run_end) if t is not None]
    return min(ends) if ends else None


def execution_expiration(request: StartWorkflowRequest, now: float) -> float | None:
    """When the chain times out: inherited, or ``execution_timeout`` after its first run."""
    if request.execution_expiration is not None:
        return request.execution_expiration
    return now + request.execution_timeout if request.execution_timeout else None


def started_attributes(request: StartWorkflowRequest, now: float) -> dict[str, Any]:
    """The attributes of a run's ``WorkflowExecutionStarted`` event (every backend writes
    exactly these, and an eager first activation is fed exactly these)."""
    execution, run, task = run_timeouts(request)
    expiration = execution_expiration(request, now)
    if run is None and request.continued_run_id is not None and (
            request.initiator != "RetryPolicy" or request.run_timeout == 0.0):
        # Temporal's server records a later run of a chain without one as "0s" (a retry
        # keeps what the run it retries recorded: "0s" too, after a continue-as-new).
        run = 0.0
    return {
        "workflow_id": request.workflow_id, "workflow_type": request.workflow_type,
        "task_queue": request.task_queue, "input": request.input,
        "execution_timeout": execution, "random_seed": request.random_seed,
        **({"execution_expiration": expiration} if expiration is not None else {}),
        "first_run_id": request.first_run_id or request.run_id,
        "continued_run_id": request.continued_run_id, "attempt": request.attempt,
        "identity": request.identity,
        "parent": {"namespace": "default", "workflow_id": request.parent_workflow_id,
                   "run_id": request.parent_run_id} if request.parent_run_id else None,
        **({"root": request.root} if request.root else {}),
        **({"search_attributes": request.search_attributes}
           if request.search_attributes else {}),
        **({"memo": request.memo} if request.memo else {}),
        **({"header": request.header} if request.header else {}),
        **({"cron_schedule": request.cron_schedule} if request.cron_schedule else {}),
        **({"first_workflow_task_backoff": request.first_task_backoff}
           if request.first_task_backoff else {}),
        **({"initiator": request.initiator} if request.initiator else {}),
        **({"run_timeout": run} if run is not None else {}),
        **({"priority": request.priority} if request.priority is not None else {}),
        **({"task_timeout": task} if task else {}),
        **({"user_metadata": request.user_metadata} if request.user_metadata else {}),
        **({"retry_policy": request.retry_policy} if request.retry_policy else {}),
        **({"last_completion_result": request.last_completion_result}
           if request.last_completion_result is not None else {}),
        **({"continued_failure": request.continued_failure}
           if request.continued_failure is not None else {}),
    }


def refill_tokens(rate: float, tokens: float, updated_at: float, now: float) -> float:
    """A token bucket refilled at ``rate`` per second, holding at most one second's worth
    (and at least one token, so a rate below 1/s still lets one activity through)."""
    capacity = max(1.0, rate)
    return min(capacity, tokens + max(0.0, now - updated_at) * rate)


@dataclass
class StartResult:
    run_id: str
    started: bool
    eager_task: WorkflowTaskClaim | None = None


@dataclass
class ExecutionRow:
    run_id: str
    workflow_id: str
    workflow_type: str
    task_queue: str
    status: ExecutionStatus
    start_time: float
    close_time: float | None
    first_run_id: str
    continued_run_id: str | None
    next_run_id: str | None
    history_length: int
    result: dict[str, Any] | None
    failure: dict[str, Any] | None
    execution_deadline: float | None
    parent_workflow_id: str | None = None
    parent_run_id: str | None = None
    search_attributes: dict[str, Any] = field(default_factory=dict)
    memo: dict[str, Any] = field(default_factory=dict)


@dataclass
class InboxEvent:
    """An input event waiting for the run's next workflow task."""

    inbox_id: int
    event_type: str
    timestamp: float
    attributes: dict[str, Any]

    def as_history_event(self) -> HistoryEvent:
        return HistoryEvent(0, self.event_type, self.timestamp, self.attributes)


@dataclass
class WorkflowTaskClaim:
    run_id: str
    workflow_id: str
    workflow_type: str
    task_queue: str
    attempt: int
    history_length: int
    inbox: list[InboxEvent]
    updates: list[dict[str, Any]] = field(default_factory=list)
    history: list[HistoryEvent] | None = None  # the whole history, when the claim carries it

    @property
    def inbox_max_id(self) -> int:
        return self.inbox[-1].inbox_id if self.inbox else 0


@dataclass
class ActivityTaskClaim:
    run_id: str
    seq: int
    workflow_id: str
    workflow_type: str
    activity_type: str
    activity_id: str
    task_queue: str
    input: list[dict[str, Any]]
    options: dict[str, Any]
    attempt: int
    scheduled_at: float
    attempt_scheduled_at: float
    started_at: float
    heartbeat_details: list[dict[str, Any]]


# -- what a workflow task decided, as the store applies it -----------------------------------
# The engine turns the workflow's commands into these (``_engine/decisions.py``): each is the
# event to append and the rows it implies, already decided. The store only applies them, and
# adds what depends on the database's state at commit time (a child whose id is taken, an
# external target that has closed).


@dataclass
class ScheduleActivity:
    seq: int
    task_queue: str
    activity_type: str
    activity_id: str
    input: list[dict[str, Any]]
    options: dict[str, Any]
    eager: bool  # leased at once to the completing worker, which runs it without polling


@dataclass
class RequestCancelActivity:
    seq: int
    # Recorded as the activity's cancellation if it is not running anywhere.
    failure: dict[str, Any]


@dataclass
class StartTimer:
    seq: int
    seconds: float


@dataclass
class CancelTimer:
    seq: int


@dataclass
class StartChild:
    request: StartWorkflowRequest


@dataclass
class SignalExternal:
    seq: int
    workflow_id: str
    run_id: str | None
    child_only: bool
    attributes: dict[str, Any]  # of the target's WorkflowExecutionSignaled event


@dataclass
class CancelExternal:
    seq: int
    workflow_id: str
    run_id: str | None
    child_only: bool
    attributes: dict[str, Any]  # of the target's WorkflowExecutionCancelRequested event


@dataclass
class UpsertSearchAttributes:
    changes: dict[str, Any]


@dataclass
class UpsertMemo:
    changes: dict[str, Any]


@dataclass
class CompleteUpdate:
    update_id: str
    result: dict[str, Any] | None
    failure: dict[str, Any] | None


@dataclass
class CloseRun:
    status: ExecutionStatus
    result: dict[str, Any] | None
    failure: dict[str, Any] | None
    # Continue-as-new: the next run. The store carries over what the closing run's row knows
    # (first run id, parent, an inherited execution deadline).
    next_run: StartWorkflowRequest | None = None
    # A failed run's retry state (``workflow_retry``), which its parent's close event reports.
    retry_state: int | None = None


Effect = (ScheduleActivity | RequestCancelActivity | StartTimer | CancelTimer | StartChild
          | SignalExternal | CancelExternal | UpsertSearchAttributes | UpsertMemo
          | CompleteUpdate | CloseRun)


@dataclass
class Decision:
    """One command of a workflow task: the event it appends, and what else it does."""

    event_type: str
    attributes: dict[str, Any]
    effect: Effect | None = None


@dataclass(frozen=True)
class StreamPublish:
    """One item to append; ``data`` is the payload as JSON text (None for a marker)."""

    topic: str
    data: str | None
    producer: str  # "workflow" | "activity" | "client"
    producer_seq: int | None = None
    activity_id: str | None = None
    activity_seq: int | None = None
    attempt: int | None = None


@dataclass
class WorkflowTaskCompletion:
    run_id: str
    worker_id: str
    identity: str
    inbox_max_id: int
    workflow_time: float
    decisions: Sequence[Decision]
    claim_next_task: bool = True
    accepted_updates: Sequence[HistoryEvent] = ()
    rejected_updates: Sequence[tuple[str, dict[str, Any]]] = ()
    # The history length the completing instance had seen, when it completes without a claim
    # (the activity fast path): the store refuses if the run has moved on since.
    history_length: int | None = None
    # What workflow code published to its streams during the task (committed with it).
    stream_items: Sequence[StreamPublish] = ()
    # The run's row as this worker's last commit of it left it (``CompletionResult.run_row``),
    # with ``history_length``: a store may guess the run unchanged and check that on the
    # server with its writes instead of reading the run first (``Tx.assume_none``).
    run_row: tuple[Any, ...] | None = None


@dataclass
class CompletionResult:
    accepted: bool
    reason: str = ""
    history_length: int = 0
    eager_activities: list[ActivityTaskClaim] = field(default_factory=list)
    next_task: WorkflowTaskClaim | None = None
    # The run's row as the commit found it (``RUN_FOR_TASK_SQL``'s columns; its history
    # length is ``history_length``): what the worker's next completion may guess.
    run_row: tuple[Any, ...] | None = None


@dataclass
class ExpiredActivity:
    run_id: str
    seq: int
    workflow_id: str
    activity_type: str
    activity_id: str
    options: dict[str, Any]
    attempt: int
    lease_owner: str | None
    scheduled_at: float
    attempt_scheduled_at: float
    started_at: float | None
    heartbeat_at: float | None
    heartbeat_details: list[dict[str, Any]]
    last_failure: dict[str, Any] | None


@dataclass
class WorkerRow:
    worker_id: str
    identity: str
    task_queue: str
    host: str
    pid: int
    pid_start: str
    heartbeat_at: float


class Store(Protocol):
    """One implementation per database; the engine sees only this."""

    url: str

    async def close(self) -> None: ...

    # -- clients --------------------------------------------------------------------------
    async def start_workflow(self, request: StartWorkflowRequest, now: float) -> StartResult: ...

    async def start_workflow_with_task(
            self, request: StartWorkflowRequest, completion: WorkflowTaskCompletion, now: float
    ) -> tuple[StartResult, CompletionResult | None]: ...

    async def signal_workflow(self, workflow_id: str, run_id: str | None, signal_name: str,
                              input: list[dict[str, Any]], identity: str, now: float,
                              header: dict[str, Any] | None = None) -> str: ...

    async def request_cancel_workflow(self, workflow_id: str, run_id: str | None, reason: str,
                                      identity: str, now: float) -> str: ...

    async def terminate_workflow(self, workflow_id: str, run_id: str | None, reason: str,
                                 details: list[dict[str, Any]], identity: str,
                                 now: float) -> str: ...

    async def reset_workflow(self, request: Any, now: float) -> str: ...

    async def reset_links(self, run_id: str) -> tuple[str | None, str | None, str | None]: ...

    async def steer_activities(self, workflow_id: str, run_id: str | None,
                               activity_id: str | None, activity_type: str | None,
                               action: str, params: dict[str, Any],
                               now: float) -> list[dict[str, Any]]: ...

    async def get_execution(self, workflow_id: str | None,
                            run_id: str | None) -> ExecutionRow | None: ...

    async def list_executions(self, *, status: int | None = None,
                              workflow_type: str | None = None,
                              workflow_id_prefix: str | None = None,
                              task_queue: str | None = None,
                              limit: int = 100) -> list[ExecutionRow]: ...

    async def list_workflows(self, query: str | None, limit: int,
                             offset: int) -> list[ExecutionRow]: ...

    async def count_workflows(self, query: str | None) -> int: ...

    async def start_standalone_activity(self, request: dict[str, Any],
                                        now: float) -> tuple[str, bool]: ...

    async def cancel_standalone_activity(self, activity_id: str, run_id: str | None,
                                         reason: str | None, now: float) -> None: ...

    async def terminate_standalone_activity(self, activity_id: str, run_id: str | None,
                                            reason: str | None, now: float) -> None: ...

    async def steer_standalone_activity(self, activity_id: str, run_id: str | None,
                                        action: str, params: dict[str, Any],
                                        now: float) -> dict[str, Any]: ...

    async def update_standalone_activity_options(
            self, activity_id: str, run_id: str | None, changes: dict[str, Any] | None,
            now: float) -> dict[str, Any]: ...

    async def describe_standalone_activity(self, activity_id: str,
                                           run_id: str | None) -> dict[str, Any]: ...

    async def resolve_standalone_activity(self, activity_id: str,
                                          run_id: str | None) -> str: ...

    async def standalone_activity_outcome(self, run_id: str
                                          ) -> tuple[int, Any, Any] | None: ...

    async def list_standalone_activities(self, query: str | None, limit: int,
                                         offset: int) -> list[dict[str, Any]]: ...

    async def count_standalone_activities(self, query: str | None) -> int: ...

    async def get_history(self, run_id: str, after_event_id: int = 0,
                          limit: int | None = None) -> list[HistoryEvent]: ...

    async def get_inbox(self, run_id: str) -> list[InboxEvent]: ...

    async def list_pending_activities(self, run_id: str) -> list[dict[str, Any]]: ...

    async def wait_closed(self, run_id: str, timeout: float | None,
                          subscribed: Subscription | None = None) -> ExecutionRow | None: ...

    async def fetch_sql(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]: ...

    # -- workers --------------------------------------------------------------------------
    async def register_worker(self, worker: WorkerRow) -> None: ...

    async def unregister_worker(self, worker_id: str) -> None: ...

    def heartbeat_worker_blocking(self, worker_id: str, now: float) -> None: ...

    async def list_workers(self) -> list[WorkerRow]: ...

    async def claim_workflow_tasks(self, task_queue: str, worker_id: str, now: float,
                                   lease_seconds: float, limit: int) -> list[WorkflowTaskClaim]: ...

    async def complete_workflow_task(self, completion: WorkflowTaskCompletion,
                                     now: float) -> CompletionResult: ...

    async def fail_workflow_task(self, run_id: str, worker_id: str, failure: dict[str, Any],
                                 retry_at: float, now: float,
                                 inbox_max_id: int = 0) -> None: ...

    async def time_out_workflow_task(self, run_id: str, worker_id: str, inbox_max_id: int,
                                     now: float) -> None: ...

    async def release_workflow_task(self, run_id: str, worker_id: str, now: float) -> None: ...

    async def claim_activity_tasks(self, task_queue: str, worker_id: str, now: float,
                                   limit: int, rate_limit: float | None = None
                                   ) -> list[ActivityTaskClaim]: ...

    async def complete_activity_task(self, run_id: str, seq: int, attempt: int,
                                     worker_id: str | None,
                                     result: dict[str, Any], identity: str, now: float,
                                     claim_workflow_task: bool
                                     ) -> tuple[bool, WorkflowTaskClaim | None]: ...

    async def complete_activity_and_workflow_task(
            self, seq: int, attempt: int, result: dict[str, Any], started_at: float,
            completion: WorkflowTaskCompletion, now: float
    ) -> tuple[str, CompletionResult | None, WorkflowTaskClaim | None]: ...

    async def fail_activity_task(self, run_id: str, seq: int, attempt: int,
                                 worker_id: str | None, failure: dict[str, Any],
                                 final_failure: dict[str, Any] | None, retry_at: float | None,
                                 heartbeat_details: list[dict[str, Any]] | None,
                                 event_type: str, identity: str, now: float) -> bool: ...

    async def heartbeat_activity_task(self, run_id: str, seq: int, attempt: int,
                                      worker_id: str | None, details: list[dict[str, Any]],
                                      now: float) -> bool | None: ...

    async def update_workflow(self, workflow_id: str, run_id: str | None, update_id: str,
                              name: str, input: list[dict[str, Any]], now: float) -> str: ...

    async def get_update(self, run_id: str, update_id: str) -> dict[str, Any] | None: ...

    async def query_workflow(self, workflow_id: str, run_id: str | None, name: str,
                             input: list[dict[str, Any]], now: float) -> int: ...

    async def get_query(self, query_id: int) -> dict[str, Any] | None: ...

    async def delete_query(self, query_id: int) -> None: ...

    async def claim_queries(self, task_queue: str, worker_id: str, now: float,
                            limit: int) -> list[dict[str, Any]]: ...

    async def answer_query(self, query_id: int, result: dict[str, Any] | None,
                           failure: dict[str, Any] | None) -> None: ...

    async def mark_activity_async(self, run_id: str, seq: int, attempt: int,
                                  worker_id: str) -> bool: ...

    # -- the sweeper ------------------------------------------------------------------------
    async def fire_due_timers(self, now: float, limit: int) -> int: ...

    async def find_expired_activities(self, now: float, limit: int) -> list[ExpiredActivity]: ...

    async def find_activities_of_worker(self, worker_id: str) -> list[ExpiredActivity]: ...

    async def release_workflow_tasks_of_worker(self, worker_id: str, now: float) -> int: ...

    async def time_out_executions(self, now: float, limit: int) -> int: ...

    async def next_due_time(self, now: float) -> float | None: ...

    async def has_ready_work(self, now: float) -> bool: ...

    # -- operations ---------------------------------------------------------------------------
    async def delete_closed_runs(self, closed_before: float, limit: int = 1000) -> int: ...

    async def publish_stream(self, run_id: str, items: list[StreamPublish],
                             now: float) -> list[int]: ...

    async def resolve_stream(self, workflow_id: str, run_id: str | None) -> Any: ...

    async def read_stream(self, chain_id: str, from_offset: int, topics: list[str] | None,
                          run_id: str | None, limit: int) -> list[Any]: ...

    async def stream_head(self, chain_id: str) -> int: ...

    async def stream_run_open(self, run_id: str) -> bool: ...

    async def status(self) -> dict[str, Any]: ...

    # -- wakeups ----------------------------------------------------------------------------
    notifier: Notifier

    def subscribe(self, *keys: tuple[str, str],
                  room: Callable[[], int] | None = None) -> Subscription: ...

    def hand_on(self, key: tuple[str, str]) -> None:
        """A poller filled up with work left on ``key``'s queue: wake a poller elsewhere."""

    # -- schedules (state JSON is the engine's; the store keeps it and runs the engine's
    # step inside one transaction) ---------------------------------------------------------
    async def create_schedule(self, row: ScheduleRow, now: float) -> bool: ...

    async def get_schedule(self, schedule_id: str) -> ScheduleRow | None: ...

    async def list_schedules(self, limit: int, offset: int) -> list[ScheduleRow]: ...

    async def delete_schedule(self, schedule_id: str) -> bool: ...

    async def mutate_schedule(self, schedule_id: str, step: ScheduleStep, now: float,
                              wake: bool = True) -> ScheduleRow | None: ...

    async def due_schedules(self, now: float, limit: int) -> list[str]: ...

    async def next_schedule_time(self) -> float | None: ...

    async def schedule_watch_runs(self, limit: int) -> list[str]: ...

    async def get_scheduler_lease(self) -> tuple[str, float] | None: ...

    async def take_scheduler_lease(self, owner: str, previous_owner: str | None,
                                   expires_at: float) -> bool: ...

    async def release_scheduler_lease(self, owner: str) -> None: ...


@dataclass
class ScheduleRun:
    """A workflow a schedule started and last saw open (``run_id`` is its latest run)."""

    workflow_id: str
    first_run_id: str
    run_id: str


@dataclass
class ScheduleRow:
    schedule_id: str
    schedule: dict[str, Any]
    info: dict[str, Any]
    memo: dict[str, Any] | None
    search_attributes: dict[str, Any] | None
    created_at: float
    updated_at: float | None
    next_action_at: float | None
    running: list[ScheduleRun] = field(default_factory=list)
    version: int = 1


class ScheduleTxn(Protocol):
    """What a schedule step may do to workflows, inside the schedule's transaction."""

    def latest_run(self, workflow_id: str, first_run_id: str
                   ) -> tuple[str, ExecutionStatus] | None: ...

    def start_workflow(self, request: StartWorkflowRequest) -> StartResult: ...

    def terminate_workflow(self, workflow_id: str, run_id: str, reason: str,
                           identity: str) -> None: ...

    def request_cancel_workflow(self, workflow_id: str, run_id: str, reason: str,
                                identity: str) -> None: ...


# Called with the current row and the transaction; returns the new row, or None to leave
# the schedule as it was. An exception rolls the whole step back.
ScheduleStep = Callable[[ScheduleRow, ScheduleTxn], "ScheduleRow | None"]
