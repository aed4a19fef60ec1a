"""Other workflows seen from workflow code: child workflows it starts, and external workflows it
signals or cancels. Functions of a :class:`WorkflowInstance`; no I/O."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from .. import exceptions as exc
from .._model import search_attributes as sa
from .._model.events import Command, EventType, HistoryEvent
from .._model.run_timeouts import settle
from .._model.temporal_history import seed_for_run
from ..common import RetryPolicy, _priority_key
from ..converter import Payload, _payload_from_json, _payload_to_json, headers_to_json
from . import contexts
from .event_groups import grouped
from .interceptors import SignalChildWorkflowInput, SignalExternalWorkflowInput

if TYPE_CHECKING:
    from .instance import WorkflowInstance


class _NoArg:
    pass


_NO_ARG: Any = _NoArg()  # a signal's single argument may be None itself


def _signal_name(signal: Any) -> str:
    name = signal if isinstance(signal, str) else getattr(
        getattr(signal, "__stalwart_signal_definition__", None), "name", None)
    if not name:
        raise TypeError(f"{signal!r} is not a signal: pass a @workflow.signal method or the "
                        "signal name")
    return str(name)


# Type parameters as temporalio's (the workflow class, the result type), so annotations such
# as ``ChildWorkflowHandle[MyWorkflow, str]`` evaluate after the import swap.
SelfType = TypeVar("SelfType")
ReturnType = TypeVar("ReturnType", covariant=True)


class ChildWorkflowHandle(Generic[SelfType, ReturnType]):
    """A started child workflow (mirrors ``temporalio.workflow.ChildWorkflowHandle``).

    Awaiting the handle waits for the child's result.
    """

    def __init__(self, instance: WorkflowInstance, seq: int, workflow_id: str,
                 result_type: Any, cancellation_type: int) -> None:
        self._instance = instance
        self._seq = seq
        self._id = workflow_id
        self._result_type = result_type
        self._cancellation_type = cancellation_type
        self._started: asyncio.Future[str] = instance.loop.create_future()
        self._result: asyncio.Future[Any] = instance.loop.create_future()
        self._cancel_requested = False
        self._first_execution_run_id: str | None = None

    @property
    def id(self) -> str:
        return self._id

    @property
    def first_execution_run_id(self) -> str | None:
        """The child's first run, once it has started (None before)."""
        return self._first_execution_run_id

    @property
    def run_id(self) -> str | None:
        return self.first_execution_run_id

    async def result(self) -> Any:
        while True:
            try:
                return await asyncio.shield(self._result)
            except asyncio.CancelledError:
                if self._result.done():
                    raise
                if self._cancellation_type != 0:  # ABANDON leaves the child alone
                    self._request_cancel()
                # WAIT_CANCELLATION_COMPLETED (the default, 2) keeps waiting until the child
                # closes, as in Temporal; the others give up at once.
                if self._cancellation_type != 2:
                    raise

    def __await__(self) -> Any:
        return self.result().__await__()

    def cancel(self, msg: Any | None = None) -> bool:
        """Cancel the child as temporalio's handle does: WAIT_CANCELLATION_COMPLETED (the
        default) asks the child to cancel and keeps waiting for its outcome; the other types
        resolve the handle at once with ``ChildWorkflowError`` caused by ``CancelledError``
        (ABANDON without telling the child)."""
        if self._result.done():
            return False
        if self._cancellation_type != 0:
            self._request_cancel()
        if self._cancellation_type != 2:
            error = exc.ChildWorkflowError(
                "Child Workflow execution failed", namespace="default", workflow_id=self._id,
                run_id=self.first_execution_run_id or "", workflow_type="",
                initiated_event_id=0, started_event_id=0,
                retry_state=exc.RetryState.NON_RETRYABLE_FAILURE)
            error.__cause__ = exc.CancelledError("Workflow cancelled")
            self._result.set_exception(error)
        return True

    def _request_cancel(self) -> None:
        if not self._cancel_requested and not self._result.done():
            self._cancel_requested = True
            # As Temporal's SDK does, to the run the child started as: once that run has
            # continued (as new, or as a cron chain) the request changes nothing.
            request_cancel_external(self._instance, self._id, self.first_execution_run_id,
                                    child_seq=self._seq)

    async def signal(self, signal: Any, arg: Any = _NO_ARG, *, args: Sequence[Any] = (),
                     event_groups: Sequence[Any] | None = None) -> None:
        """Signal the child (recorded as a command; waits until delivered)."""
        await self._instance.outbound.signal_child_workflow(SignalChildWorkflowInput(
            signal=_signal_name(signal), args=[arg] if arg is not _NO_ARG else list(args),
            child_workflow_id=self._id, headers={}, event_groups=event_groups))


class ExternalWorkflowHandle(Generic[SelfType]):
    """Another workflow this one can signal or cancel by id."""

    def __init__(self, instance: WorkflowInstance, workflow_id: str,
                 run_id: str | None) -> None:
        self._instance = instance
        self._id = workflow_id
        self._run_id = run_id

    @property
    def id(self) -> str:
        return self._id

    @property
    def run_id(self) -> str | None:
        return self._run_id

    async def signal(self, signal: Any, arg: Any = _NO_ARG, *, args: Sequence[Any] = (),
                     event_groups: Sequence[Any] | None = None) -> None:
        """Deliver a signal to the workflow; raises ApplicationError if it is not running."""
        await self._instance.outbound.signal_external_workflow(SignalExternalWorkflowInput(
            signal=_signal_name(signal), args=[arg] if arg is not _NO_ARG else list(args),
            namespace="default", workflow_id=self._id, workflow_run_id=self._run_id,
            headers={}, event_groups=event_groups))

    async def cancel(self) -> None:
        """Ask the workflow to cancel."""
        await request_cancel_external(self._instance, self._id, self._run_id, child_seq=None)


async def start_child_workflow(
    instance: WorkflowInstance, name: str, args: Sequence[Any], *, id: str | None,
    task_queue: str | None,
    result_type: Any, cancellation_type: int, parent_close_policy: int,
    execution_timeout: timedelta | None, id_reuse_policy: int,
    headers: Mapping[str, Payload] | None = None, priority: Any = None,
    cron_schedule: str = "", run_timeout: timedelta | None = None,
    task_timeout: timedelta | None = None, options: ChildOptions | None = None,
) -> ChildWorkflowHandle[Any, Any]:
    instance._check_active()
    priority_key = _priority_key(priority, f"start_child_workflow({name!r})")
    extra = options or ChildOptions()

    seq = instance._next_seq("child")
    child_id = id or f"{instance.info.workflow_id}/child-{seq}-{instance.uuid4().hex[:8]}"
    try:
        converter = contexts.child_converter(instance.base_converter, instance.info, child_id)
        payloads = converter.payload_converter.to_payloads(list(args))
        more = extra.attributes(converter.payload_converter)
    except (TypeError, ValueError) as error:
        instance._seq["child"] -= 1  # nothing was started
        kind = TypeError if isinstance(error, TypeError) else ValueError
        raise kind(f"start_child_workflow({name!r}): {error}") from None
    instance._commands.append(Command(EventType.START_CHILD_WORKFLOW_EXECUTION_INITIATED, grouped({
        "seq": seq, "workflow_id": child_id, "workflow_type": name,
        "task_queue": task_queue or instance.info.task_queue,
        "input": [_payload_to_json(p) for p in payloads],
        **_timeouts(execution_timeout, run_timeout, task_timeout),
        "parent_close_policy": parent_close_policy, "id_reuse_policy": id_reuse_policy,
        **_child_run(instance),
        **({"header": headers_to_json(headers)} if headers else {}),
        **({"priority": priority_key} if priority_key is not None else {}),
        **({"cron_schedule": cron_schedule} if cron_schedule else {}),
        **more,
    })))
    handle: ChildWorkflowHandle[Any, Any] = ChildWorkflowHandle(
        instance, seq, child_id, result_type, cancellation_type)
    instance._children[seq] = handle
    await handle._started
    return handle


@dataclass
class ChildOptions:
    """What a child start carries besides its input and timeouts: recorded in the initiated
    event and handed to the child's start (its memo and search attributes, its retry policy,
    which ``info().retry_policy`` reports, and the static summary and details that
    ``describe()`` reports)."""

    retry_policy: RetryPolicy | None = None
    memo: Mapping[str, Any] | None = None
    search_attributes: Any = None
    static_summary: str | None = None
    static_details: str | None = None

    def attributes(self, payload_converter: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.retry_policy is not None:
            if not isinstance(self.retry_policy, RetryPolicy):
                raise TypeError("retry_policy must be a RetryPolicy, got "
                                f"{type(self.retry_policy).__name__}")
            out["retry_policy"] = self.retry_policy._to_settled_json()
        if self.memo:
            out["memo"] = {key: _payload_to_json(payload_converter.to_payload(value))
                           for key, value in self.memo.items()}
        stored = sa.to_store(self.search_attributes or None)
        if stored:
            out["search_attributes"] = stored
        metadata = {"summary": self.static_summary, "details": self.static_details}
        user_metadata = {k: v for k, v in metadata.items() if v is not None}
        if user_metadata:
            out["user_metadata"] = user_metadata
        return out


def _timeouts(execution: timedelta | None, run: timedelta | None, task: timedelta | None
              ) -> dict[str, float | None]:
    """The child's timeouts as Temporal's server settles them (and records them in the
    initiated event): the child's own workflow task timeout, else the default."""
    execution_s, run_s, task_s = settle(
        execution.total_seconds() if execution else None,
        run.total_seconds() if run else None, task.total_seconds() if task else None)
    return {"execution_timeout": execution_s,
            **({"run_timeout": run_s} if run_s else {}),
            **({"task_timeout": task_s} if task_s else {})}


def child(instance: WorkflowInstance, event: HistoryEvent) -> ChildWorkflowHandle[Any, Any] | None:
    return instance._children.get(event.attributes["seq"])


def apply_child_started(instance: WorkflowInstance, event: HistoryEvent) -> None:
    handle = child(instance, event)
    if handle is not None and not handle._started.done():
        handle._first_execution_run_id = event.attributes.get("run_id")
        handle._started.set_result(event.attributes.get("run_id", ""))


def apply_child_start_failed(instance: WorkflowInstance, event: HistoryEvent) -> None:
    instance._length.forget("c", event.attributes["seq"])
    handle = instance._children.pop(event.attributes["seq"], None)
    if handle is None:
        return
    error = exc.WorkflowAlreadyStartedError(
        handle.id, event.attributes.get("workflow_type", ""),
        reason=event.attributes.get("cause", "child workflow could not be started"))
    if not handle._started.done():
        handle._started.set_exception(error)
    if not handle._result.done():
        handle._result.set_exception(error)
        handle._result.exception()  # the start error is what callers see


# What Temporal reports for a child that closed without completing: its close event's retry
# state where it has one (a failed child has no retry policy in Stalwart, so "not set"), and
# NON_RETRYABLE_FAILURE, as its SDK does, for a cancelled or terminated one.
_CHILD_RETRY_STATES: dict[str, exc.RetryState] = {
    EventType.CHILD_WORKFLOW_EXECUTION_TIMED_OUT: exc.RetryState.TIMEOUT,
    EventType.CHILD_WORKFLOW_EXECUTION_CANCELED: exc.RetryState.NON_RETRYABLE_FAILURE,
    EventType.CHILD_WORKFLOW_EXECUTION_TERMINATED: exc.RetryState.NON_RETRYABLE_FAILURE,
}


def apply_child_closed(instance: WorkflowInstance, event: HistoryEvent) -> None:
    seq = event.attributes["seq"]
    initiated_id, started_id = instance._length.event_ids("c", seq)
    instance._length.forget("c", seq)
    handle = instance._children.pop(seq, None)
    if handle is None or handle._result.done():
        return
    converter = contexts.child_converter(instance.base_converter, instance.info, handle.id)
    pc = converter.payload_converter
    if event.event_type == EventType.CHILD_WORKFLOW_EXECUTION_COMPLETED:
        try:
            value = pc.from_payload(_payload_from_json(event.attributes["result"]),
                                    handle._result_type)
        except Exception as error:
            handle._result.set_exception(exc.ApplicationError(
                f"cannot decode the result of child workflow {handle.id!r}: {error}",
                type="ResultDecodeError", non_retryable=True))
            return
        handle._result.set_result(value)
        return
    failure = event.attributes.get("failure") or {"message": "child workflow closed"}
    cause = converter.failure_converter.from_failure(failure, pc)
    # The causes temporalio gives for a child that was cancelled or terminated: a fixed
    # message, whatever the reason the terminate gave.
    if event.event_type == EventType.CHILD_WORKFLOW_EXECUTION_CANCELED:
        cause = exc.CancelledError("Cancelled")
    elif event.event_type == EventType.CHILD_WORKFLOW_EXECUTION_TERMINATED:
        cause = exc.TerminatedError("Terminated")
    elif event.event_type == EventType.CHILD_WORKFLOW_EXECUTION_TIMED_OUT:
        cause = exc.TimeoutError("Timed out", type=exc.TimeoutType.START_TO_CLOSE)
    retry_state = event.attributes.get("retry_state")
    child_error = exc.ChildWorkflowError(
        "Child Workflow execution failed", namespace=instance.info.namespace,
        workflow_id=handle.id,
        run_id=event.attributes.get("run_id", ""),
        workflow_type=event.attributes.get("workflow_type", ""),
        initiated_event_id=initiated_id, started_event_id=started_id,
        retry_state=exc.RetryState(retry_state) if retry_state else _CHILD_RETRY_STATES.get(
            event.event_type, exc.RetryState.RETRY_POLICY_NOT_SET))
    child_error.__cause__ = cause
    handle._result.set_exception(child_error)


def get_external_workflow_handle(instance: WorkflowInstance, workflow_id: str,
                                 run_id: str | None) -> ExternalWorkflowHandle[Any]:
    if not workflow_id:
        raise ValueError("get_external_workflow_handle needs a workflow id")
    return ExternalWorkflowHandle(instance, workflow_id, run_id)


async def signal_external(instance: WorkflowInstance, workflow_id: str, run_id: str | None,
                          signal: Any, args: Sequence[Any], *, child: bool,
                          headers: Mapping[str, Payload] | None = None) -> None:
    instance._check_active()
    name = signal if isinstance(signal, str) else getattr(
        getattr(signal, "__stalwart_signal_definition__", None), "name", None)
    if not name:
        raise TypeError(f"{signal!r} is not a signal: pass a @workflow.signal method or "
                        "the signal name")
    try:
        converter = contexts.child_converter(instance.base_converter, instance.info,
                                             workflow_id)
        payloads = converter.payload_converter.to_payloads(list(args))
    except TypeError as error:
        raise TypeError(f"signal {name!r} to workflow {workflow_id!r}: {error}") from None
    seq = instance._next_seq("signal")
    instance._commands.append(Command(EventType.SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED,
                                      grouped({
        "seq": seq, "workflow_id": workflow_id, "run_id": run_id, "signal_name": name,
        "input": [_payload_to_json(p) for p in payloads], "child_workflow_only": child,
        **({"header": headers_to_json(headers)} if headers else {})})))
    future: asyncio.Future[None] = instance.loop.create_future()
    instance._external[("signal", seq)] = future
    await future


def request_cancel_external(instance: WorkflowInstance, workflow_id: str, run_id: str | None, *,
                             child_seq: int | None) -> asyncio.Future[None]:
    instance._check_active()
    seq = instance._next_seq("cancel")
    instance._commands.append(Command(
        EventType.REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED,
        grouped({"seq": seq, "workflow_id": workflow_id, "run_id": run_id,
                 "child_workflow_only": child_seq is not None})))
    future: asyncio.Future[None] = instance.loop.create_future()
    instance._external[("cancel", seq)] = future
    return future


def apply_external_result(instance: WorkflowInstance, event: HistoryEvent) -> None:
    kind = "signal" if event.event_type in (
        EventType.EXTERNAL_WORKFLOW_EXECUTION_SIGNALED,
        EventType.SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED) else "cancel"
    future = instance._external.pop((kind, event.attributes["seq"]), None)
    if future is None or future.done():
        return
    if event.event_type in (EventType.EXTERNAL_WORKFLOW_EXECUTION_SIGNALED,
                            EventType.EXTERNAL_WORKFLOW_EXECUTION_CANCEL_REQUESTED):
        future.set_result(None)
    else:
        future.set_exception(exc.ApplicationError(
            event.attributes.get("cause", "external workflow not found"),
            type="ExternalWorkflowExecutionNotFound", non_retryable=True))
        future.exception()  # retrieved by whoever awaits; silence the never-retrieved log


def _child_run(instance: WorkflowInstance) -> dict[str, Any]:
    """The child's run id and random seed. The seed derives from the run id (as for every run,
    so a history exported without its seed replays with the same draws); the parent still draws
    a number for it first, which keeps the parent's own draws as histories recorded them."""
    instance.random.getrandbits(63)
    run_id = str(instance.uuid4())
    return {"random_seed": seed_for_run(run_id), "run_id": run_id}
