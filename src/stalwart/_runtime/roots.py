"""The innermost workflow interceptors: where intercepted calls meet the instance."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import TYPE_CHECKING, Any, NoReturn

from .. import _workflow_event_groups as _event_groups
from . import children
from .interceptors import (
    ContinueAsNewInput,
    ExecuteWorkflowInput,
    HandleQueryInput,
    HandleSignalInput,
    HandleUpdateInput,
    SignalChildWorkflowInput,
    SignalExternalWorkflowInput,
    StartActivityInput,
    StartChildWorkflowInput,
    WorkflowInboundInterceptor,
    WorkflowOutboundInterceptor,
)

if TYPE_CHECKING:
    from .activities import ActivityHandle
    from .children import ChildWorkflowHandle
    from .info import Info
    from .instance import WorkflowInstance


def _call(definition: Any, obj: Any, args: Any) -> Any:
    return definition.fn(*args) if definition.bound else definition.fn(obj, *args)


class RootInbound(WorkflowInboundInterceptor):
    def __init__(self, instance: WorkflowInstance) -> None:
        self._instance = instance

    def init(self, outbound: WorkflowOutboundInterceptor) -> None:
        self._instance.outbound = outbound

    async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
        return await input.run_fn(*input.args)

    async def handle_signal(self, input: HandleSignalInput) -> None:
        instance = self._instance
        signals = instance.signal_handlers
        definition = signals.get(input.signal) or signals.get(None)
        assert definition is not None
        result = _call(definition, instance.workflow_object, input.args)
        if asyncio.iscoroutine(result):
            await result

    async def handle_query(self, input: HandleQueryInput) -> Any:
        queries = self._instance.query_handlers
        definition = queries.get(input.query) or queries.get(None)
        assert definition is not None
        return _call(definition, self._instance.workflow_object, input.args)

    def handle_update_validator(self, input: HandleUpdateInput) -> None:
        updates = self._instance.update_handlers
        definition = updates.get(input.update) or updates.get(None)
        assert definition is not None
        if definition.validator is None:
            return
        if definition.bound:
            definition.validator(*input.args)
        else:
            definition.validator(self._instance.workflow_object, *input.args)

    async def handle_update_handler(self, input: HandleUpdateInput) -> Any:
        updates = self._instance.update_handlers
        definition = updates.get(input.update) or updates.get(None)
        assert definition is not None
        result = _call(definition, self._instance.workflow_object, input.args)
        if asyncio.iscoroutine(result):
            return await result
        return result


class RootOutbound(WorkflowOutboundInterceptor):
    def __init__(self, instance: WorkflowInstance) -> None:
        self._instance = instance

    def info(self) -> Info:
        return self._instance.info

    def start_activity(self, input: StartActivityInput) -> ActivityHandle:
        if input.local_retry_threshold is not None and (
                not isinstance(input.local_retry_threshold, timedelta)
                or input.local_retry_threshold < timedelta(0)):
            raise ValueError("local_retry_threshold must be a non-negative timedelta, got "
                             f"{input.local_retry_threshold!r}")
        # The groups as the interceptors left them mark the command.
        with _event_groups.attached(input.event_groups):
            return self._start_activity(input)

    def _start_activity(self, input: StartActivityInput) -> ActivityHandle:
        return self._instance.start_activity(
            input.activity, input.args, task_queue=input.task_queue,
            result_type=input.result_type,
            schedule_to_close_timeout=input.schedule_to_close_timeout,
            schedule_to_start_timeout=input.schedule_to_start_timeout,
            start_to_close_timeout=input.start_to_close_timeout,
            heartbeat_timeout=input.heartbeat_timeout, retry_policy=input.retry_policy,
            cancellation_type=input.cancellation_type, activity_id=input.activity_id,
            summary=input.summary, local=input.local, headers=input.headers,
            priority=input.priority,
            disable_eager=input.disable_eager_execution and not input.local)

    def start_local_activity(self, input: StartActivityInput) -> ActivityHandle:
        return self.start_activity(input)

    async def start_child_workflow(self, input: StartChildWorkflowInput
                                   ) -> ChildWorkflowHandle[Any, Any]:
        with _event_groups.attached(input.event_groups):
            return await self._start_child_workflow(input)

    async def _start_child_workflow(self, input: StartChildWorkflowInput
                                    ) -> ChildWorkflowHandle[Any, Any]:
        return await children.start_child_workflow(
            self._instance, input.workflow, input.args, id=input.id,
            task_queue=input.task_queue, result_type=input.result_type,
            cancellation_type=input.cancellation_type,
            parent_close_policy=input.parent_close_policy,
            execution_timeout=input.execution_timeout, id_reuse_policy=input.id_reuse_policy,
            headers=input.headers, priority=input.priority, cron_schedule=input.cron_schedule,
            run_timeout=input.run_timeout, task_timeout=input.task_timeout,
            options=children.ChildOptions(
                retry_policy=input.retry_policy, memo=input.memo,
                search_attributes=input.search_attributes,
                static_summary=input.static_summary, static_details=input.static_details))

    async def signal_child_workflow(self, input: SignalChildWorkflowInput) -> None:
        with _event_groups.attached(input.event_groups):
            await children.signal_external(self._instance, input.child_workflow_id, None,
                                           input.signal, input.args, child=True,
                                           headers=input.headers)

    async def signal_external_workflow(self, input: SignalExternalWorkflowInput) -> None:
        with _event_groups.attached(input.event_groups):
            await children.signal_external(self._instance, input.workflow_id,
                                           input.workflow_run_id, input.signal, input.args,
                                           child=False, headers=input.headers)

    def continue_as_new(self, input: ContinueAsNewInput) -> NoReturn:
        raise self._instance.continue_as_new(input)
