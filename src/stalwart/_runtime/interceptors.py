"""Workflow interceptors (mirrors temporalio.worker's workflow interceptor classes).

A worker's ``Interceptor.workflow_interceptor_class`` returns a ``WorkflowInboundInterceptor``
subclass; each workflow instance chains them around its own implementation: inbound calls reach
workflow code (run, signals, queries, updates), outbound calls leave it (activities, children,
signals to other workflows, continue-as-new). Headers travel with each call and are recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, NoReturn

from ..common import RetryPolicy
from ..converter import Payload

if TYPE_CHECKING:
    from .activities import ActivityHandle
    from .children import ChildWorkflowHandle
    from .info import Info


@dataclass
class WorkflowInterceptorClassInput:
    unsafe_extern_functions: Mapping[str, Callable[..., Any]] = field(default_factory=dict)


@dataclass
class ExecuteWorkflowInput:
    type: type
    run_fn: Callable[..., Any]
    args: Sequence[Any]
    headers: Mapping[str, Payload]


@dataclass
class HandleSignalInput:
    signal: str
    args: Sequence[Any]
    headers: Mapping[str, Payload]


@dataclass
class HandleQueryInput:
    id: str
    query: str
    args: Sequence[Any]
    headers: Mapping[str, Payload]


@dataclass
class HandleUpdateInput:
    id: str
    update: str
    args: Sequence[Any]
    headers: Mapping[str, Payload]


class _ReturnTypeAlias:
    """temporalio's ``ret_type`` beside Stalwart's ``result_type``, one attribute."""

    result_type: Any

    @property
    def ret_type(self) -> Any:
        """temporalio's name for ``result_type``: what the result is decoded as."""
        return self.result_type

    @ret_type.setter
    def ret_type(self, value: Any) -> None:
        self.result_type = value


@dataclass
class StartActivityInput(_ReturnTypeAlias):
    activity: str
    args: Sequence[Any]
    activity_id: str | None
    task_queue: str | None
    schedule_to_close_timeout: timedelta | None
    schedule_to_start_timeout: timedelta | None
    start_to_close_timeout: timedelta | None
    heartbeat_timeout: timedelta | None
    retry_policy: RetryPolicy | None
    cancellation_type: int
    headers: dict[str, Payload]
    result_type: Any
    summary: str | None = None
    local: bool = False
    priority: Any = None
    # temporalio's fields. ``disable_eager_execution`` keeps the activity off this worker's
    # eager start (it goes through the queue); ``local_retry_threshold`` is checked and
    # kept, though local activities retry as ordinary ones do (a durable backoff each
    # time); ``arg_types`` are the activity's parameter types when it was named by its
    # function; ``event_groups`` are the command's own groups (the enclosing scopes' are
    # added where the command is made, after the interceptors).
    disable_eager_execution: bool = False
    local_retry_threshold: timedelta | None = None
    event_groups: Sequence[Any] | None = None
    arg_types: list[type] | None = None


@dataclass
class StartChildWorkflowInput(_ReturnTypeAlias):
    workflow: str
    args: Sequence[Any]
    id: str | None
    task_queue: str | None
    cancellation_type: int
    parent_close_policy: int
    execution_timeout: timedelta | None
    id_reuse_policy: int
    headers: dict[str, Payload]
    result_type: Any
    priority: Any = None
    cron_schedule: str = ""
    run_timeout: timedelta | None = None
    task_timeout: timedelta | None = None
    # The child's retry policy (recorded in its started event and ``info().retry_policy``,
    # and followed: a failed run is retried), memo and search attributes, its static summary and
    # details (``describe()``), its run method's parameter types and the command's groups.
    retry_policy: RetryPolicy | None = None
    memo: Mapping[str, Any] | None = None
    search_attributes: Any = None
    static_summary: str | None = None
    static_details: str | None = None
    event_groups: Sequence[Any] | None = None
    arg_types: list[type] | None = None


@dataclass
class SignalExternalWorkflowInput:
    signal: str
    args: Sequence[Any]
    namespace: str
    workflow_id: str
    workflow_run_id: str | None
    headers: dict[str, Payload]
    event_groups: Sequence[Any] | None = None


@dataclass
class SignalChildWorkflowInput:
    signal: str
    args: Sequence[Any]
    child_workflow_id: str
    headers: dict[str, Payload]
    event_groups: Sequence[Any] | None = None


@dataclass
class ContinueAsNewInput:
    """temporalio's fields, plus Stalwart's ``execution_timeout`` (read as the next run's run
    timeout when ``run_timeout`` is not given; the chain keeps its execution timeout).

    Honoured: ``run_timeout`` (bounds the next run; by default it keeps this run's),
    ``backoff_start_interval`` (its first workflow task waits that long), ``memo``,
    ``search_attributes`` and ``task_timeout`` (replace what the next run would keep).
    ``retry_policy`` is the next run's (None: it keeps this run's, as in Temporal).
    ``event_groups`` holds the groups of the enclosing scopes too; the versioning fields are
    accepted and ignored."""

    workflow: str | None
    args: Sequence[Any]
    task_queue: str | None
    execution_timeout: timedelta | None
    headers: dict[str, Payload]
    run_timeout: timedelta | None = None
    task_timeout: timedelta | None = None
    backoff_start_interval: timedelta | None = None
    retry_policy: RetryPolicy | None = None
    memo: Mapping[str, Any] | None = None
    search_attributes: Any = None
    versioning_intent: Any = None
    initial_versioning_behavior: Any = None
    event_groups: Sequence[Any] | None = None
    # The next workflow's run-method parameter types, when it was named by its method.
    arg_types: list[type] | None = None


class WorkflowInboundInterceptor:
    """Calls into workflow code. Subclass and override; call ``self.next`` to continue."""

    def __init__(self, next: WorkflowInboundInterceptor) -> None:
        self.next = next

    def init(self, outbound: WorkflowOutboundInterceptor) -> None:
        self.next.init(outbound)

    async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
        return await self.next.execute_workflow(input)

    async def handle_signal(self, input: HandleSignalInput) -> None:
        await self.next.handle_signal(input)

    async def handle_query(self, input: HandleQueryInput) -> Any:
        return await self.next.handle_query(input)

    def handle_update_validator(self, input: HandleUpdateInput) -> None:
        self.next.handle_update_validator(input)

    async def handle_update_handler(self, input: HandleUpdateInput) -> Any:
        return await self.next.handle_update_handler(input)


class WorkflowOutboundInterceptor:
    """Calls out of workflow code. Subclass and override; call ``self.next`` to continue."""

    next: WorkflowOutboundInterceptor

    def __init__(self, next: WorkflowOutboundInterceptor) -> None:
        self.next = next

    def info(self) -> Info:
        return self.next.info()

    def start_activity(self, input: StartActivityInput) -> ActivityHandle:
        return self.next.start_activity(input)

    def start_local_activity(self, input: StartActivityInput) -> ActivityHandle:
        return self.next.start_local_activity(input)

    async def start_child_workflow(self, input: StartChildWorkflowInput
                                   ) -> ChildWorkflowHandle[Any, Any]:
        return await self.next.start_child_workflow(input)

    async def signal_child_workflow(self, input: SignalChildWorkflowInput) -> None:
        await self.next.signal_child_workflow(input)

    async def signal_external_workflow(self, input: SignalExternalWorkflowInput) -> None:
        await self.next.signal_external_workflow(input)

    def continue_as_new(self, input: ContinueAsNewInput) -> NoReturn:
        self.next.continue_as_new(input)
