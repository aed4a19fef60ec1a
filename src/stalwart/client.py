"""Starting, steering and observing workflows (mirrors ``temporalio.client``).

The one deliberate difference from Temporal: ``Client.connect`` takes a store URL
(``sqlite:///path/to/file.db``), not a server address. Any process that can open the store is a
client.
"""

from __future__ import annotations

import os
import socket
import weakref
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any, Generic, TypeVar

from . import _client_activities
from . import _client_messages as _messages
from . import _client_root as _root
from . import exceptions as exc
from ._client_activities import *  # noqa: F403
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
    Interceptor,
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
    UpdateWithStartStartWorkflowInput,
    UpdateWithStartUpdateWorkflowInput,
)
from ._client_messages import (
    AsyncActivityHandle,
    AsyncActivityIDReference,
    WorkflowUpdateHandle,
    WorkflowUpdateStage,
    handler_name,
    handler_result_type,
)
from ._client_messages import WorkflowUpdateHandles as _UpdateHandles
from ._client_payloads import PayloadLimitsConfig
from ._client_steering import WorkflowSteering as _WorkflowSteering
from ._client_streams import WorkflowStreamClient
from ._client_update_with_start import _NO_ARG, WithStartWorkflowOperation, start_update_with_start
from ._client_visibility import (
    PendingActivityState,
    WorkflowExecution,
    WorkflowExecutionAsyncIterator,
    WorkflowExecutionCount,
    WorkflowExecutionCountAggregationGroup,
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowHistory,
    WorkflowHistoryEventAsyncIterator,
    WorkflowHistoryEventFilterType,
    list_query,
)
from ._client_visibility import describe as _visibility_describe
from ._client_visibility import temporal_events as _visibility_temporal_events
from ._engine.activity_context import ActivityCancellationDetails
from ._engine.clock import Clock
from ._engine.codec import decode_value
from ._history_lengths import TemporalLengths
from ._model import limits as _limits
from ._model.events import CLOSE_EVENT_TYPES
from ._model.search_attributes import TypedSearchAttributes
from ._plugin_client import ClientConfig, ConnectConfig, Plugin
from ._plugin_client import configure_client as _configure_client
from ._plugin_client import connect_store as _connect_store
from ._schedules import (
    Schedule,
    ScheduleAction,
    ScheduleActionExecution,
    ScheduleActionExecutionStartWorkflow,
    ScheduleActionResult,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleAsyncIterator,
    ScheduleBackfill,
    ScheduleCalendarSpec,
    ScheduleDescription,
    ScheduleHandle,
    ScheduleInfo,
    ScheduleIntervalSpec,
    ScheduleListAction,
    ScheduleListActionStartWorkflow,
    ScheduleListDescription,
    ScheduleListInfo,
    ScheduleListSchedule,
    ScheduleListState,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from ._store import open_store
from ._store.base import ExecutionRow, ExecutionStatus, Store
from ._workflow_extras import (
    AnyType,
    CallableAsyncNoParam,
    CallableAsyncSingleParam,
    CallableSyncNoParam,
    CallableSyncSingleParam,
    MethodAsyncNoParam,
    MethodAsyncSingleParam,
    MethodSyncOrAsyncNoParam,
    MethodSyncOrAsyncSingleParam,
    MultiParamSpec,
    ParamType,
    SelfType,
)
from .common import (
    Priority,
    QueryRejectCondition,
    RetryPolicy,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from .converter import (
    ActivitySerializationContext,
    DataConverter,
    SerializationContext,
    StorageDriverActivityInfo,
    StorageDriverSelectContext,
    StorageDriverStoreContext,
    StorageDriverWorkflowInfo,
    WithSerializationContext,
    WorkflowSerializationContext,
    _payload_from_json,
)
from .exceptions import (
    AsyncActivityCancelledError,
    RPCError,
    RPCStatusCode,
    RPCTimeoutOrCancelledError,
    WorkflowAlreadyStartedError,
    WorkflowContinuedAsNewError,
    WorkflowFailureError,
    WorkflowQueryFailedError,
    WorkflowQueryRejectedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from .runtime import Runtime, _use_runtime

__all__ = [  # serialization contexts: re-exported from converter, as temporalio does
    "ActivityCancellationDetails",
    "ActivitySerializationContext",
    "AnyType",
    "AsyncActivityCancelledError",
    "AsyncActivityHandle",
    "AsyncActivityIDReference",
    "BackfillScheduleInput",
    "CallableAsyncNoParam",
    "CallableAsyncSingleParam",
    "CallableSyncNoParam",
    "CallableSyncSingleParam",
    "CancelWorkflowInput",
    "Client",
    "ClientConfig",
    "CompleteAsyncActivityInput",
    "ConnectConfig",
    "CountWorkflowsInput",
    "CreateScheduleInput",
    "DataConverter",
    "DeleteScheduleInput",
    "DescribeScheduleInput",
    "DescribeWorkflowInput",
    "FailAsyncActivityInput",
    "FetchWorkflowHistoryEventsInput",
    "HeartbeatAsyncActivityInput",
    "Interceptor",
    "ListSchedulesInput",
    "ListWorkflowsInput",
    "LocalReturnType",
    "MethodAsyncNoParam",
    "MethodAsyncSingleParam",
    "MethodSyncOrAsyncNoParam",
    "MethodSyncOrAsyncSingleParam",
    "MultiParamSpec",
    "OutboundInterceptor",
    "ParamType",
    "PauseScheduleInput",
    "PayloadLimitsConfig",
    "PendingActivityState",
    "Plugin",
    "QueryWorkflowInput",
    "RPCError",
    "RPCStatusCode",
    "RPCTimeoutOrCancelledError",
    "ReportCancellationAsyncActivityInput",
    "ReturnType",
    "Schedule",
    "ScheduleAction",
    "ScheduleActionExecution",
    "ScheduleActionExecutionStartWorkflow",
    "ScheduleActionResult",
    "ScheduleActionStartWorkflow",
    "ScheduleAlreadyRunningError",
    "ScheduleAsyncIterator",
    "ScheduleBackfill",
    "ScheduleCalendarSpec",
    "ScheduleDescription",
    "ScheduleHandle",
    "ScheduleInfo",
    "ScheduleIntervalSpec",
    "ScheduleListAction",
    "ScheduleListActionStartWorkflow",
    "ScheduleListDescription",
    "ScheduleListInfo",
    "ScheduleListSchedule",
    "ScheduleListState",
    "ScheduleOverlapPolicy",
    "SchedulePolicy",
    "ScheduleRange",
    "ScheduleSpec",
    "ScheduleState",
    "ScheduleUpdate",
    "ScheduleUpdateInput",
    "SelfType",
    "SerializationContext",
    "SignalWorkflowInput",
    "StartWorkflowInput",
    "StartWorkflowUpdateInput",
    "StartWorkflowUpdateWithStartInput",
    "StorageDriverActivityInfo",
    "StorageDriverSelectContext",
    "StorageDriverStoreContext",
    "StorageDriverWorkflowInfo",
    "TerminateWorkflowInput",
    "TriggerScheduleInput",
    "UnpauseScheduleInput",
    "UpdateScheduleInput",
    "UpdateWithStartStartWorkflowInput",
    "UpdateWithStartUpdateWorkflowInput",
    "WithSerializationContext",
    "WithStartWorkflowOperation",
    "WorkflowAlreadyStartedError",
    "WorkflowContinuedAsNewError",
    "WorkflowExecution",
    "WorkflowExecutionAsyncIterator",
    "WorkflowExecutionCount",
    "WorkflowExecutionCountAggregationGroup",
    "WorkflowExecutionDescription",
    "WorkflowExecutionStatus",
    "WorkflowFailureError",
    "WorkflowHandle",
    "WorkflowHistory",
    "WorkflowHistoryEventAsyncIterator",
    "WorkflowHistoryEventFilterType",
    "WorkflowQueryFailedError",
    "WorkflowQueryRejectedError",
    "WorkflowSerializationContext",
    "WorkflowUpdateFailedError",
    "WorkflowUpdateHandle",
    "WorkflowUpdateRPCTimeoutOrCancelledError",
    "WorkflowUpdateStage",
]
__all__ += _client_activities.__all__  # the activities a client starts (kept sorted below)
__all__.sort()

ReturnType = TypeVar("ReturnType")

LocalReturnType = TypeVar("LocalReturnType", covariant=True)


class Client(_client_activities.ActivityClientMethods):
    """A connection to a Stalwart store. Create with :meth:`connect`."""
    _runtime: Runtime | None = None  # set by connect; workers use Runtime.default() without

    def __init__(self, store: Store, *, namespace: str = "default",
                 data_converter: DataConverter = DataConverter.default,
                 identity: str | None = None, interceptors: Sequence[Any] = (),
                 default_workflow_query_reject_condition: Any = None,
                 plugins: Sequence[Plugin] = (), payload_limits: PayloadLimitsConfig | None = None,
                 **_: Any) -> None:
        for plugin in plugins:
            if not isinstance(plugin, Plugin):
                raise TypeError(f"Client plugins=[...] entry {plugin!r} is not a "
                                "stalwart.client.Plugin")
        config = ClientConfig(
            store=store, namespace=namespace, data_converter=data_converter,
            plugins=list(plugins), interceptors=list(interceptors), identity=identity,
            default_workflow_query_reject_condition=default_workflow_query_reject_condition,
            payload_limits=payload_limits or PayloadLimitsConfig())
        self._initial_config = config.copy()
        self._init_from_config(_configure_client(plugins, config))

    def _init_from_config(self, config: ClientConfig) -> None:
        self._config = config
        self._store = config["store"]
        # Temporal's history length of listed runs, counted once per run and then followed.
        self._history_lengths = TemporalLengths(self._store, clock=lambda: self._clock.now())
        self._default_query_reject_condition = config.get(
            "default_workflow_query_reject_condition")
        self._clock: Clock = Clock()
        self._workers: weakref.WeakSet[Any] = weakref.WeakSet()
        self._interceptors: list[Any] = list(config["interceptors"])
        outbound: OutboundInterceptor = _root.ClientRoot(self)
        for interceptor in reversed(self._interceptors):
            if isinstance(interceptor, Interceptor):
                outbound = interceptor.intercept_client(outbound)
        self._outbound = outbound
        self._namespace = config["namespace"]
        self._data_converter = config["data_converter"]
        self._identity = config["identity"] or f"{os.getpid()}@{socket.gethostname()}"

    @staticmethod
    async def connect(target_url: str | None = None, *, namespace: str = "default",
                      data_converter: DataConverter = DataConverter.default,
                      identity: str | None = None, interceptors: Sequence[Any] = (),
                      default_workflow_query_reject_condition: Any = None,
                      plugins: Sequence[Plugin] = (),
                      payload_limits: PayloadLimitsConfig | None = None,
                      runtime: Runtime | None = None, target_host: str | None = None,
                      **_: Any) -> Client:
        """Open the store at ``target_url`` (without it, ``STALWART_URL``, else ``stalwart.db``).

        ``target_host`` (temporalio's name for the first argument, as
        ``envconfig.ClientConfig.load_client_connect_config()`` gives it) is taken as the URL
        when ``target_url`` is not given. A Temporal server address (``"localhost:7233"``)
        in either names no store, so the default applies. The connection options of a
        server (``tls``, ``api_key``, ``rpc_metadata``...) are accepted and have no effect.

        ``plugins`` apply in order, the first outermost (those that are also worker plugins
        apply to this client's workers); ``runtime`` says where metrics go (``Runtime.default()``).
        """
        if target_url is None:
            target_url = target_host
        store = await _connect_store(plugins, ConnectConfig(target_url, identity),
                                     lambda config: open_store(config.target_url))
        client = Client(store, namespace=namespace, data_converter=data_converter,
                        identity=identity, interceptors=interceptors, plugins=plugins,
                        payload_limits=payload_limits, default_workflow_query_reject_condition=(
                            default_workflow_query_reject_condition))
        client._runtime = await _use_runtime(runtime)
        return client

    def config(self, *, active_config: bool = False) -> ClientConfig:
        """The configuration this client was created with (a shallow copy):
        ``Client(**client.config())`` makes another client like it, on the same store; with
        ``active_config``, the one in use after plugins changed it."""
        return (self._config if active_config else self._initial_config).copy()

    @property
    def namespace(self) -> str:
        return self._namespace

    @property
    def data_converter(self) -> DataConverter:
        return self._data_converter

    @property
    def identity(self) -> str:
        return self._identity

    @property
    def store(self) -> Store:
        return self._store

    def workflow_stream(self, workflow_id: str, *, run_id: str | None = None
                        ) -> WorkflowStreamClient:
        """The stream of a workflow, to follow from an offset or publish to (see
        ``docs/streams.md``): ``async for item in client.workflow_stream(id).subscribe()``."""
        return WorkflowStreamClient.create(self, workflow_id, run_id=run_id)

    async def close(self) -> None:
        """Close the store connection (workers using this client must be stopped first)."""
        await self._store.close()

    def _converter_for(self, workflow_id: str) -> DataConverter:
        """The converter in temporalio's WorkflowSerializationContext for that workflow."""
        if self._data_converter._takes_no_context():  # no context to build
            return self._data_converter
        return self._data_converter._conversion_context(
            WorkflowSerializationContext(self._namespace, workflow_id))

    async def _encode(self, values: Sequence[Any], what: str,
                      workflow_id: str | None = None) -> list[dict[str, Any]]:
        """Arguments in their store form (the workflow's context when one is named)."""
        return await _root.encode(self, values, what, workflow_id)

    async def start_workflow(
        self, workflow: Any, arg: Any = _NO_ARG, *, args: Sequence[Any] = (),
        id: str | None = None, task_queue: str | None = None,
        execution_timeout: timedelta | None = None, run_timeout: timedelta | None = None,
        task_timeout: timedelta | None = None,
        id_reuse_policy: WorkflowIDReusePolicy = WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        id_conflict_policy: WorkflowIDConflictPolicy = WorkflowIDConflictPolicy.UNSPECIFIED,
        retry_policy: RetryPolicy | None = None, result_type: type | None = None,
        start_signal: str | None = None, start_signal_args: Sequence[Any] = (),
        search_attributes: TypedSearchAttributes | Mapping[str, Sequence[Any]] | None = None,
        memo: Mapping[str, Any] | None = None, cron_schedule: str = "",
        priority: Priority | None = None, start_delay: timedelta | None = None,
        static_summary: str | None = None, static_details: str | None = None,
        request_eager_start: bool | None = None, **_: Any,
    ) -> WorkflowHandle[Any, Any]:
        """Start a workflow and return a handle to it (``start_delay``: its first workflow
        task waits that long, as Temporal's ``firstWorkflowTaskBackoff``). With
        ``retry_policy`` (``workflow.info().retry_policy``) a run that fails, or that its run
        timeout ends, is retried as Temporal's server retries it: a new run of the same id
        with the next attempt, after the policy's backoff.

        With ``cron_schedule`` (Temporal's cron grammar, e.g. ``"0 * * * *"``) it is a cron
        workflow: each run's first workflow task waits for the schedule's next time, and when
        a run completes or fails the next one starts under the same id; cancel or terminate
        ends the chain. As in Temporal, ``execution_timeout`` bounds the whole chain (runs
        continued as new and cron runs included), ``run_timeout`` each single run.

        Raises:
            WorkflowAlreadyStartedError: a run with this id is open (or the reuse policy
                forbids a new run).
        """
        name, hinted_result = _root.workflow_name_and_result_type(workflow)
        id, task_queue = _root.check_start(
            name, id, task_queue, start_signal, execution_timeout, run_timeout,
            task_timeout, cron_schedule, start_delay, self._clock.now())
        if arg is not _NO_ARG:
            if args:
                raise ValueError("pass either a single argument or args=[...], not both")
            args = [arg]
        return await self._outbound.start_workflow(StartWorkflowInput(
            workflow=name, args=list(args), id=id, task_queue=task_queue,
            execution_timeout=execution_timeout, run_timeout=run_timeout,
            id_reuse_policy=int(id_reuse_policy), id_conflict_policy=int(id_conflict_policy),
            search_attributes=search_attributes, memo=memo, start_signal=start_signal,
            start_signal_args=list(start_signal_args), ret_type=result_type or hinted_result,
            cron_schedule=cron_schedule, priority=priority, task_timeout=task_timeout,
            start_delay=start_delay, static_summary=static_summary,
            static_details=static_details, retry_policy=retry_policy,
            request_eager_start=request_eager_start))

    async def _start_workflow_impl(
            self, input: StartWorkflowInput,
            start_update: tuple[str, str, list[dict[str, Any]]] | None = None
    ) -> WorkflowHandle[Any, Any]:
        return await _root.start_workflow(self, input, start_update)

    async def execute_workflow(self, workflow: Any, arg: Any = _NO_ARG, *,
                               args: Sequence[Any] = (), id: str | None = None,
                               task_queue: str | None = None, **kwargs: Any) -> Any:
        """Start a workflow and wait for its result (see :meth:`start_workflow`)."""
        watch = _root.CloseWatch()
        token = _root.CLOSE_WATCH.set(watch)
        try:
            try:
                handle = await self.start_workflow(workflow, arg, args=args, id=id,
                                                   task_queue=task_queue, **kwargs)
            finally:
                _root.CLOSE_WATCH.reset(token)
            handle._close_watch = watch
            return await handle.result()
        finally:
            watch.close()

    async def start_update_with_start_workflow(
        self, update: Any, arg: Any = _NO_ARG, *,
        start_workflow_operation: WithStartWorkflowOperation[Any],
        wait_for_stage: WorkflowUpdateStage, args: Sequence[Any] = (), id: str | None = None,
        result_type: type | None = None, **_: Any,
    ) -> WorkflowUpdateHandle[Any]:
        """Send an update to the operation's workflow, starting it first if it is not running
        (``id_conflict_policy`` on the operation decides); returns once the update reaches
        ``wait_for_stage``. ``await start_workflow_operation.workflow_handle()`` gives the
        workflow's handle."""
        if arg is not _NO_ARG:
            args = [arg]
        return await start_update_with_start(
            self, handler_name(update, "__stalwart_update_definition__", "update"), args,
            operation=start_workflow_operation, wait_for_stage=wait_for_stage, id=id,
            result_type=result_type or handler_result_type(
                update, "__stalwart_update_definition__"))

    async def execute_update_with_start_workflow(
        self, update: Any, arg: Any = _NO_ARG, *,
        start_workflow_operation: WithStartWorkflowOperation[Any], args: Sequence[Any] = (),
        id: str | None = None, result_type: type | None = None, **_: Any,
    ) -> Any:
        """Like :meth:`start_update_with_start_workflow`, waiting for the update's result.

        Raises:
            WorkflowUpdateFailedError: the validator rejected the update or its handler
                failed (the workflow stays started).
        """
        handle = await self.start_update_with_start_workflow(
            update, arg, start_workflow_operation=start_workflow_operation,
            wait_for_stage=WorkflowUpdateStage.COMPLETED, args=args, id=id,
            result_type=result_type)
        return await handle.result()

    def get_workflow_handle(self, workflow_id: str, *, run_id: str | None = None,
                            first_execution_run_id: str | None = None,
                            result_type: type | None = None) -> WorkflowHandle[Any, Any]:
        """A handle to an existing workflow (the latest run unless ``run_id`` is given)."""
        if not workflow_id:
            raise ValueError("get_workflow_handle needs a workflow id")
        _limits.check_reference("workflow id", workflow_id)
        if run_id is not None:
            _limits.check_reference("run id", run_id)
        return WorkflowHandle(self, workflow_id, run_id=run_id, result_run_id=run_id,
                              first_execution_run_id=first_execution_run_id,
                              result_type=result_type)

    def get_async_activity_handle(self, *, task_token: bytes | None = None,
                                  workflow_id: str | None = None, run_id: str | None = None,
                                  activity_id: str | None = None) -> AsyncActivityHandle:
        """Complete, fail or heartbeat an activity that called ``raise_complete_async()``, by
        ``task_token`` or ``activity_id`` (and ``run_id``; ``workflow_id``: None if a client
        started it), from any process."""
        if task_token is not None:
            if workflow_id is not None or activity_id is not None:
                raise ValueError("get_async_activity_handle takes task_token= or "
                                 "workflow_id=/activity_id=, not both")
            _messages.parse_task_token(task_token)  # a malformed token fails here
            return AsyncActivityHandle(self, task_token)
        if activity_id is None:
            raise ValueError("get_async_activity_handle needs task_token= (from "
                             "activity.info().task_token), or activity_id= (and workflow_id=)")
        return AsyncActivityHandle(self, AsyncActivityIDReference(workflow_id, run_id,
                                                                  activity_id))

    def list_workflows(self, query: str | None = None, *, limit: int | None = None,
                       page_size: int = 1000, **_: Any) -> WorkflowExecutionAsyncIterator:
        """Runs matching a list filter (Temporal's syntax), newest first unless ORDER BY says
        otherwise: ``client.list_workflows("WorkflowType = 'Agent' AND CustomerId = 'c-1'")``.

        Raises (at the call, where temporalio raises when iterated):
            RPCError: ``INVALID_ARGUMENT``, the query does not parse (the message points at
                the position); also a ``ValueError``.
        """
        list_query(query)  # fail fast, before iteration
        return self._outbound.list_workflows(ListWorkflowsInput(
            query=query, page_size=page_size, next_page_token=_.get("next_page_token"),
            limit=limit))

    async def count_workflows(self, query: str | None = None, **_: Any
                              ) -> WorkflowExecutionCount:
        """How many runs match a list filter."""
        return await self._outbound.count_workflows(CountWorkflowsInput(query=query))

    def get_workflow_handle_for(self, workflow: Any, workflow_id: str, *,
                                run_id: str | None = None) -> WorkflowHandle[Any, Any]:
        _, result_type = _root.workflow_name_and_result_type(workflow)
        return self.get_workflow_handle(workflow_id, run_id=run_id, result_type=result_type)

    async def create_schedule(self, id: str, schedule: Schedule, *,
                              trigger_immediately: bool = False,
                              backfill: Sequence[ScheduleBackfill] = (),
                              memo: Mapping[str, Any] | None = None,
                              search_attributes: Any = None, **_: Any) -> ScheduleHandle:
        """Create a schedule; workers of this store fire it (see ``docs/schedules.md``).

        Raises:
            ScheduleAlreadyRunningError: a schedule with this id exists.
        """
        return await self._outbound.create_schedule(CreateScheduleInput(
            id=id, schedule=schedule, trigger_immediately=trigger_immediately,
            backfill=list(backfill), memo=memo, search_attributes=search_attributes))

    def get_schedule_handle(self, id: str) -> ScheduleHandle:
        """A handle to an existing schedule."""
        return ScheduleHandle(self, id)

    def list_schedules(self, query: str | None = None, *, page_size: int = 1000,
                       **_: Any) -> ScheduleAsyncIterator:
        """Every schedule: ``async for s in client.list_schedules()`` (or awaited first)."""
        return self._outbound.list_schedules(ListSchedulesInput(
            page_size=page_size, next_page_token=None, query=query))


class WorkflowHandle(_WorkflowSteering, _UpdateHandles, Generic[SelfType, ReturnType]):
    """Steers and observes one workflow. Get one from the client; do not construct it."""

    def __init__(self, client: Client, id: str, *, run_id: str | None,
                 result_run_id: str | None, first_execution_run_id: str | None,
                 result_type: Any) -> None:
        self._client = client
        self._id = id
        self._run_id = run_id
        self._result_run_id = result_run_id
        self._first_execution_run_id = first_execution_run_id
        self._result_type = result_type
        self._close_watch: _root.CloseWatch | None = None

    @property
    def id(self) -> str:
        return self._id

    @property
    def run_id(self) -> str | None:
        return self._run_id

    @property
    def result_run_id(self) -> str | None:
        return self._result_run_id

    @property
    def first_execution_run_id(self) -> str | None:
        return self._first_execution_run_id

    async def _execution(self, run_id: str | None) -> ExecutionRow:
        row = await self._client.store.get_execution(self._id, run_id)
        if row is None:
            raise exc.WorkflowNotFoundError(
                f"workflow {self._id!r}" + (f" run {run_id!r}" if run_id else "")
                + " not found in the store")
        return row

    async def result(self, *, follow_runs: bool = True, rpc_timeout: timedelta | None = None,
                     **_: Any) -> ReturnType:
        """Wait for the workflow to close and return its result.

        Raises:
            WorkflowFailureError: it failed, was cancelled, terminated or timed out; ``cause``
                says which.
        """
        run_id = self._result_run_id or (await self._execution(None)).run_id
        converter = self._client._converter_for(self._id)
        while True:
            watch, self._close_watch = self._close_watch, None
            row = await self._client.store.wait_closed(
                run_id, None, None if watch is None else watch.take(run_id))
            assert row is not None
            status = row.status
            if status == ExecutionStatus.CONTINUED_AS_NEW or row.next_run_id is not None:
                # Continued as new, or a cron run closed and the chain goes on: Temporal
                # reports both alike to result().
                assert row.next_run_id is not None
                if not follow_runs:
                    raise WorkflowContinuedAsNewError(row.next_run_id)
                run_id = row.next_run_id
                continue
            if status == ExecutionStatus.COMPLETED:
                payload = await decode_value(row.result, converter._store_codec)
                value: ReturnType = converter.payload_converter.from_payload(
                    _payload_from_json(payload), self._result_type)
                return value
            failure = await decode_value(row.failure or {"message": status.name},
                                         converter._store_codec)
            if status == ExecutionStatus.CANCELED:
                cause: BaseException = exc.CancelledError("Workflow cancelled")
            elif status == ExecutionStatus.TERMINATED:
                cause = await self._terminated_error(row)
            elif status == ExecutionStatus.TIMED_OUT:
                cause = exc.TimeoutError("Workflow timed out",
                                         type=exc.TimeoutType.START_TO_CLOSE)
            else:
                cause = converter.failure_converter.from_failure(failure,
                                                                 converter.payload_converter)
            raise WorkflowFailureError(cause=cause)

    async def _terminated_error(self, row: ExecutionRow) -> exc.TerminatedError:
        """As temporalio builds it: the reason as message, the terminate details decoded."""
        events = await self._client.store.get_history(row.run_id, row.history_length - 1)
        attributes = events[-1].attributes if events else {}
        converter = self._client._converter_for(self._id)
        details = [converter.payload_converter.from_payload(_payload_from_json(
            await decode_value(p, converter._store_codec))) for p in
            attributes.get("details") or []]
        return exc.TerminatedError(attributes.get("reason") or "Workflow terminated",
                                   *details)

    async def describe(self) -> WorkflowExecutionDescription:
        """Status, timestamps, history length and pending activities of the run."""
        return await self._client._outbound.describe_workflow(DescribeWorkflowInput(
            self._id, self._run_id))

    async def _describe(self) -> WorkflowExecutionDescription:
        return await _visibility_describe(self)

    async def fetch_history(
            self, *,
            event_filter_type: WorkflowHistoryEventFilterType =
            WorkflowHistoryEventFilterType.ALL_EVENT,
            **_: Any) -> WorkflowHistory:
        """Every event of the run so far, in Temporal's event model."""
        row, events = await _visibility_temporal_events(self)
        if event_filter_type == WorkflowHistoryEventFilterType.CLOSE_EVENT:
            events = [e for e in events if e.event_type in CLOSE_EVENT_TYPES]
        return WorkflowHistory(workflow_id=row.workflow_id, events=events, run_id=row.run_id)

    def fetch_history_events(
            self, *, page_size: int | None = None, wait_new_event: bool = False,
            event_filter_type: WorkflowHistoryEventFilterType =
            WorkflowHistoryEventFilterType.ALL_EVENT,
            skip_archival: bool = False, **_: Any) -> WorkflowHistoryEventAsyncIterator:
        """The run's events one by one (see :class:`WorkflowHistoryEventAsyncIterator`)."""
        return self._client._outbound.fetch_workflow_history_events(
            FetchWorkflowHistoryEventsInput(self._id, self._run_id, page_size, None,
                                            wait_new_event, event_filter_type, skip_archival))

    async def signal(self, signal: Any, arg: Any = _NO_ARG, *, args: Sequence[Any] = (),
                     **_: Any) -> None:
        """Send a signal; it is kept in the store and delivered in order, even to a workflow
        no worker is running right now."""
        name = signal if isinstance(signal, str) else getattr(
            getattr(signal, "__stalwart_signal_definition__", None), "name", None)
        if not name:
            raise TypeError(f"{signal!r} is not a signal: pass a @workflow.signal method or "
                            "the signal name")
        _limits.check_name("signal name", name)
        if arg is not _NO_ARG:
            args = [arg]
        await self._client._outbound.signal_workflow(SignalWorkflowInput(
            id=self._id, run_id=self._run_id, signal=name, args=list(args)))

    async def query(self, query: Any, arg: Any = _NO_ARG, *, args: Sequence[Any] = (),
                    result_type: type | None = None,
                    reject_condition: QueryRejectCondition | None = None,
                    rpc_timeout: timedelta | None = None, **_: Any) -> Any:
        """Ask a worker to run a query handler on the workflow's current state (works on
        closed workflows too, by replay).

        Raises:
            WorkflowQueryFailedError: unknown query, bad arguments, or the handler raised.
            WorkflowQueryRejectedError: ``reject_condition`` (else the client's
                ``default_workflow_query_reject_condition``) refused it for the status of
                the closed workflow.
            RPCError: no worker answered within ``rpc_timeout`` (10 s by default); status
                ``DEADLINE_EXCEEDED``.
        """
        if arg is not _NO_ARG:
            args = [arg]
        name = _limits.check_name(
            "query name", handler_name(query, "__stalwart_query_definition__", "query"))
        return await self._client._outbound.query_workflow(QueryWorkflowInput(
            id=self._id, run_id=self._run_id, query=name, args=list(args),
            ret_type=result_type or handler_result_type(query, "__stalwart_query_definition__"),
            rpc_timeout=rpc_timeout,
            reject_condition=reject_condition or self._client._default_query_reject_condition))

    async def start_update(self, update: Any, arg: Any = _NO_ARG, *, args: Sequence[Any] = (),
                           id: str | None = None, result_type: type | None = None,
                           wait_for_stage: WorkflowUpdateStage = WorkflowUpdateStage.ACCEPTED,
                           **_: Any) -> WorkflowUpdateHandle[Any]:
        """Send an update and wait until it reaches ``wait_for_stage`` (or is rejected: the
        returned handle's ``result()`` then raises ``WorkflowUpdateFailedError``)."""
        if arg is not _NO_ARG:
            args = [arg]
        _limits.check_optional_name("update id", id)
        return await self._client._outbound.start_workflow_update(StartWorkflowUpdateInput(
            id=self._id, run_id=self._run_id, update_id=id,
            update=_limits.check_name(
                "update name", handler_name(update, "__stalwart_update_definition__", "update")),
            args=list(args), wait_for_stage=WorkflowUpdateStage(wait_for_stage),
            ret_type=result_type or handler_result_type(
                update, "__stalwart_update_definition__"),
            first_execution_run_id=self._first_execution_run_id))

    async def execute_update(self, update: Any, arg: Any = _NO_ARG, *,
                             args: Sequence[Any] = (), id: str | None = None,
                             result_type: type | None = None, **_: Any) -> Any:
        """Send an update and wait for its result."""
        return await (await self.start_update(
            update, arg, args=args, id=id, result_type=result_type,
            wait_for_stage=WorkflowUpdateStage.COMPLETED)).result()

    async def cancel(self, *, reason: str = "", **_: Any) -> None:
        """Ask the workflow to cancel: it sees ``asyncio.CancelledError`` at its next await."""
        await self._client._outbound.cancel_workflow(CancelWorkflowInput(
            self._id, self._run_id, self._first_execution_run_id, reason or None))

    async def terminate(self, *args: Any, reason: str | None = None, **_: Any) -> None:
        """Stop the workflow at once, with no cleanup; recorded in its history."""
        _limits.check_text("termination reason", reason)
        await self._client._outbound.terminate_workflow(TerminateWorkflowInput(
            self._id, self._run_id, list(args), reason, self._first_execution_run_id))
