"""Workflow code: definitions and the deterministic API (mirrors ``temporalio.workflow``).

Every function here delegates to the workflow instance whose activation is running; outside
workflow code they raise a clear error.
"""

from __future__ import annotations

import asyncio
import random as _random
import uuid as _uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from enum import IntEnum
from typing import Any, Protocol, TypeVar, overload

from ._runtime import api as _api
from ._runtime import children as _children
from ._runtime import messaging as _messaging
from ._runtime.activities import ActivityHandle, activity_name
from ._runtime.children import ChildWorkflowHandle, ExternalWorkflowHandle
from ._runtime.definitions import (
    define_workflow,
    mark_init,
    mark_query,
    mark_run,
    mark_signal,
    mark_update,
)
from ._runtime.definitions import get_workflow_definition as _get_workflow_definition
from ._runtime.handler_registration import (
    get_query_handler,
    get_signal_handler,
    get_update_handler,
    set_dynamic_query_handler,
    set_dynamic_signal_handler,
    set_dynamic_update_handler,
    set_query_handler,
    set_signal_handler,
    set_update_handler,
)
from ._runtime.info import Info, ParentInfo
from ._runtime.instance import ContinueAsNewError
from ._runtime.interceptors import StartActivityInput as _StartActivityInput
from ._runtime.interceptors import StartChildWorkflowInput as _StartChildWorkflowInput
from ._runtime.messaging import UpdateInfo
from ._workflow_continue import _NO_ARG, _merge_args, continue_as_new
from ._workflow_event_groups import EventGroup, create_event_group
from ._workflow_event_groups import attached as _attached_event_groups
from ._workflow_extras import (
    ActivityConfig,
    AnyType,
    CallableAsyncNoParam,
    CallableAsyncSingleParam,
    CallableAsyncType,
    CallableSyncNoParam,
    CallableSyncOrAsyncReturnNoneType,
    CallableSyncOrAsyncType,
    CallableSyncSingleParam,
    ChildWorkflowConfig,
    DynamicWorkflowConfig,
    HandlerUnfinishedPolicy,
    LocalActivityConfig,
    MethodAsyncNoParam,
    MethodAsyncSingleParam,
    MethodSyncNoParam,
    MethodSyncOrAsyncNoParam,
    MethodSyncOrAsyncSingleParam,
    MethodSyncSingleParam,
    MultiParamSpec,
    ParamType,
    ProtocolReturnType,
    ReadOnlyContextError,
    ReturnType,
    RootInfo,
    SelfType,
    UnfinishedSignalHandlersWarning,
    UnfinishedUpdateHandlersWarning,
    as_completed,
    cancellation_reason,
    dynamic_config,
    get_current_details,
    get_dynamic_query_handler,
    get_dynamic_signal_handler,
    get_dynamic_update_handler,
    get_last_completion_result,
    get_last_failure,
    has_last_completion_result,
    instance,
    is_failure_exception,
    metric_meter,
    new_random,
    random_seed,
    register_random_seed_callback,
    set_current_details,
    uuid7,
)
from ._workflow_extras import check_cron_schedule as _check_cron_schedule
from ._workflow_logging import LoggerAdapter, logger, unsafe
from .common import RetryPolicy
from .converter import _payload_from_json
from .exceptions import NondeterminismError

__all__ = [
    "ActivityCancellationType",
    "ActivityConfig",
    "ActivityHandle",
    "AnyType",
    "CallableAsyncNoParam",
    "CallableAsyncSingleParam",
    "CallableAsyncType",
    "CallableSyncNoParam",
    "CallableSyncOrAsyncReturnNoneType",
    "CallableSyncOrAsyncType",
    "CallableSyncSingleParam",
    "CallableType",
    "ChildWorkflowCancellationType",
    "ChildWorkflowConfig",
    "ChildWorkflowHandle",
    "ClassType",
    "ContinueAsNewError",
    "DynamicWorkflowConfig",
    "EventGroup",
    "ExternalWorkflowHandle",
    "HandlerUnfinishedPolicy",
    "Info",
    "LocalActivityConfig",
    "LoggerAdapter",
    "MethodAsyncNoParam",
    "MethodAsyncSingleParam",
    "MethodSyncNoParam",
    "MethodSyncOrAsyncNoParam",
    "MethodSyncOrAsyncSingleParam",
    "MethodSyncSingleParam",
    "MultiParamSpec",
    "NondeterminismError",
    "ParamType",
    "ParentClosePolicy",
    "ParentInfo",
    "ProtocolReturnType",
    "ReadOnlyContextError",
    "ReturnType",
    "RootInfo",
    "SelfType",
    "UnfinishedSignalHandlersWarning",
    "UnfinishedUpdateHandlersWarning",
    "UpdateInfo",
    "UpdateMethod",
    "UpdateMethodMultiParam",
    "all_handlers_finished",
    "as_completed",
    "cancellation_reason",
    "continue_as_new",
    "create_event_group",
    "current_update_info",
    "defn",
    "deprecate_patch",
    "dynamic_config",
    "execute_activity",
    "execute_activity_class",
    "execute_activity_method",
    "execute_child_workflow",
    "execute_local_activity",
    "execute_local_activity_class",
    "execute_local_activity_method",
    "get_current_details",
    "get_dynamic_query_handler",
    "get_dynamic_signal_handler",
    "get_dynamic_update_handler",
    "get_external_workflow_handle",
    "get_external_workflow_handle_for",
    "get_last_completion_result",
    "get_last_failure",
    "get_query_handler",
    "get_signal_handler",
    "get_update_handler",
    "has_last_completion_result",
    "in_workflow",
    "info",
    "init",
    "instance",
    "is_failure_exception",
    "logger",
    "memo",
    "memo_value",
    "metric_meter",
    "new_random",
    "now",
    "patched",
    "payload_converter",
    "query",
    "random",
    "random_seed",
    "register_random_seed_callback",
    "run",
    "set_current_details",
    "set_dynamic_query_handler",
    "set_dynamic_signal_handler",
    "set_dynamic_update_handler",
    "set_query_handler",
    "set_signal_handler",
    "set_update_handler",
    "signal",
    "sleep",
    "start_activity",
    "start_activity_class",
    "start_activity_method",
    "start_child_workflow",
    "start_local_activity",
    "start_local_activity_class",
    "start_local_activity_method",
    "time",
    "time_ns",
    "unsafe",
    "update",
    "upsert_memo",
    "upsert_search_attributes",
    "uuid4",
    "uuid7",
    "wait",
    "wait_condition",
]

ClassType = TypeVar("ClassType", bound=type)
CallableType = TypeVar("CallableType", bound=Callable[..., Any])


class ActivityCancellationType(IntEnum):
    """What cancelling an activity handle waits for (Temporal's semantics)."""

    TRY_CANCEL = 0
    WAIT_CANCELLATION_COMPLETED = 1
    ABANDON = 2


# -- definitions ---------------------------------------------------------------------------

@overload
def defn(cls: ClassType) -> ClassType: ...


@overload
def defn(*, name: str | None = None, sandboxed: bool = True, dynamic: bool = False,
         failure_exception_types: Sequence[type[BaseException]] = ()
         ) -> Callable[[ClassType], ClassType]: ...


def defn(cls: Any = None, *, name: str | None = None, sandboxed: bool = True,
         dynamic: bool = False,
         failure_exception_types: Sequence[type[BaseException]] = ()) -> Any:
    """Mark a class as a workflow; exactly one ``async`` method must carry ``@workflow.run``.

    Args:
        name: Workflow type name; defaults to the class name.
        sandboxed: Accepted for compatibility; Stalwart guards determinism without a sandbox.
        dynamic: Run every workflow type no other registered workflow claims; ``run``
            receives ``args: Sequence[RawValue]`` and ``workflow.info().workflow_type``.
        failure_exception_types: Extra exception types that fail the workflow instead of
            failing (and retrying) the workflow task.
    """
    def decorate(target: ClassType) -> ClassType:
        define_workflow(target, name, failure_exception_types, dynamic)
        return target

    return decorate(cls) if cls is not None else decorate


def init(fn: CallableType) -> CallableType:
    """Mark ``__init__`` as taking the workflow's arguments (the same as ``run``'s)."""
    mark_init(fn)
    return fn


def run(fn: CallableType) -> CallableType:
    """Mark the workflow's entry method (``async def``)."""
    mark_run(fn)
    return fn


@overload
def signal(fn: CallableType) -> CallableType: ...


@overload
def signal(*, name: str | None = None, dynamic: bool = False,
           unfinished_policy: HandlerUnfinishedPolicy = HandlerUnfinishedPolicy.WARN_AND_ABANDON,
           description: str | None = None) -> Callable[[CallableType], CallableType]: ...


def signal(fn: Any = None, *, name: str | None = None, dynamic: bool = False,
           unfinished_policy: HandlerUnfinishedPolicy = HandlerUnfinishedPolicy.WARN_AND_ABANDON,
           description: str | None = None) -> Any:
    """Mark a method as a signal handler (sync or async); arguments decode by type hints.
    ``unfinished_policy`` says whether the workflow finishing while it runs warns."""
    def decorate(target: CallableType) -> CallableType:
        mark_signal(target, name, dynamic, int(unfinished_policy))
        return target

    return decorate(fn) if fn is not None else decorate


@overload
def query(fn: CallableType) -> CallableType: ...


@overload
def query(*, name: str | None = None, dynamic: bool = False, description: str | None = None
          ) -> Callable[[CallableType], CallableType]: ...


def query(fn: Any = None, *, name: str | None = None, dynamic: bool = False,
          description: str | None = None) -> Any:
    """Mark a (non-async) method as a read-only query handler."""
    def decorate(target: CallableType) -> CallableType:
        mark_query(target, name, dynamic)
        return target

    return decorate(fn) if fn is not None else decorate


class UpdateMethod(Protocol):
    """An ``@workflow.update`` method: callable, with ``.validator`` to attach a validator."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any: ...

    def validator(self, fn: Callable[..., None]) -> Callable[..., None]: ...


UpdateMethodMultiParam = UpdateMethod
"""temporalio's name for the type of an ``@workflow.update`` method."""


@overload
def update(fn: Callable[..., Any]) -> UpdateMethod: ...


@overload
def update(*, name: str | None = None, dynamic: bool = False,
           unfinished_policy: HandlerUnfinishedPolicy = HandlerUnfinishedPolicy.WARN_AND_ABANDON,
           description: str | None = None) -> Callable[[Callable[..., Any]], UpdateMethod]: ...


def update(fn: Any = None, *, name: str | None = None, dynamic: bool = False,
           unfinished_policy: HandlerUnfinishedPolicy = HandlerUnfinishedPolicy.WARN_AND_ABANDON,
           description: str | None = None) -> Any:
    """Mark a method as an update handler; ``@<method>.validator`` may reject requests
    (a rejected update leaves no trace in history). ``unfinished_policy`` says whether the
    workflow finishing while it runs warns."""
    def decorate(target: Callable[..., Any]) -> UpdateMethod:
        mark_update(target, name, dynamic, int(unfinished_policy))
        return target  # type: ignore[return-value]  # mark_update attached .validator

    return decorate(fn) if fn is not None else decorate


class ParentClosePolicy(IntEnum):
    """What happens to a child when its parent closes (Temporal's values)."""

    UNSPECIFIED = 0
    TERMINATE = 1
    ABANDON = 2
    REQUEST_CANCEL = 3


class ChildWorkflowCancellationType(IntEnum):
    ABANDON = 0
    TRY_CANCEL = 1
    WAIT_CANCELLATION_COMPLETED = 2
    WAIT_CANCELLATION_REQUESTED = 3


# -- the deterministic API --------------------------------------------------------------------

def in_workflow() -> bool:
    """Whether the caller is running inside workflow code."""
    return _api.in_workflow()


def info() -> Info:
    """Facts about the running workflow: ids, type, task queue, attempt, history length."""
    return _api.current().info


def now() -> datetime:
    """The workflow's current time (UTC): the same value on every replay."""
    return _api.current().now()


def time() -> float:
    """Workflow time in seconds since the epoch (deterministic ``time.time()``)."""
    return _api.current().now_seconds


def time_ns() -> int:
    """Workflow time in nanoseconds since the epoch."""
    return int(_api.current().now_seconds * 1e9)


def random() -> _random.Random:
    """A random generator seeded per run, so every replay draws the same numbers."""
    return _api.current().random


def uuid4() -> _uuid.UUID:
    """A deterministic UUID4 drawn from :func:`random`."""
    return _api.current().uuid4()


async def sleep(duration: float | timedelta, *, summary: str | None = None,
                event_groups: Sequence[EventGroup] | None = None) -> None:
    """Sleep durably: a recorded timer that survives restarts and holds no worker memory."""
    seconds = duration.total_seconds() if isinstance(duration, timedelta) else float(duration)
    with _attached_event_groups(event_groups), _api.timer_summary(summary):  # to the timer
        await asyncio.sleep(seconds)


async def wait_condition(fn: Callable[[], bool], *, timeout: float | timedelta | None = None,
                         timeout_summary: str | None = None,
                         event_groups: Sequence[EventGroup] | None = None) -> None:
    """Wait until ``fn()`` is true; re-checked after every change of workflow state.

    Raises:
        asyncio.TimeoutError: ``timeout`` elapsed first (a durable timer).
    """
    with _attached_event_groups(event_groups):  # to the timeout's timer
        future = _api.current().wait_condition(fn)
        if timeout is None:
            await future
            return
        seconds = timeout.total_seconds() if isinstance(timeout, timedelta) else float(timeout)
        with _api.timer_summary(timeout_summary):
            await asyncio.wait_for(future, seconds)


def patched(id: str, *, event_groups: Sequence[EventGroup] | None = None) -> bool:
    """True for runs that reach this point with the new code; False when replaying old runs."""
    with _attached_event_groups(event_groups):  # to its marker
        return _api.current().patched(id, deprecated=False)


def deprecate_patch(id: str, *, event_groups: Sequence[EventGroup] | None = None) -> None:
    """Mark a patch whose old branch is gone once no run that lacks it remains."""
    with _attached_event_groups(event_groups):
        _api.current().patched(id, deprecated=True)


def start_activity(
    activity: Any, arg: Any = _NO_ARG, *more_args: Any, args: Sequence[Any] = (),
    task_queue: str | None = None, result_type: type | None = None,
    schedule_to_close_timeout: timedelta | None = None,
    schedule_to_start_timeout: timedelta | None = None,
    start_to_close_timeout: timedelta | None = None, heartbeat_timeout: timedelta | None = None,
    retry_policy: RetryPolicy | None = None,
    cancellation_type: ActivityCancellationType = ActivityCancellationType.TRY_CANCEL,
    activity_id: str | None = None, versioning_intent: Any = None, summary: str | None = None,
    priority: Any = None, event_groups: Sequence[EventGroup] | None = None,
) -> ActivityHandle:
    """Schedule an activity (by function or by name) and return an awaitable handle.

    At least one of ``start_to_close_timeout`` and ``schedule_to_close_timeout`` is required
    (the worker's ``default_activity_timeout`` fills in when set). Extra positional arguments
    beyond Temporal's single ``arg`` are accepted and passed on.
    """
    return _start_activity(
        activity, _merge_args(arg, args, more_args), task_queue=task_queue,
        result_type=result_type, schedule_to_close_timeout=schedule_to_close_timeout,
        schedule_to_start_timeout=schedule_to_start_timeout,
        start_to_close_timeout=start_to_close_timeout, heartbeat_timeout=heartbeat_timeout,
        retry_policy=retry_policy, cancellation_type=int(cancellation_type),
        activity_id=activity_id, summary=summary, local=False, priority=priority,
        event_groups=event_groups)


def _start_activity(activity: Any, args: list[Any], *, local: bool, **options: Any
                    ) -> ActivityHandle:
    instance = _api.current()
    if options["start_to_close_timeout"] is None and options["schedule_to_close_timeout"] is None:
        options["start_to_close_timeout"] = instance.default_activity_timeout
    name, definition = activity_name(activity)
    if options["result_type"] is None and definition is not None:
        options["result_type"] = definition.return_type_hint
    start_input = _StartActivityInput(
        activity=name, args=args, headers={}, local=local,
        disable_eager_execution=not local and instance.disable_eager_activities,
        arg_types=list(definition.arg_type_hints) if definition is not None else None,
        **options)
    if local:
        return instance.outbound.start_local_activity(start_input)
    return instance.outbound.start_activity(start_input)


async def execute_activity(
    activity: Any, arg: Any = _NO_ARG, *more_args: Any, args: Sequence[Any] = (),
    task_queue: str | None = None, result_type: type | None = None,
    schedule_to_close_timeout: timedelta | None = None,
    schedule_to_start_timeout: timedelta | None = None,
    start_to_close_timeout: timedelta | None = None, heartbeat_timeout: timedelta | None = None,
    retry_policy: RetryPolicy | None = None,
    cancellation_type: ActivityCancellationType = ActivityCancellationType.TRY_CANCEL,
    activity_id: str | None = None, versioning_intent: Any = None, summary: str | None = None,
    priority: Any = None, event_groups: Sequence[EventGroup] | None = None,
) -> Any:
    """Schedule an activity and wait for its result (see :func:`start_activity`).

    Raises:
        ActivityError: the activity failed for good; ``__cause__`` says why.
    """
    return await start_activity(
        activity, arg, *more_args, args=args, task_queue=task_queue, result_type=result_type,
        schedule_to_close_timeout=schedule_to_close_timeout,
        schedule_to_start_timeout=schedule_to_start_timeout,
        start_to_close_timeout=start_to_close_timeout, heartbeat_timeout=heartbeat_timeout,
        retry_policy=retry_policy, cancellation_type=cancellation_type, activity_id=activity_id,
        summary=summary, priority=priority, event_groups=event_groups,
    )


start_activity_method = start_activity
execute_activity_method = execute_activity


def start_local_activity(
    activity: Any, arg: Any = _NO_ARG, *more_args: Any, args: Sequence[Any] = (),
    result_type: type | None = None, schedule_to_close_timeout: timedelta | None = None,
    schedule_to_start_timeout: timedelta | None = None,
    start_to_close_timeout: timedelta | None = None, retry_policy: RetryPolicy | None = None,
    local_retry_threshold: timedelta | None = None,
    cancellation_type: ActivityCancellationType = ActivityCancellationType.TRY_CANCEL,
    activity_id: str | None = None, summary: str | None = None,
    event_groups: Sequence[EventGroup] | None = None, **_: Any,
) -> ActivityHandle:
    """Schedule an activity to run on the worker running this workflow.

    Stalwart records local activities like ordinary ones (``ActivityTaskScheduled`` with
    ``local``) and hands them to the workflow's own worker in the same commit, so they cost
    what an ordinary activity costs on an idle worker: one transaction per step.
    ``activity.info().is_local`` is true inside them.
    """
    return _start_activity(
        activity, _merge_args(arg, args, more_args), task_queue=None, result_type=result_type,
        schedule_to_close_timeout=schedule_to_close_timeout,
        schedule_to_start_timeout=schedule_to_start_timeout,
        start_to_close_timeout=start_to_close_timeout, heartbeat_timeout=None,
        retry_policy=retry_policy, cancellation_type=int(cancellation_type),
        activity_id=activity_id, summary=summary, local=True, event_groups=event_groups,
        local_retry_threshold=local_retry_threshold)


async def execute_local_activity(activity: Any, arg: Any = _NO_ARG, *more_args: Any,
                                 **kwargs: Any) -> Any:
    """Run a local activity and wait for its result (see :func:`start_local_activity`)."""
    return await start_local_activity(activity, arg, *more_args, **kwargs)


start_local_activity_method = start_local_activity
execute_local_activity_method = execute_local_activity
# An ``@activity.defn`` callable class is scheduled like a function (its name is the class's).
start_activity_class = start_activity
execute_activity_class = execute_activity
start_local_activity_class = start_local_activity
execute_local_activity_class = execute_local_activity


class _ReturnWhen:
    FIRST_COMPLETED = asyncio.FIRST_COMPLETED
    FIRST_EXCEPTION = asyncio.FIRST_EXCEPTION
    ALL_COMPLETED = asyncio.ALL_COMPLETED


async def wait(fs: Iterable[Any], *, timeout: float | timedelta | None = None,
               return_when: str = asyncio.ALL_COMPLETED) -> tuple[list[Any], list[Any]]:
    """``asyncio.wait`` with deterministic order: done and pending come back as lists in the
    order given (``asyncio.wait`` uses sets, whose order can differ between replays)."""
    futures = [asyncio.ensure_future(f) for f in fs]
    if not futures:
        raise ValueError("workflow.wait() needs at least one awaitable")
    seconds = timeout.total_seconds() if isinstance(timeout, timedelta) else timeout
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[None] = loop.create_future()
    timer = loop.call_later(seconds, _resolve_waiter, waiter) if seconds is not None else None

    def on_done(future: asyncio.Future[Any]) -> None:
        done_count = sum(1 for f in futures if f.done())
        if (return_when == asyncio.FIRST_COMPLETED
                or (return_when == asyncio.FIRST_EXCEPTION and not future.cancelled()
                    and future.exception() is not None)
                or done_count == len(futures)):
            _resolve_waiter(waiter)

    for future in futures:
        future.add_done_callback(on_done)
    try:
        if not all(f.done() for f in futures) and not (
                return_when != asyncio.ALL_COMPLETED and any(f.done() for f in futures)):
            await waiter
    finally:
        if timer is not None:
            timer.cancel()
        for future in futures:
            future.remove_done_callback(on_done)
    return [f for f in futures if f.done()], [f for f in futures if not f.done()]


def _resolve_waiter(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


def all_handlers_finished() -> bool:
    """True when no signal or update handler of this workflow is still running; await
    ``workflow.wait_condition(workflow.all_handlers_finished)`` before returning."""
    return _api.current().running_handlers == 0


def current_update_info() -> UpdateInfo | None:
    """The update whose handler is running, if any."""
    return _messaging.current_update_info()


def upsert_search_attributes(updates: Sequence[Any] | Mapping[str, Sequence[Any]], *,
                             event_groups: Sequence[EventGroup] | None = None) -> None:
    """Set or unset search attributes of this run (``key.value_set(v)`` /
    ``key.value_unset()``); recorded in history and indexed for list queries. The deprecated
    dict form ``{"Name": [value]}`` (an empty list unsets) works too, with a warning."""
    with _attached_event_groups(event_groups):
        _api.current().upsert_search_attributes(updates)


def memo() -> dict[str, Any]:
    """This run's memo, decoded without type hints."""
    instance = _api.current()
    pc = instance.converter.payload_converter
    return {key: pc.from_payload(_payload_from_json(value))
            for key, value in instance.memo_payloads.items()}


def memo_value(key: str, default: Any = KeyError, *, type_hint: type | None = None) -> Any:
    """One memo value, decoded by ``type_hint``; ``default`` (or KeyError) when absent."""
    instance = _api.current()
    if key not in instance.memo_payloads:
        if default is KeyError:
            raise KeyError(f"memo has no key {key!r}")
        return default
    return instance.converter.payload_converter.from_payload(
        _payload_from_json(instance.memo_payloads[key]), type_hint)


def upsert_memo(updates: dict[str, Any], *,
                event_groups: Sequence[EventGroup] | None = None) -> None:
    """Set memo keys (``None`` removes one); recorded in history."""
    with _attached_event_groups(event_groups):
        _api.current().upsert_memo(updates)


def payload_converter() -> Any:
    """The payload converter workflow code should use (e.g. to decode ``RawValue``)."""
    return _api.current().converter.payload_converter


async def start_child_workflow(
    workflow: Any, arg: Any = _NO_ARG, *, args: Sequence[Any] = (), id: str | None = None,
    task_queue: str | None = None, result_type: type | None = None,
    cancellation_type: ChildWorkflowCancellationType =
    ChildWorkflowCancellationType.WAIT_CANCELLATION_COMPLETED,
    parent_close_policy: ParentClosePolicy = ParentClosePolicy.TERMINATE,
    execution_timeout: timedelta | None = None, run_timeout: timedelta | None = None,
    task_timeout: timedelta | None = None,
    id_reuse_policy: Any = None, retry_policy: RetryPolicy | None = None,
    memo: Mapping[str, Any] | None = None, search_attributes: Any = None,
    static_summary: str | None = None, static_details: str | None = None,
    event_groups: Sequence[EventGroup] | None = None, **_: Any,
) -> ChildWorkflowHandle[Any, Any]:
    """Start a child workflow and return its handle once it has started.

    ``memo``, ``search_attributes``, ``static_summary`` and ``static_details`` are the
    child's; with ``retry_policy`` (``info().retry_policy`` in the child) a failed run of the
    child is retried, and the parent sees the outcome of the chain.

    Raises:
        WorkflowAlreadyStartedError: a workflow with the child's id is already running.
    """
    arg_types = None
    if isinstance(workflow, str):
        name, hinted = workflow, None
    else:
        definition = _get_workflow_definition(workflow)
        if definition is None:
            raise TypeError(f"start_child_workflow({workflow!r}): not a @workflow.defn class "
                            "or @workflow.run method, nor a workflow type name")
        name, hinted = definition.name, definition.return_type_hint
        arg_types = list(definition.arg_type_hints)
    return await _api.current().outbound.start_child_workflow(_StartChildWorkflowInput(
        workflow=name, args=_merge_args(arg, args, ()), id=id,
        task_queue=task_queue, result_type=result_type or hinted,
        cancellation_type=int(cancellation_type),
        parent_close_policy=int(parent_close_policy) or 1,
        execution_timeout=execution_timeout, run_timeout=run_timeout, task_timeout=task_timeout,
        id_reuse_policy=int(id_reuse_policy or 1), headers={}, priority=_.get("priority"),
        cron_schedule=_check_cron_schedule(name, _.get("cron_schedule")),
        retry_policy=retry_policy, memo=memo, search_attributes=search_attributes,
        static_summary=static_summary, static_details=static_details,
        event_groups=event_groups, arg_types=arg_types))


async def execute_child_workflow(workflow: Any, arg: Any = _NO_ARG, *,
                                 args: Sequence[Any] = (), **kwargs: Any) -> Any:
    """Start a child workflow and wait for its result.

    Raises:
        ChildWorkflowError: the child failed; ``__cause__`` says why.
    """
    handle = await start_child_workflow(workflow, arg, args=args, **kwargs)
    return await handle.result()


def get_external_workflow_handle(workflow_id: str, *, run_id: str | None = None
                                 ) -> ExternalWorkflowHandle[Any]:
    """A handle to signal or cancel another workflow by id."""
    return _children.get_external_workflow_handle(_api.current(), workflow_id, run_id)


def get_external_workflow_handle_for(workflow: Any, workflow_id: str, *,
                                     run_id: str | None = None) -> ExternalWorkflowHandle[Any]:
    return get_external_workflow_handle(workflow_id, run_id=run_id)


# ``asyncio.sleep(timedelta(...))`` inside workflow code is a durable timer too; plain asyncio
# rejects a timedelta, so accept one (and only convert: every other call is unchanged).
_asyncio_sleep = asyncio.sleep


async def _sleep_accepting_timedelta(delay: Any, result: Any = None) -> Any:
    if isinstance(delay, timedelta):
        delay = delay.total_seconds()
    return await _asyncio_sleep(delay, result)


if getattr(asyncio.sleep, "__name__", "") != "_sleep_accepting_timedelta":
    asyncio.sleep = _sleep_accepting_timedelta
