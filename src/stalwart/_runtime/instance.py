"""One workflow execution in memory: history events in, commands out. No I/O, no SQL.

``activate`` applies one workflow task's input events, runs the deterministic loop until every
coroutine is blocked, and returns the commands produced. Replaying is the same call with
``replaying=True``; the caller compares the commands with the recorded ones.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import functools
import random
import uuid
import warnings
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from .. import exceptions as exc
from .._model import search_attributes as sa
from .._model.events import EV, NO_EAGER, Command, HistoryEvent
from .._model.temporal_history import (
    TemporalLength,
    estimate_history_size,
    payload_size,
    seed_for_run,
)
from ..common import Priority, RawValue, RetryPolicy, _priority_key
from ..converter import (
    DataConverter,
    Payload,
    _payload_from_json,
    _payload_to_json,
    headers_from_json,
    headers_to_json,
)
from . import api, children, contexts, guard, messaging, patches
from .activities import ActivityHandle, activity_name, scheduled_timeouts
from .children import ChildWorkflowHandle
from .continue_as_new import continue_as_new_command
from .definitions import (
    WorkflowDefinition,
)
from .event_groups import grouped
from .info import Info, ParentInfo, RootInfo
from .interceptors import (
    ContinueAsNewInput,
    ExecuteWorkflowInput,
    WorkflowInboundInterceptor,
    WorkflowOutboundInterceptor,
)
from .loop import WorkflowEventLoop, WorkflowTimerHandle
from .roots import RootInbound, RootOutbound


class ContinueAsNewError(BaseException):
    """Raised by ``workflow.continue_as_new``; unwinds the run so a new one can start.

    A ``BaseException`` so that ``except Exception`` in workflow code cannot swallow it.
    """

    def __init__(self, input: ContinueAsNewInput) -> None:
        super().__init__("continue as new")
        self.input = input


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


class WorkflowInstance:
    """A workflow object plus its loop, pending handles and the commands of the current task."""

    def __init__(self, definition: WorkflowDefinition, *, workflow_id: str, run_id: str,
                 converter: DataConverter,
                 interceptor_classes: Sequence[type[WorkflowInboundInterceptor]] = ()) -> None:
        self.definition = definition
        # As temporalio: the workflow's own payloads convert in its workflow context; those of
        # its activities and children get theirs (see activity_converter, child_converter).
        self.base_converter = converter
        self.converter = contexts.workflow_converter(converter, "default", workflow_id)
        inbound: WorkflowInboundInterceptor = RootInbound(self)
        for interceptor_class in reversed(interceptor_classes):
            inbound = interceptor_class(inbound)
        self.inbound = inbound
        self.outbound: WorkflowOutboundInterceptor = RootOutbound(self)
        self._interceptors_ready = False
        self.loop = WorkflowEventLoop(self)  # type: ignore[abstract]
        self.now_seconds = 0.0
        self.is_replaying = False
        self.is_evicted = False
        self.completed = False
        self.default_activity_timeout: timedelta | None = None
        self.patch_activation: patches.PatchActivationCallback | None = None
        self.disable_eager_activities = False  # the worker's disable_eager_activity_execution
        self.cancel_requested = False
        self.workflow_object: Any = None
        self.memo_payloads: dict[str, Any] = {}
        self.started_attributes: dict[str, Any] = {}
        self.info: Info = _placeholder_info(workflow_id, run_id, definition.name)
        self._seed = 0
        self._reseeded = False      # by a reset: the started event's seed no longer holds
        self._random: random.Random | None = None
        self._history_length = 0
        self._history_size = 0
        self._payload_bytes = 0     # of every event followed so far
        self._length = TemporalLength()
        self._commands: list[Command] = []
        self._main_task: asyncio.Task[Any] | None = None
        self._pending_run: Callable[[], Any] | None = None
        self._seq: dict[str, int] = {"activity": 0, "timer": 0, "child": 0, "signal": 0,
                                     "cancel": 0}
        self._children: dict[int, ChildWorkflowHandle[Any, Any]] = {}
        self._external: dict[tuple[str, int], asyncio.Future[None]] = {}
        self._read_only: str | None = None
        self.signal_handlers = dict(definition.signals)
        self.query_handlers = dict(definition.queries)
        self.update_handlers = dict(definition.updates)
        self.running_handlers = 0
        self.running_handler_details: list[messaging.RunningHandler] = []
        # Lists that stay empty in most runs and tasks start as the shared empty tuple and
        # become lists on their first item (see ``messaging.appended``): a worker keeps
        # thousands of cached runs, and every object one holds is one more for the garbage
        # collector to walk.
        self.accepted_updates: Sequence[HistoryEvent] = ()
        self.rejected_updates: Sequence[tuple[str, dict[str, Any]]] = ()
        self._activities: dict[int, ActivityHandle] = {}
        self._timers: dict[int, WorkflowTimerHandle] = {}
        self._conditions: list[tuple[Callable[[], bool], asyncio.Future[None]]] = []
        self._buffered_signals: dict[str, list[tuple[HistoryEvent, int]]] = {}
        self.signals_seen = 0
        self._patches_seen: dict[str, bool] = {}
        self._replay_markers: set[str] | frozenset[str] = _NO_PATCHES
        self._handler_errors: Sequence[BaseException] = ()
        self._context = contextvars.copy_context()
        # Stream items published by workflow code: (seq, topic, payload as JSON), handed to
        # the store with the task's completion. The seq numbers every publish of the run;
        # a replay renumbers them identically and does not queue them again.
        self.stream_seq = 0
        self.stream_outbox: Sequence[tuple[int, str, dict[str, Any]]] = ()

    def publish_stream(self, topic: str, payload: dict[str, Any]) -> None:
        self._check_active()
        self.stream_seq += 1
        if not self.is_replaying:
            self.stream_outbox = messaging.appended(self.stream_outbox,
                                                    (self.stream_seq, topic, payload))

    @property
    def random(self) -> random.Random:
        """Seeded per run. Created on first use: a generator holds ~2.5 KB of state, which
        adds up over thousands of parked workflows that never draw a number."""
        if self._random is None:
            self._random = random.Random(self._seed)
        return self._random

    def reseed(self, reset_run_id: str) -> None:
        """A reset's failed task: from here on the randomness derives from the run the reset
        made, as Temporal's SDK reseeds (draws before the reset point replay unchanged)."""
        self._seed = seed_for_run(reset_run_id)
        self._reseeded = True
        if self._random is not None:
            self._random.seed(self._seed)
        if self.workflow_object is not None:
            self._tell_seed()
        # else (a reset to the first task): told once the workflow object exists, as
        # temporalio applies the reseed after the start.

    def _tell_seed(self) -> None:
        for callback in self.__dict__.get("_seed_callbacks", ()):
            try:
                callback(self._seed)
            except Exception:  # as temporalio: a callback's error must not break the task
                pass

    @property
    def close_status(self) -> str:
        """How the last activation closed the run ("" if it did not)."""
        for command in self._commands:
            # A StrEnum member hashes as its value: no EventType(...) call needed.
            status = _CLOSE_STATUS_NAMES.get(command.event_type)
            if status is not None:
                return status
        return ""

    # -- driving ---------------------------------------------------------------------------
    def activate(self, events: Sequence[HistoryEvent], *, now: float, replaying: bool,
                 replay_patches: Sequence[str] = (), updates: Sequence[dict[str, Any]] = (),
                 failed_tasks: int = 0) -> list[Command]:
        """Apply one workflow task's input events and return the commands it produced.

        ``failed_tasks``: during replay, how many recorded tasks failed over these inputs
        before this one (they count in Temporal's history length).

        Raises:
            WorkflowTaskError: workflow code failed in a way that fails the task, not the run.
        """
        if self.is_evicted:
            raise RuntimeError("activate() on an evicted workflow instance")
        self.now_seconds = now
        self.is_replaying = replaying
        length = self._length
        for event in events:
            length.feed_input(event)
            self._payload_bytes += payload_size(event.attributes)
        for _ in range(failed_tasks):
            length.task_started()
            length.task_failed()
        # Shared when empty (the usual case): a cached run keeps it until its next task.
        self._replay_markers = set(replay_patches) if replay_patches else _NO_PATCHES
        self._commands = []
        self.accepted_updates = ()
        self.rejected_updates = ()
        previous = asyncio.events._get_running_loop()
        asyncio.events._set_running_loop(self.loop)
        try:
            with guard.activation():
                # As temporalio orders an activation's jobs: the start, then signals and
                # updates (new ones after those the history holds), then everything else
                # (resolved activities, timers, children...), each kind in history order, so
                # the code a resolution wakes sees the handlers' effects.
                first, rest = messaging.application_order(events)
                for event in first:
                    self._apply(event)
                for request in updates:
                    messaging.admit_update(self, request)
                for event in rest:
                    self._apply(event)
                accepted: HistoryEvent  # admit_update() may have added some
                for accepted in self.accepted_updates:
                    length.feed_input(accepted)
                started = length.task_started()
                if started != self._history_length:
                    # As Temporal's: the history up to the task's WorkflowTaskStarted, the
                    # same all through the task (a local activity run inside it adds none).
                    self._history_length = started
                    self._history_size = estimate_history_size(self._payload_bytes, started)
                self._start_run()
                self._run_until_blocked()
                self._finish_if_done()
        finally:
            asyncio.events._set_running_loop(previous)
        for command in self._commands:
            length.feed_command(command.event_type, command.attributes)
            self._payload_bytes += payload_size(command.attributes)
        length.task_completed()
        return self._commands

    def _run_until_blocked(self) -> None:
        while True:
            self.loop.run_once()
            if self._handler_errors:
                error = self._handler_errors[0]
                self._handler_errors = ()
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
        self.started_attributes = attrs
        if not self._reseeded:
            self._seed = attrs["random_seed"]
            self._random = None
        parent = attrs.get("parent")
        timeout, run = attrs.get("execution_timeout"), attrs.get("run_timeout")
        self.info = Info(
            workflow_id=attrs["workflow_id"], run_id=self.info.run_id,
            workflow_type=attrs["workflow_type"], task_queue=attrs["task_queue"],
            namespace=attrs.get("namespace", "default"), attempt=attrs.get("attempt", 1),
            start_time=datetime.fromtimestamp(event.timestamp, UTC),
            run_id_first=attrs.get("first_run_id") or self.info.run_id,
            continued_run_id=attrs.get("continued_run_id"),
            execution_timeout=timedelta(seconds=timeout) if timeout else None,
            run_timeout=timedelta(seconds=run) if run is not None else None,
            task_timeout=timedelta(seconds=attrs.get("task_timeout") or 10),
            retry_policy=RetryPolicy._from_json(attrs["retry_policy"])
            if attrs.get("retry_policy") else None,
            cron_schedule=attrs.get("cron_schedule"),
            parent=ParentInfo(**parent) if parent else None,
            priority=_priority(attrs.get("priority")),
            typed_search_attributes=sa.from_store(attrs.get("search_attributes")),
            _search_attributes_store=dict(attrs.get("search_attributes") or {}),
            root=RootInfo(run_id=attrs["root"]["run_id"],
                          workflow_id=attrs["root"]["workflow_id"]) if attrs.get("root")
            else None,
            original_execution_run_id=attrs.get("original_run_id") or self.info.run_id,
            _run=self,
        )
        self.memo_payloads = dict(attrs.get("memo") or {})
        self.converter = contexts.workflow_converter(self.base_converter, self.info.namespace,
                                                     self.info.workflow_id)
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
        self._init_interceptors()
        if definition.dynamic:
            args = [[RawValue(p) for p in payloads]]
            args_error = None
        try:
            self.workflow_object = definition.cls(*args) if definition.init_takes_args \
                else definition.cls()
            if definition.dynamic_config_fn is not None:
                self._read_only = "dynamic_config"  # read only, as in temporalio
                try:
                    self.definition = contexts.with_dynamic_config(
                        definition, definition.dynamic_config_fn, self.workflow_object)
                finally:
                    self._read_only = None
        except Exception as error:
            init_error = error
        if self._reseeded:
            self._tell_seed()

        async def run_main() -> Any:
            if args_error is not None:
                # As temporalio: the workflow task fails (and is retried), so a deployment
                # whose types fit the recorded input picks the run up again.
                raise RuntimeError(
                    f"Failed decoding arguments (the input of workflow {definition.name!r}: "
                    f"{args_error})") from args_error
            if init_error is not None:
                raise init_error
            messaging.deliver_buffered_signals(self)
            return await self.inbound.execute_workflow(ExecuteWorkflowInput(
                type=definition.cls, run_fn=functools.partial(definition.run_fn,
                                                              self.workflow_object),
                args=args, headers=headers_from_json(attrs.get("header"))))

        self._pending_run = run_main

    def __deepcopy__(self, memo: dict[int, Any]) -> WorkflowInstance:
        # Reached through workflow.info(), which refers to its run: a deep copy of the info
        # describes the same running workflow (as it did when it held closures over it).
        return self

    # What workflow.info() reads when asked (see info.RunFacts).
    def info_history_length(self) -> int:
        return self._history_length

    def info_history_size(self) -> int:
        return self._history_size

    def info_raw_memo(self) -> Mapping[str, Any]:
        return {key: _payload_from_json(value) for key, value in self.memo_payloads.items()}

    def _init_interceptors(self) -> None:
        if not self._interceptors_ready:
            self._interceptors_ready = True
            self.inbound.init(RootOutbound(self))

    def _start_run(self) -> None:
        """Start the run method once the activation's inputs are applied.

        As in Temporal, handlers of signals and updates that came with the start (say,
        signal-with-start) run before the run method, and a cancellation that came with it is
        delivered at the run method's first await, so the workflow can still clean up.
        """
        run, self._pending_run = self._pending_run, None
        if run is None:
            return
        # Its own context: scopes it enters are not its handlers' (as in temporalio).
        self._main_task = self.loop.create_task(run(), name="workflow-run",
                                                context=self._context.copy())
        if self.cancel_requested:
            self.loop.call_soon(self._main_task.cancel)

    def _apply_activity_resolved(self, event: HistoryEvent) -> None:
        seq = event.attributes["seq"]
        scheduled_id, started_id = self._length.event_ids("a", seq)
        self._length.forget("a", seq)
        handle = self._activities.pop(seq, None)
        if handle is None or handle.done():
            return
        if event.event_type == EV.ACTIVITY_TASK_COMPLETED:
            try:
                value = handle._converter.payload_converter.from_payload(
                    _payload_from_json(event.attributes["result"]), handle._result_type)
            except Exception as error:
                handle.set_exception(exc.ApplicationError(
                    f"cannot decode the result of activity #{event.attributes['seq']} as "
                    f"{handle._result_type}: {error}", type="ResultDecodeError",
                    non_retryable=True))
                return
            handle.set_result(value)
        else:
            failure = event.attributes["failure"]
            info = failure.get("activity_failure_info")
            if info is not None and not handle._local:
                # The store keeps no event ids (its rows are not Temporal's events); these are
                # the ids Temporal's history gives the activity's events.
                failure = {**failure, "activity_failure_info": {
                    **info, "scheduled_event_id": scheduled_id,
                    "started_event_id": started_id}}
            if handle._local and failure.get("activity_failure_info") is not None \
                    and failure.get("cause") is not None:
                # temporalio raises a local activity's own failure, not wrapped in
                # ActivityError as an ordinary activity's is.
                failure = failure["cause"]
            handle.set_exception(handle._converter.failure_converter.from_failure(
                failure, handle._converter.payload_converter))

    def _apply_timer_fired(self, event: HistoryEvent) -> None:
        handle = self._timers.pop(event.attributes["seq"], None)
        if handle is not None and not handle.cancelled():
            self.loop._ready.append(handle)

    def _apply_cancel_requested(self, event: HistoryEvent) -> None:
        if self.cancel_requested:
            return  # one cancellation per run, however often it is requested
        self.cancel_requested = True
        # As temporalio: the reason given, "" when none was (None only while not cancelled).
        self.__dict__["_cancellation_reason"] = event.attributes.get("cause") or ""
        if self._main_task is not None and not self._main_task.done():
            self._main_task.cancel()


    # -- completion ------------------------------------------------------------------------
    def _finish_if_done(self) -> None:
        task = self._main_task
        if task is None or not task.done() or self.completed:
            return
        self.completed = True
        pc = self.converter.payload_converter
        if self.running_handler_details and not task.cancelled():
            messaging.warn_unfinished_handlers(self)
        if task.cancelled():
            self._commands.append(Command(EV.WORKFLOW_EXECUTION_CANCELED, {}))
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
            self._commands.append(Command(EV.WORKFLOW_EXECUTION_COMPLETED,
                                          {"result": result}))
            return
        if isinstance(error, ContinueAsNewError):
            try:
                payloads = [_payload_to_json(p) for p in pc.to_payloads(list(error.input.args))]
            except TypeError as conversion_error:
                self.completed = False
                raise WorkflowTaskError(
                    f"continue_as_new arguments cannot be serialized: {conversion_error}",
                    conversion_error) from conversion_error
            self._commands.append(continue_as_new_command(self, error.input, payloads))
            return
        if isinstance(error, asyncio.CancelledError) or (
                self.cancel_requested and exc.is_cancelled_exception(error)):
            # As in Temporal: a cancelled run that ends with its child's or activity's
            # cancellation error is cancelled, not failed.
            self._commands.append(Command(EV.WORKFLOW_EXECUTION_CANCELED, {}))
            return
        self.completed = False
        self._fail_or_raise(error, "the workflow")

    def _fail_or_raise(self, error: BaseException, where: str) -> None:
        if isinstance(error, (exc.FailureError, *self.definition.failure_exception_types)):
            self.completed = True
            self._commands.append(Command(EV.WORKFLOW_EXECUTION_FAILED, {
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
            raise exc.ReadOnlyContextError(
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
        local: bool = False, headers: Mapping[str, Payload] | None = None,
        priority: Any = None, disable_eager: bool = False,
    ) -> ActivityHandle:
        self._check_active()
        name, definition = activity_name(activity)
        priority_key = _priority_key(priority, f"execute_activity({name!r})")
        if result_type is None and definition is not None:
            result_type = definition.return_type_hint
        if start_to_close_timeout is None and schedule_to_close_timeout is None and \
                not self.is_replaying:
            # Replaying only matches commands against history; the timeouts there were fixed
            # when the history was recorded (perhaps by a worker's default_activity_timeout).
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
        seq = self._next_seq("activity")
        converter = contexts.activity_converter(self.base_converter, self.info, name,
                                                task_queue or self.info.task_queue, local)
        try:
            payloads = converter.payload_converter.to_payloads(list(args))
        except TypeError as error:
            self._seq["activity"] -= 1  # nothing was scheduled
            raise TypeError(f"execute_activity({name!r}): {error}") from None
        scheduled = grouped({
            "seq": seq,
            "activity_id": activity_id or str(seq),
            "activity_type": name,
            "task_queue": task_queue or self.info.task_queue,
            "input": [_payload_to_json(p) for p in payloads],
            **scheduled_timeouts(timeouts, self.info.run_timeout, local),
            "retry_policy": (retry_policy or RetryPolicy())._to_json(),
            "cancellation_type": cancellation_type,
            **({"summary": summary} if summary else {}),
            **({"local": True} if local else {}),
            **({"header": headers_to_json(headers)} if headers else {}),
            **({"priority": priority_key} if priority_key is not None else {}),
            # Read when the task's decisions are made, not recorded.
            **({NO_EAGER: True} if disable_eager else {}),
        })
        self._commands.append(Command(EV.ACTIVITY_TASK_SCHEDULED, scheduled))
        handle = ActivityHandle(self, seq, result_type, cancellation_type, name,
                                activity_id or str(seq))
        # Its cancel request carries the groups it was scheduled with, as in temporalio.
        handle._event_groups = scheduled.get("event_groups")
        handle._local = local
        handle._converter = converter
        self._activities[seq] = handle
        return handle

    def _request_cancel_activity(self, handle: ActivityHandle) -> None:
        if self.is_evicted or self.completed:
            return
        # ABANDON (2): resolve locally and tell nobody.
        if handle._cancellation_type != 2:
            self._commands.append(Command(EV.ACTIVITY_TASK_CANCEL_REQUESTED, grouped(
                {"seq": handle._seq}, handle._event_groups or [])))
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
        started = grouped({"seq": seq, "timer_id": str(seq), "start_to_fire_timeout": delay})
        if (summary := api.next_timer_summary()) is not None:
            started["summary"] = summary
        self._commands.append(Command(EV.TIMER_STARTED, started))
        handle.event_groups = started.get("event_groups")  # for its TimerCanceled
        return handle

    def _cancel_timer(self, seq: int) -> None:
        if seq in self._timers and not self.is_evicted and not self.completed:
            handle = self._timers.pop(seq)
            self._commands.append(Command(EV.TIMER_CANCELED, grouped(
                {"seq": seq}, handle.event_groups or [])))

    def wait_condition(self, fn: Callable[[], bool]) -> asyncio.Future[None]:
        self._check_active()
        future: asyncio.Future[None] = self.loop.create_future()
        self._conditions.append((fn, future))
        return future

    def patched(self, patch_id: str, *, deprecated: bool) -> bool:
        self._check_active()
        if patch_id in self._patches_seen:
            return self._patches_seen[patch_id]
        if self.is_replaying and not deprecated:
            use_new = patch_id in self._replay_markers
        elif not deprecated and self.patch_activation is not None:
            use_new = patches.activate(self, self.patch_activation, patch_id)
        else:
            use_new = True
        self._patches_seen[patch_id] = use_new
        if use_new:
            self._commands.append(Command(EV.MARKER_RECORDED, grouped({
                "marker_name": "core_patch", "patch_id": patch_id, "deprecated": deprecated})))
        return use_new

    def upsert_search_attributes(self, updates: Sequence[Any] | Mapping[str, Any]) -> None:
        self._check_active()
        changes: dict[str, Any] = {}
        if isinstance(updates, Mapping):
            changes = self._untyped_search_attribute_changes(updates)
            updates = ()
        for update in updates:
            if not isinstance(update, sa.SearchAttributeUpdate):
                raise TypeError(
                    "upsert_search_attributes takes SearchAttributeUpdate values, e.g. "
                    "[SearchAttributeKey.for_keyword('CustomerId').value_set('c-1')], got "
                    f"{update!r}")
            key = update.key
            changes[key.name] = None if update.value is None else {
                "type": key.value_type_name, "value": sa.check_value(key, update.value)}
        stored = dict(self.info._search_attributes_store)
        for name, entry in changes.items():
            if entry is None:
                stored.pop(name, None)
            else:
                stored[name] = entry
        self.info = dataclasses.replace(self.info, typed_search_attributes=sa.from_store(stored),
                                        _search_attributes_store=stored)
        self._commands.append(Command(EV.UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
                                      grouped({"search_attributes": changes})))

    @staticmethod
    def _untyped_search_attribute_changes(updates: Mapping[str, Any]) -> dict[str, Any]:
        """temporalio's deprecated ``{"Name": [values]}`` form: an empty list unsets, a value
        list is typed by its values (several values make a keyword list)."""
        warnings.warn("upsert_search_attributes with a dict is deprecated: pass "
                      "[SearchAttributeKey.for_keyword('Name').value_set(value), ...]",
                      DeprecationWarning, stacklevel=4)
        changes: dict[str, Any] = {}
        for name, values in updates.items():
            if not isinstance(name, str) or isinstance(values, str | bytes) or \
                    not isinstance(values, Sequence):
                raise TypeError(f"upsert_search_attributes: the dict form maps a name to a list "
                                f"of values, got {name!r}: {values!r}; write "
                                f"{{{name!r}: [{values!r}]}}")
            changes[name] = sa.to_store({name: values})[name] if values else None
        return changes

    def upsert_memo(self, updates: dict[str, Any]) -> None:
        self._check_active()
        changes: dict[str, Any] = {}
        for key, value in updates.items():
            if value is None:
                changes[key] = None
                self.memo_payloads.pop(key, None)
                continue
            try:
                payload = _payload_to_json(self.converter.payload_converter.to_payload(value))
            except TypeError as error:
                raise TypeError(f"upsert_memo({key!r}): {error}") from None
            changes[key] = self.memo_payloads[key] = payload
        self._commands.append(Command(EV.WORKFLOW_PROPERTIES_MODIFIED,
                                      grouped({"upserted_memo": changes})))

    def uuid4(self) -> uuid.UUID:
        return uuid.UUID(int=self.random.getrandbits(128), version=4)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.now_seconds, UTC)

    def continue_as_new(self, input: ContinueAsNewInput) -> ContinueAsNewError:
        self._check_active()
        return ContinueAsNewError(input)


_NO_PATCHES: frozenset[str] = frozenset()


def _placeholder_info(workflow_id: str, run_id: str, workflow_type: str) -> Info:
    return Info(workflow_id=workflow_id, run_id=run_id, workflow_type=workflow_type,
                task_queue="", namespace="default", attempt=1,
                start_time=datetime.fromtimestamp(0, UTC), run_id_first=run_id,
                continued_run_id=None, execution_timeout=None, run_timeout=None,
                task_timeout=None, retry_policy=None, cron_schedule=None, parent=None,
                priority=Priority.default)  # shared: this Info lives until the start applies


_CLOSE_STATUS_NAMES: dict[str, str] = {
    EV.WORKFLOW_EXECUTION_COMPLETED: "completed",
    EV.WORKFLOW_EXECUTION_FAILED: "failed",
    EV.WORKFLOW_EXECUTION_CANCELED: "canceled",
    EV.WORKFLOW_EXECUTION_CONTINUED_AS_NEW: "continued_as_new",
}

_APPLY: dict[str, Callable[[WorkflowInstance, HistoryEvent], None]] = {
    EV.WORKFLOW_EXECUTION_STARTED: WorkflowInstance._apply_started,
    EV.ACTIVITY_TASK_COMPLETED: WorkflowInstance._apply_activity_resolved,
    EV.ACTIVITY_TASK_FAILED: WorkflowInstance._apply_activity_resolved,
    EV.ACTIVITY_TASK_TIMED_OUT: WorkflowInstance._apply_activity_resolved,
    EV.ACTIVITY_TASK_CANCELED: WorkflowInstance._apply_activity_resolved,
    EV.TIMER_FIRED: WorkflowInstance._apply_timer_fired,
    EV.WORKFLOW_EXECUTION_SIGNALED: messaging.apply_signaled,
    EV.WORKFLOW_EXECUTION_CANCEL_REQUESTED: WorkflowInstance._apply_cancel_requested,
    EV.CHILD_WORKFLOW_EXECUTION_STARTED: children.apply_child_started,
    EV.START_CHILD_WORKFLOW_EXECUTION_FAILED: children.apply_child_start_failed,
    EV.CHILD_WORKFLOW_EXECUTION_COMPLETED: children.apply_child_closed,
    EV.CHILD_WORKFLOW_EXECUTION_FAILED: children.apply_child_closed,
    EV.CHILD_WORKFLOW_EXECUTION_CANCELED: children.apply_child_closed,
    EV.CHILD_WORKFLOW_EXECUTION_TIMED_OUT: children.apply_child_closed,
    EV.CHILD_WORKFLOW_EXECUTION_TERMINATED: children.apply_child_closed,
    EV.EXTERNAL_WORKFLOW_EXECUTION_SIGNALED: children.apply_external_result,
    EV.SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED: children.apply_external_result,
    EV.EXTERNAL_WORKFLOW_EXECUTION_CANCEL_REQUESTED:
        children.apply_external_result,
    EV.REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_FAILED:
        children.apply_external_result,
    EV.WORKFLOW_EXECUTION_UPDATE_ACCEPTED: messaging.apply_update_accepted,
}


def _priority(key: int | None) -> Priority:
    # The shared default (frozen) when the run has no priority of its own: one object fewer
    # per cached run.
    return Priority.default if key is None else Priority(priority_key=key)
