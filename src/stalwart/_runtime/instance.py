"""One workflow execution in memory: history events in, commands out. No I/O, no SQL.

``activate`` applies one workflow task's input events, runs the deterministic loop until every
coroutine is blocked, and returns the commands produced. Replaying is the same call with
``replaying=True``; the caller compares the commands with the recorded ones.
"""

from __future__ import annotations

import asyncio
import contextvars
import random
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from .. import exceptions as exc
from .._model.definitions import ActivityDefinition, get_activity_definition
from .._model.events import Command, EventType, HistoryEvent
from ..common import RetryPolicy
from ..converter import DataConverter, _payload_from_json, _payload_to_json
from . import guard
from .definitions import (
    SignalDefinition,
    UpdateDefinition,
    WorkflowDefinition,
    get_workflow_definition,
)
from .handles import ChildWorkflowHandle, ExternalWorkflowHandle
from .info import Info, ParentInfo
from .loop import WorkflowEventLoop, WorkflowTimerHandle


class ContinueAsNewError(BaseException):
    """Raised by ``workflow.continue_as_new``; unwinds the run so a new one can start.

    A ``BaseException`` so that ``except Exception`` in workflow code cannot swallow it.
    """

    def __init__(self, args: Sequence[Any], workflow: str | None, task_queue: str | None,
                 execution_timeout: timedelta | None) -> None:
        super().__init__("continue as new")
        self.input_args = list(args)
        self.workflow = workflow
        self.task_queue = task_queue
        self.execution_timeout = execution_timeout


class WorkflowTaskError(Exception):
    """Workflow code raised an error that fails the workflow task, not the workflow.

    As in Temporal, only ``FailureError`` subclasses (and the workflow's declared
    ``failure_exception_types``) fail a workflow; any other exception is treated as a bug:
    the task is recorded as failed and retried, so a fixed deployment resumes the run.
    """

    def __init__(self, message: str, cause: BaseException) -> None:
        super().__init__(message)
        self.cause = cause


class _Evicted(BaseException):
    """Raised into workflow code that tries to run after its instance was evicted."""


class ActivityHandle(asyncio.Future[Any]):
    """An awaitable, cancellable scheduled activity (like Temporal's ``ActivityHandle``)."""

    def __init__(self, instance: WorkflowInstance, seq: int, result_type: Any,
                 cancellation_type: int) -> None:
        super().__init__(loop=instance.loop)
        self._instance = instance
        self._seq = seq
        self._result_type = result_type
        self._cancellation_type = cancellation_type
        self._cancel_requested = False

    def cancel(self, msg: Any | None = None) -> bool:
        if self.done():
            return False
        if not self._cancel_requested:
            self._cancel_requested = True
            self._instance._request_cancel_activity(self)
        # WAIT_CANCELLATION_COMPLETED (1): stay pending until the activity reports back.
        if self._cancellation_type == 1:
            return False
        return super().cancel(msg)


class WorkflowInstance:
    """A workflow object plus its loop, pending handles and the commands of the current task."""

    def __init__(self, definition: WorkflowDefinition, *, workflow_id: str, run_id: str,
                 converter: DataConverter) -> None:
        self.definition = definition
        self.converter = converter
        self.loop = WorkflowEventLoop(self)  # type: ignore[abstract]
        self.now_seconds = 0.0
        self.is_replaying = False
        self.is_evicted = False
        self.completed = False
        self.default_activity_timeout: timedelta | None = None
        self.cancel_requested = False
        self.workflow_object: Any = None
        self.info: Info = _placeholder_info(workflow_id, run_id, definition.name)
        self.random = random.Random(0)
        self._history_length = 0
        self._commands: list[Command] = []
        self._main_task: asyncio.Task[Any] | None = None
        self._seq: dict[str, int] = {"activity": 0, "timer": 0, "child": 0, "signal": 0,
                                     "cancel": 0}
        self._children: dict[int, ChildWorkflowHandle] = {}
        self._external: dict[tuple[str, int], asyncio.Future[None]] = {}
        self._read_only: str | None = None
        self.accepted_updates: list[HistoryEvent] = []
        self.rejected_updates: list[tuple[str, dict[str, Any]]] = []
        self._activities: dict[int, ActivityHandle] = {}
        self._timers: dict[int, WorkflowTimerHandle] = {}
        self._conditions: list[tuple[Callable[[], bool], asyncio.Future[None]]] = []
        self._buffered_signals: dict[str, list[HistoryEvent]] = {}
        self._patches_seen: dict[str, bool] = {}
        self._replay_markers: set[str] = set()
        self._handler_errors: list[BaseException] = []
        self._context = contextvars.copy_context()

    # -- driving ---------------------------------------------------------------------------
    def activate(self, events: Sequence[HistoryEvent], *, now: float, replaying: bool,
                 history_length: int, replay_patches: Sequence[str] = (),
                 updates: Sequence[dict[str, Any]] = ()) -> list[Command]:
        """Apply one workflow task's input events and return the commands it produced.

        Raises:
            WorkflowTaskError: workflow code failed in a way that fails the task, not the run.
        """
        if self.is_evicted:
            raise RuntimeError("activate() on an evicted workflow instance")
        self.now_seconds = now
        self.is_replaying = replaying
        self._history_length = history_length + len(events)
        self._replay_markers = set(replay_patches)
        self._commands = []
        self.accepted_updates = []
        self.rejected_updates = []
        previous = asyncio.events._get_running_loop()
        asyncio.events._set_running_loop(self.loop)
        try:
            with guard.activation():
                for event in events:
                    self._apply(event)
                for request in updates:
                    self._admit_update(request)
                self._run_until_blocked()
                self._finish_if_done()
        finally:
            asyncio.events._set_running_loop(previous)
        return self._commands

    def _run_until_blocked(self) -> None:
        while True:
            self.loop.run_once()
            if self._handler_errors:
                error = self._handler_errors.pop(0)
                self._handler_errors.clear()
                self._fail_or_raise(error, "a signal handler")
                return
            progressed = False
            for entry in list(self._conditions):
                fn, future = entry
                if future.done():
                    self._conditions.remove(entry)
                    continue
                if fn():
                    self._conditions.remove(entry)
                    future.set_result(None)
                    progressed = True
            if not progressed and not self.loop._ready:
                return

    def _apply(self, event: HistoryEvent) -> None:
        handler = _APPLY.get(event.event_type)
        if handler is not None:
            handler(self, event)

    def evict(self) -> None:
        """Tear down the loop's coroutines without letting workflow code issue commands."""
        self.is_evicted = True
        previous = asyncio.events._get_running_loop()
        asyncio.events._set_running_loop(self.loop)
        try:
            for task in list(self.loop.tasks):
                task._log_destroy_pending = False  # type: ignore[attr-defined]
                if not task.done():
                    coro = task.get_coro()
                    try:
                        coro.close()
                    except BaseException:
                        pass
        finally:
            asyncio.events._set_running_loop(previous)
        self.loop.close()

    # -- applying events ---------------------------------------------------------------------
    def _apply_started(self, event: HistoryEvent) -> None:
        attrs = event.attributes
        self.random = random.Random(attrs["random_seed"])
        parent = attrs.get("parent")
        timeout = attrs.get("execution_timeout")
        self.info = Info(
            workflow_id=attrs["workflow_id"], run_id=self.info.run_id,
            workflow_type=attrs["workflow_type"], task_queue=attrs["task_queue"],
            namespace=attrs.get("namespace", "default"), attempt=attrs.get("attempt", 1),
            start_time=datetime.fromtimestamp(event.timestamp, UTC),
            run_id_first=attrs.get("first_run_id") or self.info.run_id,
            continued_run_id=attrs.get("continued_run_id"),
            execution_timeout=timedelta(seconds=timeout) if timeout else None,
            run_timeout=None, task_timeout=timedelta(seconds=10), retry_policy=None,
            cron_schedule=None,
            parent=ParentInfo(**parent) if parent else None,
            _history_length=lambda: self._history_length,
        )
        payloads = [_payload_from_json(p) for p in attrs.get("input", [])]
        definition = self.definition
        try:
            args = self.converter.payload_converter.from_payloads(
                payloads, definition.arg_type_hints)
        except Exception as error:
            args_error: BaseException | None = error
            args = []
        else:
            args_error = None

        init_error: BaseException | None = None
        try:
            self.workflow_object = definition.cls()
        except Exception as error:
            init_error = error

        async def run_main() -> Any:
            if args_error is not None:
                raise exc.ApplicationError(
                    f"cannot decode the input of workflow {definition.name!r}: {args_error}",
                    type="InvalidWorkflowInput", non_retryable=True) from args_error
            if init_error is not None:
                raise init_error
            self._deliver_buffered_signals()
            if self.loop._ready:
                # As in Temporal, handlers of signals and updates that came with the start
                # (signal-with-start) run before the run method: let them go first.
                await asyncio.sleep(0)
            return await definition.run_fn(self.workflow_object, *args)

        self._main_task = self.loop.create_task(run_main(), name="workflow-run",
                                                context=self._context)

    def _apply_activity_resolved(self, event: HistoryEvent) -> None:
        handle = self._activities.pop(event.attributes["seq"], None)
        if handle is None or handle.done():
            return
        if event.event_type == EventType.ACTIVITY_TASK_COMPLETED:
            try:
                value = self.converter.payload_converter.from_payload(
                    _payload_from_json(event.attributes["result"]), handle._result_type)
            except Exception as error:
                handle.set_exception(exc.ApplicationError(
                    f"cannot decode the result of activity #{event.attributes['seq']} as "
                    f"{handle._result_type}: {error}", type="ResultDecodeError",
                    non_retryable=True))
                return
            handle.set_result(value)
        else:
            handle.set_exception(self.converter.failure_converter.from_failure(
                event.attributes["failure"], self.converter.payload_converter))

    def _apply_timer_fired(self, event: HistoryEvent) -> None:
        handle = self._timers.pop(event.attributes["seq"], None)
        if handle is not None and not handle.cancelled():
            self.loop._ready.append(handle)

    def _apply_signaled(self, event: HistoryEvent) -> None:
        name = event.attributes["signal_name"]
        if self.workflow_object is None or self._signal_definition(name) is None:
            self._buffered_signals.setdefault(name, []).append(event)
            return
        self._run_signal(event)

    def _apply_cancel_requested(self, event: HistoryEvent) -> None:
        if self.cancel_requested:
            return  # one cancellation per run, however often it is requested
        self.cancel_requested = True
        if self._main_task is not None and not self._main_task.done():
            self._main_task.cancel()

    # -- signals -----------------------------------------------------------------------------
    def _signal_definition(self, name: str) -> SignalDefinition | None:
        signals = self.definition.signals
        return signals.get(name) or signals.get(None)

    def _deliver_buffered_signals(self) -> None:
        for name in list(self._buffered_signals):
            if self._signal_definition(name) is not None:
                for event in self._buffered_signals.pop(name):
                    self._run_signal(event)

    def _run_signal(self, event: HistoryEvent) -> None:
        name = event.attributes["signal_name"]
        definition = self._signal_definition(name)
        assert definition is not None
        payloads = [_payload_from_json(p) for p in event.attributes.get("input", [])]
        if definition.dynamic:
            args: list[Any] = [name, self.converter.payload_converter.from_payloads(payloads)]
        else:
            try:
                args = self.converter.payload_converter.from_payloads(
                    payloads, definition.arg_type_hints)
            except Exception as error:
                # A signal with arguments of the wrong type is dropped, as in Temporal,
                # rather than failing the workflow that did nothing wrong.
                self._log_warning("dropping signal %r: cannot decode its arguments: %s",
                                  name, error)
                return
        obj = self.workflow_object
        if definition.is_async:
            async def run_async() -> None:
                try:
                    await definition.fn(obj, *args)
                except BaseException as error:
                    if not isinstance(error, asyncio.CancelledError):
                        self._handler_errors.append(error)
            self.loop.create_task(run_async(), name=f"signal-{name}", context=self._context)
        else:
            def run_sync() -> None:
                try:
                    definition.fn(obj, *args)
                except Exception as error:
                    self._handler_errors.append(error)
            self.loop.call_soon(run_sync, context=self._context)

    def _log_warning(self, message: str, *args: Any) -> None:
        if not self.is_replaying:
            import logging

            logging.getLogger("stalwart.workflow").warning(message, *args)

    # -- completion ------------------------------------------------------------------------
    def _finish_if_done(self) -> None:
        task = self._main_task
        if task is None or not task.done() or self.completed:
            return
        self.completed = True
        pc = self.converter.payload_converter
        if task.cancelled():
            self._commands.append(Command(EventType.WORKFLOW_EXECUTION_CANCELED, {}))
            return
        error = task.exception()
        if error is None:
            try:
                result = _payload_to_json(pc.to_payload(task.result()))
            except TypeError as conversion_error:
                self.completed = False
                raise WorkflowTaskError(
                    f"workflow {self.definition.name!r} returned a value that cannot be "
                    f"serialized: {conversion_error}", conversion_error) from conversion_error
            self._commands.append(Command(EventType.WORKFLOW_EXECUTION_COMPLETED,
                                          {"result": result}))
            return
        if isinstance(error, ContinueAsNewError):
            try:
                payloads = [_payload_to_json(p) for p in pc.to_payloads(error.input_args)]
            except TypeError as conversion_error:
                self.completed = False
                raise WorkflowTaskError(
                    f"continue_as_new arguments cannot be serialized: {conversion_error}",
                    conversion_error) from conversion_error
            self._commands.append(Command(EventType.WORKFLOW_EXECUTION_CONTINUED_AS_NEW, {
                "workflow_type": error.workflow or self.info.workflow_type,
                "task_queue": error.task_queue or self.info.task_queue,
                "input": payloads,
                "execution_timeout": error.execution_timeout.total_seconds()
                if error.execution_timeout else None,
            }))
            return
        if isinstance(error, asyncio.CancelledError):
            self._commands.append(Command(EventType.WORKFLOW_EXECUTION_CANCELED, {}))
            return
        self.completed = False
        self._fail_or_raise(error, "the workflow")

    def _fail_or_raise(self, error: BaseException, where: str) -> None:
        if isinstance(error, (exc.FailureError, *self.definition.failure_exception_types)):
            self.completed = True
            self._commands.append(Command(EventType.WORKFLOW_EXECUTION_FAILED, {
                "failure": self.converter.failure_converter.to_failure(
                    error, self.converter.payload_converter)}))
            return
        raise WorkflowTaskError(
            f"{where} raised {type(error).__name__}: {error}. This fails the workflow task, "
            "which is retried, not the workflow; raise ApplicationError to fail the workflow "
            "instead.", error) from error

    # -- the runtime API behind stalwart.workflow --------------------------------------------
    def _next_seq(self, kind: str) -> int:
        self._seq[kind] += 1
        return self._seq[kind]

    def _check_active(self) -> None:
        if self.is_evicted:
            raise _Evicted()
        if self._read_only is not None:
            raise RuntimeError(
                f"{self._read_only} is read-only: it cannot schedule activities, timers, child "
                "workflows or other commands; do that in a signal or update handler")
        if self.completed:
            raise RuntimeError("the workflow has already completed; no more commands")

    def start_activity(
        self, activity: Any, args: Sequence[Any], *, task_queue: str | None,
        result_type: Any, schedule_to_close_timeout: timedelta | None,
        schedule_to_start_timeout: timedelta | None, start_to_close_timeout: timedelta | None,
        heartbeat_timeout: timedelta | None, retry_policy: RetryPolicy | None,
        cancellation_type: int, activity_id: str | None, summary: str | None,
    ) -> ActivityHandle:
        self._check_active()
        name, definition = _activity_name(activity)
        if result_type is None and definition is not None:
            result_type = definition.return_type_hint
        if start_to_close_timeout is None and schedule_to_close_timeout is None:
            raise ValueError(
                f"execute_activity({name!r}) needs start_to_close_timeout or "
                "schedule_to_close_timeout, e.g. start_to_close_timeout=timedelta(minutes=5); "
                "without one a lost activity would never be retried"
            )
        timeouts = {
            "schedule_to_close_timeout": schedule_to_close_timeout,
            "schedule_to_start_timeout": schedule_to_start_timeout,
            "start_to_close_timeout": start_to_close_timeout,
            "heartbeat_timeout": heartbeat_timeout,
        }
        for field_name, value in timeouts.items():
            if value is not None and (not isinstance(value, timedelta)
                                      or value <= timedelta(0)):
                raise ValueError(f"execute_activity({name!r}): {field_name} must be a positive "
                                 f"timedelta, got {value!r}")
        if retry_policy is not None and not isinstance(retry_policy, RetryPolicy):
            raise TypeError(f"execute_activity({name!r}): retry_policy must be a RetryPolicy, "
                            f"got {type(retry_policy).__name__}")
        try:
            payloads = self.converter.payload_converter.to_payloads(list(args))
        except TypeError as error:
            raise TypeError(f"execute_activity({name!r}): {error}") from None
        seq = self._next_seq("activity")
        self._commands.append(Command(EventType.ACTIVITY_TASK_SCHEDULED, {
            "seq": seq,
            "activity_id": activity_id or str(seq),
            "activity_type": name,
            "task_queue": task_queue or self.info.task_queue,
            "input": [_payload_to_json(p) for p in payloads],
            **{k: v.total_seconds() if v is not None else None for k, v in timeouts.items()},
            "retry_policy": (retry_policy or RetryPolicy())._to_json(),
            "cancellation_type": cancellation_type,
            **({"summary": summary} if summary else {}),
        }))
        handle = ActivityHandle(self, seq, result_type, cancellation_type)
        self._activities[seq] = handle
        return handle

    def _request_cancel_activity(self, handle: ActivityHandle) -> None:
        if self.is_evicted or self.completed:
            return
        # ABANDON (2): resolve locally and tell nobody.
        if handle._cancellation_type != 2:
            self._commands.append(Command(EventType.ACTIVITY_TASK_CANCEL_REQUESTED,
                                          {"seq": handle._seq}))
        if handle._cancellation_type != 1:
            self._activities.pop(handle._seq, None)

    def _start_timer(self, delay: float, callback: Callable[..., Any], args: tuple[Any, ...],
                     context: contextvars.Context | None) -> WorkflowTimerHandle:
        self._check_active()
        seq = self._next_seq("timer")
        handle = WorkflowTimerHandle(seq, self.now_seconds + max(delay, 0.0), callback, args,
                                     self.loop, context)
        if delay <= 0:
            # Nothing to wait for: run on the next loop pass, record nothing.
            self.loop._ready.append(handle)
            return handle
        self._timers[seq] = handle
        self._commands.append(Command(EventType.TIMER_STARTED, {
            "seq": seq, "timer_id": str(seq), "start_to_fire_timeout": delay}))
        return handle

    def _cancel_timer(self, seq: int) -> None:
        if seq in self._timers and not self.is_evicted and not self.completed:
            del self._timers[seq]
            self._commands.append(Command(EventType.TIMER_CANCELED, {"seq": seq}))

    def wait_condition(self, fn: Callable[[], bool]) -> asyncio.Future[None]:
        self._check_active()
        future: asyncio.Future[None] = self.loop.create_future()
        self._conditions.append((fn, future))
        return future

    def patched(self, patch_id: str, *, deprecated: bool) -> bool:
        self._check_active()
        if patch_id in self._patches_seen:
            return self._patches_seen[patch_id]
        use_new = patch_id in self._replay_markers if self.is_replaying and not deprecated \
            else True
        self._patches_seen[patch_id] = use_new
        if use_new:
            self._commands.append(Command(EventType.MARKER_RECORDED, {
                "marker_name": "core_patch", "patch_id": patch_id, "deprecated": deprecated}))
        return use_new

    def uuid4(self) -> uuid.UUID:
        return uuid.UUID(int=self.random.getrandbits(128), version=4)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.now_seconds, UTC)

    def continue_as_new(self, args: Sequence[Any], workflow: Any, task_queue: str | None,
                        execution_timeout: timedelta | None) -> ContinueAsNewError:
        self._check_active()
        name: str | None = None
        if workflow is not None:
            from .definitions import get_workflow_definition

            if isinstance(workflow, str):
                name = workflow
            else:
                definition = get_workflow_definition(workflow)
                if definition is None:
                    raise TypeError(f"continue_as_new(workflow={workflow!r}): not a "
                                    "@workflow.defn class or @workflow.run method")
                name = definition.name
        return ContinueAsNewError(args, name, task_queue, execution_timeout)

    # -- child workflows and external workflows ------------------------------------------
    async def start_child_workflow(
        self, workflow: Any, args: Sequence[Any], *, id: str | None, task_queue: str | None,
        result_type: Any, cancellation_type: int, parent_close_policy: int,
        execution_timeout: timedelta | None, id_reuse_policy: int,
    ) -> ChildWorkflowHandle:
        self._check_active()
        if isinstance(workflow, str):
            name, hinted = workflow, None
        else:
            definition = get_workflow_definition(workflow)
            if definition is None:
                raise TypeError(f"start_child_workflow({workflow!r}): not a @workflow.defn "
                                "class or @workflow.run method, nor a workflow type name")
            name, hinted = definition.name, definition.return_type_hint
        try:
            payloads = self.converter.payload_converter.to_payloads(list(args))
        except TypeError as error:
            raise TypeError(f"start_child_workflow({name!r}): {error}") from None
        seq = self._next_seq("child")
        child_id = id or f"{self.info.workflow_id}/child-{seq}-{self.uuid4().hex[:8]}"
        self._commands.append(Command(EventType.START_CHILD_WORKFLOW_EXECUTION_INITIATED, {
            "seq": seq, "workflow_id": child_id, "workflow_type": name,
            "task_queue": task_queue or self.info.task_queue,
            "input": [_payload_to_json(p) for p in payloads],
            "execution_timeout": execution_timeout.total_seconds()
            if execution_timeout else None,
            "parent_close_policy": parent_close_policy, "id_reuse_policy": id_reuse_policy,
            "random_seed": self.random.getrandbits(63),
            "run_id": str(self.uuid4()),
        }))
        handle = ChildWorkflowHandle(self, seq, child_id, result_type or hinted,
                                     cancellation_type)
        self._children[seq] = handle
        await handle._started
        return handle

    def _child(self, event: HistoryEvent) -> ChildWorkflowHandle | None:
        return self._children.get(event.attributes["seq"])

    def _apply_child_started(self, event: HistoryEvent) -> None:
        handle = self._child(event)
        if handle is not None and not handle._started.done():
            handle.first_execution_run_id = event.attributes.get("run_id")
            handle._started.set_result(event.attributes.get("run_id", ""))

    def _apply_child_start_failed(self, event: HistoryEvent) -> None:
        handle = self._children.pop(event.attributes["seq"], None)
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

    def _apply_child_closed(self, event: HistoryEvent) -> None:
        handle = self._children.pop(event.attributes["seq"], None)
        if handle is None or handle._result.done():
            return
        pc = self.converter.payload_converter
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
        cause = self.converter.failure_converter.from_failure(failure, pc)
        if event.event_type == EventType.CHILD_WORKFLOW_EXECUTION_CANCELED:
            cause = exc.CancelledError("Child workflow cancelled")
        child_error = exc.ChildWorkflowError(
            "Child Workflow execution failed", namespace="default", workflow_id=handle.id,
            run_id=event.attributes.get("run_id", ""),
            workflow_type=event.attributes.get("workflow_type", ""), initiated_event_id=0,
            started_event_id=0, retry_state=exc.RetryState.NON_RETRYABLE_FAILURE)
        child_error.__cause__ = cause
        handle._result.set_exception(child_error)

    def get_external_workflow_handle(self, workflow_id: str,
                                     run_id: str | None) -> ExternalWorkflowHandle:
        if not workflow_id:
            raise ValueError("get_external_workflow_handle needs a workflow id")
        return ExternalWorkflowHandle(self, workflow_id, run_id)

    async def signal_external(self, workflow_id: str, run_id: str | None, signal: Any,
                              args: Sequence[Any], *, child: bool) -> None:
        self._check_active()
        name = signal if isinstance(signal, str) else getattr(
            getattr(signal, "__stalwart_signal_definition__", None), "name", None)
        if not name:
            raise TypeError(f"{signal!r} is not a signal: pass a @workflow.signal method or "
                            "the signal name")
        try:
            payloads = self.converter.payload_converter.to_payloads(list(args))
        except TypeError as error:
            raise TypeError(f"signal {name!r} to workflow {workflow_id!r}: {error}") from None
        seq = self._next_seq("signal")
        self._commands.append(Command(EventType.SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED, {
            "seq": seq, "workflow_id": workflow_id, "run_id": run_id, "signal_name": name,
            "input": [_payload_to_json(p) for p in payloads], "child_workflow_only": child}))
        future: asyncio.Future[None] = self.loop.create_future()
        self._external[("signal", seq)] = future
        await future

    def _request_cancel_external(self, workflow_id: str, run_id: str | None, *,
                                 child_seq: int | None) -> asyncio.Future[None]:
        self._check_active()
        seq = self._next_seq("cancel")
        self._commands.append(Command(
            EventType.REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED,
            {"seq": seq, "workflow_id": workflow_id, "run_id": run_id,
             "child_workflow_only": child_seq is not None}))
        future: asyncio.Future[None] = self.loop.create_future()
        self._external[("cancel", seq)] = future
        return future

    def _apply_external_result(self, event: HistoryEvent) -> None:
        kind = "signal" if event.event_type in (
            EventType.EXTERNAL_WORKFLOW_EXECUTION_SIGNALED,
            EventType.SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED) else "cancel"
        future = self._external.pop((kind, event.attributes["seq"]), None)
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

    # -- updates and queries --------------------------------------------------------------------
    def _update_definition(self, name: str) -> UpdateDefinition | None:
        updates = self.definition.updates
        return updates.get(name) or updates.get(None)

    def _admit_update(self, request: dict[str, Any]) -> None:
        """Validate an update request: accepted ones become history inputs, rejected ones
        leave no trace but their answer to the caller."""
        update_id, name = request["update_id"], request["name"]
        definition = self._update_definition(name)
        pc = self.converter.payload_converter
        try:
            if definition is None:
                known = ", ".join(sorted(n for n in self.definition.updates if n)) or "none"
                raise exc.ApplicationError(
                    f"workflow {self.definition.name!r} has no update handler {name!r} "
                    f"(known: {known})", type="UnknownUpdate", non_retryable=True)
            if self.completed:
                raise exc.ApplicationError(f"workflow {self.info.workflow_id!r} has completed; "
                                           "it takes no more updates", type="WorkflowClosed",
                                           non_retryable=True)
            args = self._update_args(definition, name, request["input"])
            if definition.validator is not None:
                self._read_only = f"update validator for {name!r}"
                try:
                    definition.validator(self.workflow_object, *args)
                finally:
                    self._read_only = None
        except Exception as error:
            self.rejected_updates.append(
                (update_id, self.converter.failure_converter.to_failure(error, pc)))
            return
        event = HistoryEvent(0, EventType.WORKFLOW_EXECUTION_UPDATE_ACCEPTED, self.now_seconds,
                             {"update_id": update_id, "name": name, "input": request["input"]})
        self.accepted_updates.append(event)
        self._apply_update_accepted(event)

    def _update_args(self, definition: UpdateDefinition, name: str,
                     payloads_json: list[dict[str, Any]]) -> list[Any]:
        payloads = [_payload_from_json(p) for p in payloads_json]
        pc = self.converter.payload_converter
        if definition.dynamic:
            return [name, pc.from_payloads(payloads)]
        try:
            return pc.from_payloads(payloads, definition.arg_type_hints)
        except Exception as error:
            raise exc.ApplicationError(
                f"update {name!r}: cannot decode its arguments: {error}",
                type="InvalidUpdateArguments", non_retryable=True) from None

    def _apply_update_accepted(self, event: HistoryEvent) -> None:
        update_id, name = event.attributes["update_id"], event.attributes["name"]
        definition = self._update_definition(name)
        if definition is None:
            raise exc.NondeterminismError(
                f"history has an accepted update {name!r} but workflow "
                f"{self.definition.name!r} no longer has a handler for it")
        args = self._update_args(definition, name, event.attributes["input"])
        obj = self.workflow_object
        pc = self.converter.payload_converter

        async def run_update() -> None:
            try:
                if definition.is_async:
                    result = await definition.fn(obj, *args)
                else:
                    result = definition.fn(obj, *args)
                attrs: dict[str, Any] = {"update_id": update_id,
                                         "result": _payload_to_json(pc.to_payload(result))}
            except exc.FailureError as error:
                attrs = {"update_id": update_id,
                         "failure": self.converter.failure_converter.to_failure(error, pc)}
            except asyncio.CancelledError:
                raise
            except BaseException as error:
                self._handler_errors.append(error)
                return
            if not self.completed:
                self._commands.append(Command(EventType.WORKFLOW_EXECUTION_UPDATE_COMPLETED,
                                              attrs))

        self.loop.create_task(run_update(), name=f"update-{name}", context=self._context)

    def run_query(self, name: str, payloads_json: list[dict[str, Any]]) -> Any:
        """Answer a query from the current state; the handler may not issue commands."""
        definition = self.definition.queries.get(name) or self.definition.queries.get(None)
        if definition is None:
            known = ", ".join(sorted(n for n in self.definition.queries if n)) or "none"
            raise exc.ApplicationError(
                f"workflow {self.definition.name!r} has no query handler {name!r} "
                f"(known: {known})", type="UnknownQuery", non_retryable=True)
        pc = self.converter.payload_converter
        payloads = [_payload_from_json(p) for p in payloads_json]
        if definition.dynamic:
            args: list[Any] = [name, pc.from_payloads(payloads)]
        else:
            try:
                args = pc.from_payloads(payloads, definition.arg_type_hints)
            except Exception as error:
                raise exc.ApplicationError(f"query {name!r}: cannot decode its arguments: "
                                           f"{error}", type="InvalidQueryArguments",
                                           non_retryable=True) from None
        previous = asyncio.events._get_running_loop()
        asyncio.events._set_running_loop(self.loop)
        self._read_only = f"query handler {name!r}"
        saved_commands = self._commands
        self._commands = []
        try:
            with guard.activation():
                return definition.fn(self.workflow_object, *args)
        finally:
            self._commands = saved_commands
            self._read_only = None
            asyncio.events._set_running_loop(previous)


def _activity_name(activity: Any) -> tuple[str, ActivityDefinition | None]:
    if isinstance(activity, str):
        if not activity:
            raise ValueError("activity name must not be empty")
        return activity, None
    definition = get_activity_definition(activity)
    if definition is None:
        raise TypeError(
            f"{activity!r} is not an activity: decorate it with @activity.defn, or pass the "
            "activity's name as a string")
    return definition.name, definition


def _placeholder_info(workflow_id: str, run_id: str, workflow_type: str) -> Info:
    return Info(workflow_id=workflow_id, run_id=run_id, workflow_type=workflow_type,
                task_queue="", namespace="default", attempt=1,
                start_time=datetime.fromtimestamp(0, UTC), run_id_first=run_id,
                continued_run_id=None, execution_timeout=None, run_timeout=None,
                task_timeout=None, retry_policy=None, cron_schedule=None, parent=None)


_APPLY: dict[str, Callable[[WorkflowInstance, HistoryEvent], None]] = {
    EventType.WORKFLOW_EXECUTION_STARTED: WorkflowInstance._apply_started,
    EventType.ACTIVITY_TASK_COMPLETED: WorkflowInstance._apply_activity_resolved,
    EventType.ACTIVITY_TASK_FAILED: WorkflowInstance._apply_activity_resolved,
    EventType.ACTIVITY_TASK_TIMED_OUT: WorkflowInstance._apply_activity_resolved,
    EventType.ACTIVITY_TASK_CANCELED: WorkflowInstance._apply_activity_resolved,
    EventType.TIMER_FIRED: WorkflowInstance._apply_timer_fired,
    EventType.WORKFLOW_EXECUTION_SIGNALED: WorkflowInstance._apply_signaled,
    EventType.WORKFLOW_EXECUTION_CANCEL_REQUESTED: WorkflowInstance._apply_cancel_requested,
    EventType.CHILD_WORKFLOW_EXECUTION_STARTED: WorkflowInstance._apply_child_started,
    EventType.START_CHILD_WORKFLOW_EXECUTION_FAILED: WorkflowInstance._apply_child_start_failed,
    EventType.CHILD_WORKFLOW_EXECUTION_COMPLETED: WorkflowInstance._apply_child_closed,
    EventType.CHILD_WORKFLOW_EXECUTION_FAILED: WorkflowInstance._apply_child_closed,
    EventType.CHILD_WORKFLOW_EXECUTION_CANCELED: WorkflowInstance._apply_child_closed,
    EventType.CHILD_WORKFLOW_EXECUTION_TIMED_OUT: WorkflowInstance._apply_child_closed,
    EventType.CHILD_WORKFLOW_EXECUTION_TERMINATED: WorkflowInstance._apply_child_closed,
    EventType.EXTERNAL_WORKFLOW_EXECUTION_SIGNALED: WorkflowInstance._apply_external_result,
    EventType.SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED: WorkflowInstance._apply_external_result,
    EventType.EXTERNAL_WORKFLOW_EXECUTION_CANCEL_REQUESTED:
        WorkflowInstance._apply_external_result,
    EventType.REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_FAILED:
        WorkflowInstance._apply_external_result,
    EventType.WORKFLOW_EXECUTION_UPDATE_ACCEPTED: WorkflowInstance._apply_update_accepted,
}
