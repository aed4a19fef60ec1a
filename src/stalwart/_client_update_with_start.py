"""Update-with-start (mirrors temporalio's ``WithStartWorkflowOperation``): send an update to
a workflow, starting it first if it is not running.

Temporal does both in one server call. Here the start commits first (it is idempotent under
``id_conflict_policy=USE_EXISTING``) and the update follows on the run the start returned; a
crash between the two leaves the workflow started and the update unsent, which the caller
sees as an error and may retry.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ._client_interceptors import (
    StartWorkflowInput,
    StartWorkflowUpdateWithStartInput,
    UpdateWithStartStartWorkflowInput,
    UpdateWithStartUpdateWorkflowInput,
)
from ._client_messages import (
    WorkflowUpdateHandle,
    WorkflowUpdateStage,
    handler_name,
    start_update,
)
from ._client_timeouts import check_timeouts
from ._runtime.definitions import get_workflow_definition
from .common import Priority, RetryPolicy, WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from .exceptions import RPCError, RPCStatusCode

if TYPE_CHECKING:
    from .client import Client, WorkflowHandle

ReturnType = TypeVar("ReturnType")


class _NoArg:
    pass


_NO_ARG: Any = _NoArg()


class WithStartWorkflowOperation(Generic[ReturnType]):
    """The workflow to start for ``Client.start_update_with_start_workflow`` /
    ``execute_update_with_start_workflow``; ``await op.workflow_handle()`` gives its handle
    once the call has started (or found) it. Use each operation once."""

    def __init__(self, workflow: Any, arg: Any = _NO_ARG, *, args: Sequence[Any] = (),
                 id: str, task_queue: str, id_conflict_policy: WorkflowIDConflictPolicy,
                 result_type: type | None = None, execution_timeout: timedelta | None = None,
                 run_timeout: timedelta | None = None, task_timeout: timedelta | None = None,
                 id_reuse_policy: WorkflowIDReusePolicy = WorkflowIDReusePolicy.ALLOW_DUPLICATE,
                 memo: Mapping[str, Any] | None = None, search_attributes: Any = None,
                 retry_policy: RetryPolicy | None = None, cron_schedule: str = "",
                 static_summary: str | None = None, static_details: str | None = None,
                 start_delay: timedelta | None = None, priority: Priority | None = None,
                 **_: Any) -> None:
        if id_conflict_policy == WorkflowIDConflictPolicy.UNSPECIFIED:
            raise ValueError("WithStartWorkflowOperation needs id_conflict_policy=: "
                             "WorkflowIDConflictPolicy.USE_EXISTING to update a running "
                             "workflow, or FAIL to refuse one")
        if isinstance(workflow, str):
            name, hinted = workflow, None
        else:
            definition = get_workflow_definition(workflow)
            if definition is None:
                raise TypeError(f"{workflow!r} is not a workflow: pass a @workflow.defn "
                                "class's @workflow.run method or the workflow type name")
            name, hinted = definition.name, definition.return_type_hint
        check_timeouts(execution_timeout, run_timeout, task_timeout)
        if arg is not _NO_ARG:
            if args:
                raise ValueError("pass either a single argument or args=[...], not both")
            args = [arg]
        self._start_input = UpdateWithStartStartWorkflowInput(
            workflow=name, args=list(args), id=id, task_queue=task_queue,
            execution_timeout=execution_timeout, run_timeout=run_timeout,
            task_timeout=task_timeout,
            id_reuse_policy=int(id_reuse_policy), id_conflict_policy=int(id_conflict_policy),
            search_attributes=search_attributes, memo=memo, ret_type=result_type or hinted,
            retry_policy=retry_policy, cron_schedule=cron_schedule,
            static_summary=static_summary, static_details=static_details,
            start_delay=start_delay, priority=priority)
        self._used = False
        self._handle: WorkflowHandle[Any, ReturnType] | None = None
        self._error: BaseException | None = None
        self._settled: asyncio.Event | None = None

    def _event(self) -> asyncio.Event:
        if self._settled is None:
            self._settled = asyncio.Event()
        return self._settled

    def _set_handle(self, handle: WorkflowHandle[Any, Any]) -> None:
        self._handle = handle
        self._event().set()

    def _set_error(self, error: BaseException) -> None:
        self._error = error
        self._event().set()

    async def workflow_handle(self) -> WorkflowHandle[Any, ReturnType]:
        """The started (or already running) workflow's handle; raises what the start raised."""
        await self._event().wait()
        if self._error is not None:
            raise self._error
        assert self._handle is not None
        return self._handle


async def start_update_with_start(client: Client, update: str, args: Sequence[Any], *,
                                  operation: WithStartWorkflowOperation[Any],
                                  wait_for_stage: WorkflowUpdateStage, id: str | None,
                                  result_type: Any) -> WorkflowUpdateHandle[Any]:
    if operation._used:
        raise RuntimeError("this WithStartWorkflowOperation was already used; create a new "
                           "one for each update-with-start call")
    operation._used = True
    return await client._outbound.start_update_with_start_workflow(
        StartWorkflowUpdateWithStartInput(
            start_workflow_input=operation._start_input,
            update_workflow_input=UpdateWithStartUpdateWorkflowInput(
                update_id=id, update=update, args=list(args),
                wait_for_stage=WorkflowUpdateStage(wait_for_stage),
                ret_type=result_type),
            _on_start=operation._set_handle, _on_start_error=operation._set_error))


async def run_update_with_start(client: Client, input: StartWorkflowUpdateWithStartInput
                                ) -> WorkflowUpdateHandle[Any]:
    """The end of the interceptor chain: start (or find) the run, then update it."""
    start = input.start_workflow_input
    update = input.update_workflow_input
    # Temporal's server refuses both in an update-with-start, with these messages (checked
    # after the interceptors, which may have set them); the operation's handle raises it too.
    refusal = "CronSchedule is not allowed." if start.cron_schedule else \
        "WorkflowStartDelay is not supported." if start.start_delay else None
    if refusal is not None:
        error = RPCError(refusal, RPCStatusCode.INVALID_ARGUMENT)
        input._on_start_error(error)
        raise error
    # The update is admitted in the start's transaction, so the first workflow task delivers
    # it (as Temporal's history shows); start_update below then finds it and waits.
    update_id = update.update_id or str(uuid.uuid4())
    name = handler_name(update.update, "__stalwart_update_definition__", "update")
    payloads = await client._encode(update.args, f"update {name!r} arguments", start.id)
    try:
        handle = await client._start_workflow_impl(StartWorkflowInput(
            workflow=start.workflow, args=start.args, id=start.id, task_queue=start.task_queue,
            execution_timeout=start.execution_timeout, id_reuse_policy=start.id_reuse_policy,
            id_conflict_policy=start.id_conflict_policy,
            search_attributes=start.search_attributes, memo=start.memo, start_signal=None,
            start_signal_args=[], ret_type=start.ret_type, headers=start.headers,
            run_timeout=start.run_timeout, task_timeout=start.task_timeout,
            retry_policy=start.retry_policy, priority=start.priority,
            static_summary=start.static_summary, static_details=start.static_details),
            start_update=(update_id, name, payloads))
    except BaseException as error:
        input._on_start_error(error)
        raise
    input._on_start(handle)
    pinned = client.get_workflow_handle(start.id, run_id=handle.result_run_id)
    return await start_update(pinned, update.update, update.args, id=update_id,
                              result_type=update.ret_type,
                              wait_for_stage=WorkflowUpdateStage(update.wait_for_stage))
