"""Client interceptors (mirrors temporalio.client's ``Interceptor`` and ``OutboundInterceptor``).

``Client.connect(..., interceptors=[...])`` chains them around the client's own operations;
interceptors that also subclass ``stalwart.worker.Interceptor`` are used by the client's workers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from .converter import Payload

if TYPE_CHECKING:
    from ._client_activities import ActivityExecutionAsyncIterator, ActivityHandle
    from ._client_activity_types import (
        ActivityExecutionCount,
        ActivityExecutionDescription,
        ActivityExecutionOptions,
        CancelActivityInput,
        CountActivitiesInput,
        DescribeActivityInput,
        ListActivitiesInput,
        PauseActivityInput,
        StartActivityInput,
        TerminateActivityInput,
        UnpauseActivityInput,
        UpdateActivityOptionsInput,
    )
    from ._client_messages import WorkflowUpdateStage
    from ._schedules.handle import ScheduleAsyncIterator, ScheduleHandle
    from ._schedules.types import ScheduleDescription
    from .client import (
        WorkflowExecutionAsyncIterator,
        WorkflowExecutionCount,
        WorkflowExecutionDescription,
        WorkflowHandle,
        WorkflowHistoryEventAsyncIterator,
        WorkflowUpdateHandle,
    )
    from .common import RetryPolicy


@dataclass
class StartWorkflowInput:
    workflow: str
    args: Sequence[Any]
    id: str
    task_queue: str
    execution_timeout: timedelta | None
    id_reuse_policy: int
    id_conflict_policy: int
    search_attributes: Any
    memo: Mapping[str, Any] | None
    start_signal: str | None
    start_signal_args: Sequence[Any]
    ret_type: Any
    headers: dict[str, Payload] = field(default_factory=dict)
    cron_schedule: str = ""
    priority: Any = None
    task_timeout: timedelta | None = None
    run_timeout: timedelta | None = None
    start_delay: timedelta | None = None
    static_summary: str | None = None
    static_details: str | None = None
    # A testing.TimeSkippingConfig a TimeSkipper stamps; the store itself ignores it.
    time_skipping_config: Any = None
    # Recorded in the started event (``info().retry_policy``) and followed: a failed run is
    # retried.
    retry_policy: RetryPolicy | None = None
    # False: never run the first workflow task in this process at once. None and True: do so
    # when a worker of this client can take it (Stalwart's default, whatever Temporal's is).
    request_eager_start: bool | None = None


@dataclass
class SignalWorkflowInput:
    id: str
    run_id: str | None
    signal: str
    args: Sequence[Any]
    headers: dict[str, Payload] = field(default_factory=dict)


@dataclass
class QueryWorkflowInput:
    id: str
    run_id: str | None
    query: str
    args: Sequence[Any]
    ret_type: Any
    rpc_timeout: timedelta | None
    headers: dict[str, Payload] = field(default_factory=dict)
    reject_condition: Any = None


@dataclass
class CancelWorkflowInput:
    id: str
    run_id: str | None
    first_execution_run_id: str | None = None
    reason: str | None = None


@dataclass
class TerminateWorkflowInput:
    id: str
    run_id: str | None
    args: Sequence[Any]
    reason: str | None
    first_execution_run_id: str | None = None


@dataclass
class DescribeWorkflowInput:
    id: str
    run_id: str | None


@dataclass
class StartWorkflowUpdateInput:
    id: str
    run_id: str | None
    update_id: str | None
    update: str
    args: Sequence[Any]
    wait_for_stage: WorkflowUpdateStage
    ret_type: Any
    headers: dict[str, Payload] = field(default_factory=dict)
    # The update goes to this chain only: a workflow id reused by a later chain is refused.
    first_execution_run_id: str | None = None


@dataclass
class HeartbeatAsyncActivityInput:
    id_or_token: Any  # AsyncActivityIDReference | bytes
    details: Sequence[Any]
    data_converter_override: Any = None  # a DataConverter, or None: the client's


@dataclass
class CompleteAsyncActivityInput:
    id_or_token: Any
    result: Any
    data_converter_override: Any = None  # a DataConverter, or None: the client's


@dataclass
class FailAsyncActivityInput:
    id_or_token: Any
    error: BaseException
    last_heartbeat_details: Sequence[Any]
    data_converter_override: Any = None  # a DataConverter, or None: the client's


@dataclass
class ReportCancellationAsyncActivityInput:
    id_or_token: Any
    details: Sequence[Any]
    data_converter_override: Any = None  # a DataConverter, or None: the client's


@dataclass
class CreateScheduleInput:
    id: str
    schedule: Any
    trigger_immediately: bool
    backfill: Sequence[Any]
    memo: Mapping[str, Any] | None
    search_attributes: Any


@dataclass
class ListSchedulesInput:
    page_size: int
    next_page_token: bytes | None
    query: str | None = None


@dataclass
class BackfillScheduleInput:
    id: str
    backfills: Sequence[Any]


@dataclass
class DeleteScheduleInput:
    id: str


@dataclass
class DescribeScheduleInput:
    id: str


@dataclass
class PauseScheduleInput:
    id: str
    note: str | None


@dataclass
class UnpauseScheduleInput:
    id: str
    note: str | None


@dataclass
class TriggerScheduleInput:
    id: str
    overlap: Any


@dataclass
class UpdateScheduleInput:
    id: str
    updater: Callable[[Any], Any]


@dataclass
class ListWorkflowsInput:
    query: str | None
    page_size: int
    next_page_token: bytes | None
    limit: int | None


@dataclass
class CountWorkflowsInput:
    query: str | None


@dataclass
class FetchWorkflowHistoryEventsInput:
    id: str
    run_id: str | None
    page_size: int | None
    next_page_token: bytes | None
    wait_new_event: bool
    event_filter_type: Any  # WorkflowHistoryEventFilterType
    skip_archival: bool = False
    rpc_metadata: Mapping[str, str | bytes] = field(default_factory=dict)
    rpc_timeout: timedelta | None = None


@dataclass
class UpdateWithStartStartWorkflowInput:
    """The start half of an update-with-start (see ``StartWorkflowInput``)."""

    workflow: str
    args: Sequence[Any]
    id: str
    task_queue: str
    execution_timeout: timedelta | None
    id_reuse_policy: int
    id_conflict_policy: int
    search_attributes: Any
    memo: Mapping[str, Any] | None
    ret_type: Any
    headers: dict[str, Payload] = field(default_factory=dict)
    time_skipping_config: Any = None
    run_timeout: timedelta | None = None
    task_timeout: timedelta | None = None
    retry_policy: RetryPolicy | None = None
    priority: Any = None
    static_summary: str | None = None
    static_details: str | None = None
    # Refused, as Temporal's server refuses them in an update-with-start.
    cron_schedule: str = ""
    start_delay: timedelta | None = None


@dataclass
class UpdateWithStartUpdateWorkflowInput:
    """The update half of an update-with-start."""

    update_id: str | None
    update: str
    args: Sequence[Any]
    wait_for_stage: WorkflowUpdateStage
    ret_type: Any
    headers: dict[str, Payload] = field(default_factory=dict)


@dataclass
class StartWorkflowUpdateWithStartInput:
    start_workflow_input: UpdateWithStartStartWorkflowInput
    update_workflow_input: UpdateWithStartUpdateWorkflowInput
    _on_start: Callable[[WorkflowHandle[Any, Any]], None] = field(default=lambda handle: None)
    _on_start_error: Callable[[BaseException], None] = field(default=lambda error: None)


class OutboundInterceptor:
    """Wraps client calls. Subclass, override, and call ``self.next``."""

    def __init__(self, next: OutboundInterceptor) -> None:
        self.next = next

    async def start_workflow(self, input: StartWorkflowInput) -> WorkflowHandle[Any, Any]:
        return await self.next.start_workflow(input)

    async def signal_workflow(self, input: SignalWorkflowInput) -> None:
        await self.next.signal_workflow(input)

    async def query_workflow(self, input: QueryWorkflowInput) -> Any:
        return await self.next.query_workflow(input)

    async def cancel_workflow(self, input: CancelWorkflowInput) -> None:
        await self.next.cancel_workflow(input)

    async def terminate_workflow(self, input: TerminateWorkflowInput) -> None:
        await self.next.terminate_workflow(input)

    async def describe_workflow(self, input: DescribeWorkflowInput
                                ) -> WorkflowExecutionDescription:
        return await self.next.describe_workflow(input)

    async def start_workflow_update(self, input: StartWorkflowUpdateInput
                                    ) -> WorkflowUpdateHandle[Any]:
        return await self.next.start_workflow_update(input)

    async def start_update_with_start_workflow(self, input: StartWorkflowUpdateWithStartInput
                                               ) -> WorkflowUpdateHandle[Any]:
        return await self.next.start_update_with_start_workflow(input)

    def list_workflows(self, input: ListWorkflowsInput) -> WorkflowExecutionAsyncIterator:
        return self.next.list_workflows(input)

    async def heartbeat_async_activity(self, input: HeartbeatAsyncActivityInput) -> None:
        await self.next.heartbeat_async_activity(input)

    async def create_schedule(self, input: CreateScheduleInput) -> ScheduleHandle:
        return await self.next.create_schedule(input)

    def list_schedules(self, input: ListSchedulesInput) -> ScheduleAsyncIterator:
        """Synchronous (unlike temporalio's): ``client.list_schedules()`` returns the
        iterator at once, to ``async for`` over or to await."""
        return self.next.list_schedules(input)

    async def backfill_schedule(self, input: BackfillScheduleInput) -> None:
        await self.next.backfill_schedule(input)

    async def delete_schedule(self, input: DeleteScheduleInput) -> None:
        await self.next.delete_schedule(input)

    async def describe_schedule(self, input: DescribeScheduleInput) -> ScheduleDescription:
        return await self.next.describe_schedule(input)

    async def pause_schedule(self, input: PauseScheduleInput) -> None:
        await self.next.pause_schedule(input)

    async def unpause_schedule(self, input: UnpauseScheduleInput) -> None:
        await self.next.unpause_schedule(input)

    async def trigger_schedule(self, input: TriggerScheduleInput) -> None:
        await self.next.trigger_schedule(input)

    async def update_schedule(self, input: UpdateScheduleInput) -> None:
        await self.next.update_schedule(input)

    async def complete_async_activity(self, input: CompleteAsyncActivityInput) -> None:
        await self.next.complete_async_activity(input)

    async def fail_async_activity(self, input: FailAsyncActivityInput) -> None:
        await self.next.fail_async_activity(input)

    async def report_cancellation_async_activity(
            self, input: ReportCancellationAsyncActivityInput) -> None:
        await self.next.report_cancellation_async_activity(input)

    async def count_workflows(self, input: CountWorkflowsInput) -> WorkflowExecutionCount:
        return await self.next.count_workflows(input)

    def fetch_workflow_history_events(self, input: FetchWorkflowHistoryEventsInput
                                      ) -> WorkflowHistoryEventAsyncIterator:
        return self.next.fetch_workflow_history_events(input)

    # activities started from a client (see _client_activities.py)
    async def start_activity(self, input: StartActivityInput) -> ActivityHandle[Any]:
        return await self.next.start_activity(input)

    async def cancel_activity(self, input: CancelActivityInput) -> None:
        await self.next.cancel_activity(input)

    async def terminate_activity(self, input: TerminateActivityInput) -> None:
        await self.next.terminate_activity(input)

    async def pause_activity(self, input: PauseActivityInput) -> None:
        await self.next.pause_activity(input)

    async def unpause_activity(self, input: UnpauseActivityInput) -> None:
        await self.next.unpause_activity(input)

    async def update_activity_options(self, input: UpdateActivityOptionsInput
                                      ) -> ActivityExecutionOptions:
        return await self.next.update_activity_options(input)

    async def describe_activity(self, input: DescribeActivityInput
                                ) -> ActivityExecutionDescription:
        return await self.next.describe_activity(input)

    def list_activities(self, input: ListActivitiesInput) -> ActivityExecutionAsyncIterator:
        return self.next.list_activities(input)

    async def count_activities(self, input: CountActivitiesInput) -> ActivityExecutionCount:
        return await self.next.count_activities(input)


class Interceptor:
    """Client interceptor: ``intercept_client`` wraps the client's outbound calls."""

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return next
