"""The end of the client's outbound interceptor chain: where client calls meet the store."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from contextvars import ContextVar
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from . import _client_activities as _activities
from . import _client_activity_types as _types
from . import _client_messages as _messages
from . import _client_visibility as _visibility
from . import exceptions as exc
from ._client_interceptors import (
    BackfillScheduleInput,
    CancelWorkflowInput,
    CompleteAsyncActivityInput,
    CountWorkflowsInput,
    CreateScheduleInput,
    DeleteScheduleInput,
    DescribeScheduleInput,
    DescribeWorkflowInput,
    FailAsyncActivityInput,
    FetchWorkflowHistoryEventsInput,
    HeartbeatAsyncActivityInput,
    ListSchedulesInput,
    ListWorkflowsInput,
    OutboundInterceptor,
    PauseScheduleInput,
    QueryWorkflowInput,
    ReportCancellationAsyncActivityInput,
    SignalWorkflowInput,
    StartWorkflowInput,
    StartWorkflowUpdateInput,
    StartWorkflowUpdateWithStartInput,
    TerminateWorkflowInput,
    TriggerScheduleInput,
    UnpauseScheduleInput,
    UpdateScheduleInput,
)
from ._client_messages import WorkflowUpdateHandle, WorkflowUpdateStage, query, start_update
from ._client_payloads import limits_of, warn_if_large, warn_if_large_memo
from ._client_timeouts import check_timeouts
from ._client_update_with_start import run_update_with_start
from ._client_visibility import (
    WorkflowExecutionAsyncIterator,
    WorkflowExecutionCount,
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
)
from ._engine.codec import encode_value
from ._engine.metrics import METRICS
from ._model import limits as _limits
from ._model import search_attributes as _sa
from ._model.temporal_history import seed_for_run
from ._runtime.definitions import get_workflow_definition
from ._schedules import ScheduleAsyncIterator, ScheduleDescription, ScheduleHandle
from ._schedules import handle as _schedules_handle
from ._schedules.spec import SpecError, cron_workflow_next
from ._store.base import ExecutionStatus, StartWorkflowRequest
from ._store.wakeup import Subscription
from .common import QueryRejectCondition, RetryPolicy, _priority_key
from .converter import _payload_to_json, headers_to_json
from .exceptions import WorkflowQueryRejectedError

if TYPE_CHECKING:
    from .client import Client, WorkflowHandle

# The reason Temporal's server records for a terminate request that gives none (it is also the
# message of the TerminatedError that result() raises).
_TERMINATE_REASON_DEFAULT = "terminated by user via frontend"


def workflow_name_and_result_type(workflow: Any) -> tuple[str, Any]:
    if isinstance(workflow, str):
        if not workflow:
            raise ValueError("workflow name must not be empty")
        return workflow, None
    definition = get_workflow_definition(workflow)
    if definition is None:
        raise TypeError(f"{workflow!r} is not a workflow: pass a @workflow.defn class's "
                        "@workflow.run method (e.g. MyWorkflow.run) or the workflow type name")
    return definition.name, definition.return_type_hint


def _seconds(value: timedelta | None) -> float | None:
    return value.total_seconds() if value else None


def check_start(name: str, id: object, task_queue: object, start_signal: str | None,
                execution_timeout: timedelta | None, run_timeout: timedelta | None,
                task_timeout: timedelta | None,
                cron_schedule: str, start_delay: timedelta | None, now: float
                ) -> tuple[str, str]:
    """``start_workflow``'s options, refused with the field, the value and the fix; gives
    back the id and task queue, checked."""
    if not id or not isinstance(id, str):
        raise ValueError(f"start_workflow({name!r}) needs id='...': a workflow id unique "
                         "among running workflows, e.g. id=f'research-{topic}'")
    if not task_queue or not isinstance(task_queue, str):
        raise ValueError(f"start_workflow({name!r}) needs task_queue='...', the queue "
                         "your worker polls")
    _limits.check_name("workflow type", name)
    _limits.check_name("workflow id", id)
    _limits.check_name("task queue", task_queue)
    _limits.check_optional_name("start signal name", start_signal)
    check_timeouts(execution_timeout, run_timeout, task_timeout)
    if start_delay is not None and start_delay < timedelta(0):
        raise ValueError(f"start_workflow({name!r}): start_delay must not be negative, got "
                         f"{start_delay}")
    if cron_schedule:
        if start_delay:
            raise ValueError(f"start_workflow({name!r}): cron_schedule and start_delay may "
                             "not be used together (as on Temporal); pass one of them")
        try:
            cron_workflow_next(cron_schedule, now)
        except SpecError as error:
            raise ValueError(f"start_workflow({name!r}, cron_schedule="
                             f"{cron_schedule!r}): {error}") from None
    return id, task_queue


class CloseWatch:
    """``execute_workflow``'s subscription to its run's close, made before the run starts:
    every close from then on reaches it, so waiting for the result starts with a wait, not a
    read of a run that has only just begun."""

    __slots__ = ("run_id", "sub")

    def __init__(self) -> None:
        self.run_id: str | None = None
        self.sub: Subscription | None = None

    def watch(self, client: Client, run_id: str) -> None:
        # The first start under this watch only: an interceptor may start other runs first.
        if self.sub is None and self.run_id is None:
            self.run_id = run_id
            self.sub = client._store.subscribe(("closed", run_id))

    def take(self, run_id: str) -> Subscription | None:
        """The subscription, if it is ``run_id``'s (the caller closes it)."""
        sub = self.sub if run_id == self.run_id else None
        if sub is not None:
            self.sub = None
        return sub

    def close(self) -> None:
        if self.sub is not None:
            self.sub.close()
            self.sub = None


CLOSE_WATCH: ContextVar[CloseWatch | None] = ContextVar("stalwart_close_watch", default=None)


async def start_workflow(client: Client, input: StartWorkflowInput,
                         start_update: tuple[str, str, list[dict[str, Any]]] | None = None
                         ) -> WorkflowHandle[Any, Any]:
    """Start a workflow: the store call at the end of the client's outbound chain."""
    name, task_queue = input.workflow, input.task_queue
    run_uuid = uuid.uuid4()
    run_id = str(run_uuid)
    request = StartWorkflowRequest(
        workflow_id=input.id, workflow_type=name, task_queue=task_queue,
        input=await client._encode(input.args, f"start_workflow({name!r}) arguments",
                                   input.id),
        run_id=run_id, random_seed=seed_for_run(run_uuid),
        execution_timeout=_seconds(input.execution_timeout),
        run_timeout=_seconds(input.run_timeout),
        task_timeout=_seconds(input.task_timeout),
        id_reuse_policy=input.id_reuse_policy, id_conflict_policy=input.id_conflict_policy,
        start_signal=(input.start_signal, await client._encode(
            input.start_signal_args, f"start_signal {input.start_signal!r} arguments",
            input.id))
        if input.start_signal else None,
        identity=client._identity,
        search_attributes=_sa.to_store(input.search_attributes) or None,
        memo={key: (await client._encode([value], f"memo {key!r}", input.id))[0]
              for key, value in (input.memo or {}).items()} or None,
        header=headers_to_json(input.headers) or None,
    )
    warn_if_large_memo(limits_of(client), f"start_workflow({name!r}) memo", request.memo)
    request.priority = _priority_key(input.priority, f"start_workflow({name!r})")
    request.start_update = start_update
    metadata = {"summary": input.static_summary, "details": input.static_details}
    request.user_metadata = {k: v for k, v in metadata.items() if v is not None} or None
    if input.retry_policy is not None:
        if not isinstance(input.retry_policy, RetryPolicy):
            raise TypeError(f"start_workflow({name!r}): retry_policy must be a RetryPolicy, "
                            f"got {type(input.retry_policy).__name__}")
        request.retry_policy = input.retry_policy._to_settled_json()
    watch = CLOSE_WATCH.get()
    if watch is not None and not input.cron_schedule:
        watch.watch(client, run_id)
    eager_worker = None
    if input.cron_schedule:
        now = client._clock.now()
        request.cron_schedule = input.cron_schedule
        request.initiator = "CronSchedule"
        request.first_task_backoff = cron_workflow_next(input.cron_schedule, now) - now
    elif input.start_delay:
        # Temporal's start delay is the first workflow task's backoff, as a cron run's.
        request.first_task_backoff = input.start_delay.total_seconds()
    elif input.request_eager_start is not False:
        eager_worker = _eager_worker(client, task_queue, name)
    result = None
    if eager_worker is not None:
        request.eager_worker_id = eager_worker._worker_id
        # A worker in this process runs the first workflow task before the start commits,
        # so the start and that task share one transaction.
        result = await eager_worker._workflow_worker.start_with_first_task(
            request, client._clock.now())
        if result is not None:
            if result.started:
                METRICS.workflows_started.inc(name)
            return _started_handle(client, input, result.run_id)
    result = await client._store.start_workflow(request, client._clock.now())
    if result.started:
        METRICS.workflows_started.inc(name)
    if result.eager_task is not None and eager_worker is not None:
        eager_worker._workflow_worker.submit(result.eager_task)
    return _started_handle(client, input, result.run_id)

def _started_handle(client: Client, input: StartWorkflowInput, run_id: str
                    ) -> WorkflowHandle[Any, Any]:
    # As in temporalio: the handle is not pinned to the run it started (run_id=None), so
    # signals, queries, updates, cancel and describe reach the latest run of the chain;
    # only result() starts from this run and follows its continue-as-new successors.
    from .client import WorkflowHandle  # the public module imports this one

    return WorkflowHandle(client, input.id, run_id=None, result_run_id=run_id,
                          first_execution_run_id=run_id, result_type=input.ret_type)

def _eager_worker(client: Client, task_queue: str, workflow_type: str) -> Any:
    """A running worker of this client that can take the first workflow task at once."""
    for worker in client._workers:
        workflows = worker._workflow_worker
        if (worker.is_running and worker.task_queue == task_queue
                and workflow_type in workflows.workflows
                and len(workflows._running) < workflows.max_concurrent):
            return worker
    return None


class ClientRoot(OutboundInterceptor):
    """Where intercepted client calls meet the store."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def _handle(self, id: str, run_id: str | None) -> WorkflowHandle[Any, Any]:
        return self._client.get_workflow_handle(id, run_id=run_id)

    async def start_workflow(self, input: StartWorkflowInput) -> WorkflowHandle[Any, Any]:
        return await start_workflow(self._client, input)

    async def signal_workflow(self, input: SignalWorkflowInput) -> None:
        client = self._client
        payloads = await client._encode(input.args, f"signal {input.signal!r} arguments",
                                        input.id)
        await client.store.signal_workflow(input.id, input.run_id, input.signal, payloads,
                                           client.identity, client._clock.now(),
                                           header=headers_to_json(input.headers) or None)

    async def query_workflow(self, input: QueryWorkflowInput) -> Any:
        condition = input.reject_condition
        if condition in (QueryRejectCondition.NOT_OPEN,
                         QueryRejectCondition.NOT_COMPLETED_CLEANLY):
            row = await self._handle(input.id, input.run_id)._execution(input.run_id)
            status = row.status
            if status != ExecutionStatus.RUNNING and (
                    condition == QueryRejectCondition.NOT_OPEN
                    or status != ExecutionStatus.COMPLETED):
                raise WorkflowQueryRejectedError(WorkflowExecutionStatus(int(status)))
        timeout = input.rpc_timeout.total_seconds() if input.rpc_timeout else 10.0
        return await query(self._handle(input.id, input.run_id), input.query, input.args,
                            input.ret_type, timeout)

    async def _check_chain(self, id: str, run_id: str | None,
                           first_execution_run_id: str | None) -> None:
        """Temporal refuses cancel/terminate when the latest run is not of the chain the
        handle's ``first_execution_run_id`` started (the id was reused since)."""
        if run_id is not None or first_execution_run_id is None:
            return
        row = await self._client.store.get_execution(id, None)
        if row is not None and row.first_run_id != first_execution_run_id:
            raise exc.WorkflowNotFoundError(
                f"workflow {id!r}: its latest run {row.run_id} does not belong to the chain "
                f"started by run {first_execution_run_id} (the id was reused); get a new "
                "handle with client.get_workflow_handle(id) to reach the current chain")

    async def cancel_workflow(self, input: CancelWorkflowInput) -> None:
        client = self._client
        await self._check_chain(input.id, input.run_id, input.first_execution_run_id)
        try:
            await client.store.request_cancel_workflow(
                input.id, input.run_id, input.reason or "", client.identity,
                client._clock.now())
        except exc.WorkflowNotFoundError:
            # Temporal accepts a cancel request for a workflow that already closed.
            row = await client.store.get_execution(input.id, input.run_id)
            if row is None or row.status == ExecutionStatus.RUNNING:
                raise

    async def terminate_workflow(self, input: TerminateWorkflowInput) -> None:
        client = self._client
        await self._check_chain(input.id, input.run_id, input.first_execution_run_id)
        details = await client._encode(input.args, "terminate details", input.id)
        await client.store.terminate_workflow(
            input.id, input.run_id, input.reason or _TERMINATE_REASON_DEFAULT, details,
            client.identity, client._clock.now())

    async def describe_workflow(self, input: DescribeWorkflowInput
                                ) -> WorkflowExecutionDescription:
        return await self._handle(input.id, input.run_id)._describe()

    async def start_update_with_start_workflow(self, input: StartWorkflowUpdateWithStartInput
                                               ) -> WorkflowUpdateHandle[Any]:
        return await run_update_with_start(self._client, input)

    async def heartbeat_async_activity(self, input: HeartbeatAsyncActivityInput) -> None:
        await _messages.heartbeat_async_activity(self._client, input)

    async def complete_async_activity(self, input: CompleteAsyncActivityInput) -> None:
        await _messages.complete_async_activity(self._client, input)

    async def fail_async_activity(self, input: FailAsyncActivityInput) -> None:
        await _messages.fail_async_activity(self._client, input)

    async def report_cancellation_async_activity(
            self, input: ReportCancellationAsyncActivityInput) -> None:
        await _messages.report_cancellation_async_activity(self._client, input)

    async def create_schedule(self, input: CreateScheduleInput) -> ScheduleHandle:
        return await _schedules_handle.create_schedule(
            self._client, input.id, input.schedule,
            trigger_immediately=input.trigger_immediately, backfill=input.backfill,
            memo=input.memo, search_attributes=input.search_attributes)

    def list_schedules(self, input: ListSchedulesInput) -> ScheduleAsyncIterator:
        return _schedules_handle.list_schedules(self._client, input.query,
                                                page_size=input.page_size)

    async def backfill_schedule(self, input: BackfillScheduleInput) -> None:
        await ScheduleHandle(self._client, input.id)._backfill_impl(*input.backfills)

    async def delete_schedule(self, input: DeleteScheduleInput) -> None:
        await ScheduleHandle(self._client, input.id)._delete_impl()

    async def describe_schedule(self, input: DescribeScheduleInput) -> ScheduleDescription:
        return await ScheduleHandle(self._client, input.id)._describe_impl()

    async def pause_schedule(self, input: PauseScheduleInput) -> None:
        await ScheduleHandle(self._client, input.id)._pause_impl(note=input.note)

    async def unpause_schedule(self, input: UnpauseScheduleInput) -> None:
        await ScheduleHandle(self._client, input.id)._unpause_impl(note=input.note)

    async def trigger_schedule(self, input: TriggerScheduleInput) -> None:
        await ScheduleHandle(self._client, input.id)._trigger_impl(overlap=input.overlap)

    async def update_schedule(self, input: UpdateScheduleInput) -> None:
        await ScheduleHandle(self._client, input.id)._update_impl(input.updater)

    def list_workflows(self, input: ListWorkflowsInput) -> WorkflowExecutionAsyncIterator:
        return WorkflowExecutionAsyncIterator(self._client, input.query, input.limit,
                                              input.page_size, input.next_page_token)

    def fetch_workflow_history_events(self, input: FetchWorkflowHistoryEventsInput
                                      ) -> _visibility.WorkflowHistoryEventAsyncIterator:
        return _visibility.WorkflowHistoryEventAsyncIterator(self._client, input)

    async def count_workflows(self, input: CountWorkflowsInput) -> WorkflowExecutionCount:
        return await _visibility.count_workflows(self._client.store, input.query)

    async def start_activity(self, input: _types.StartActivityInput
                             ) -> _activities.ActivityHandle[Any]:
        return await _activities.start_activity(self._client, input)

    async def cancel_activity(self, input: _types.CancelActivityInput) -> None:
        await _activities.cancel_activity(self._client, input)

    async def terminate_activity(self, input: _types.TerminateActivityInput) -> None:
        await _activities.terminate_activity(self._client, input)

    async def pause_activity(self, input: _types.PauseActivityInput) -> None:
        await _activities.pause_activity(self._client, input)

    async def unpause_activity(self, input: _types.UnpauseActivityInput) -> None:
        await _activities.unpause_activity(self._client, input)

    async def update_activity_options(self, input: _types.UpdateActivityOptionsInput
                                      ) -> _types.ActivityExecutionOptions:
        return await _activities.update_activity_options(self._client, input)

    async def describe_activity(self, input: _types.DescribeActivityInput
                                ) -> _types.ActivityExecutionDescription:
        return await _activities.describe_activity(self._client, input)

    def list_activities(self, input: _types.ListActivitiesInput
                        ) -> _activities.ActivityExecutionAsyncIterator:
        return _activities.ActivityExecutionAsyncIterator(self._client, input)

    async def count_activities(self, input: _types.CountActivitiesInput
                               ) -> _types.ActivityExecutionCount:
        return await _activities.count_activities(self._client, input)

    async def start_workflow_update(self, input: StartWorkflowUpdateInput
                                    ) -> WorkflowUpdateHandle[Any]:
        await self._check_chain(input.id, input.run_id, input.first_execution_run_id)
        return await start_update(self._handle(input.id, input.run_id), input.update,
                                   input.args, id=input.update_id, result_type=input.ret_type,
                                   wait_for_stage=WorkflowUpdateStage(input.wait_for_stage))


async def encode(client: Client, values: Sequence[Any], what: str,
                 workflow_id: str | None) -> list[dict[str, Any]]:
    """Values in their store form, with errors that name ``what`` and the fix."""
    converter = client.data_converter if workflow_id is None else \
        client._converter_for(workflow_id)
    try:
        payloads = converter.payload_converter.to_payloads(list(values))
    except TypeError as error:
        raise TypeError(f"{what}: {error}") from None
    except RecursionError:
        raise ValueError(f"{what} are nested too deeply to serialize; the limit is "
                         f"{_limits.MAX_PAYLOAD_DEPTH} levels") from None
    except UnicodeEncodeError as error:
        raise ValueError(f"{what} hold text that is not valid Unicode ({error.reason} at "
                         f"position {error.start}, e.g. a lone surrogate)") from None
    except ValueError as error:
        raise ValueError(f"{what}: {error}") from None
    stored = [_payload_to_json(p) for p in payloads]
    _limits.check_payloads(what, stored)
    warn_if_large(limits_of(client), what, stored)
    return [await encode_value(p, converter._store_codec) for p in stored]
