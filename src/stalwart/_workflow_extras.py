"""The rest of ``temporalio.workflow``'s surface: option dicts, type aliases, deterministic
helpers (``as_completed``, ``new_random``, ``uuid7``), handler lookup and policy, and details.

Kept apart from ``workflow.py`` so the core API stays readable; ``workflow`` re-exports all of
it under temporalio's names.
"""

from __future__ import annotations

import asyncio
import inspect
import random as _random
import uuid as _uuid
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import IntEnum
from typing import Any, ParamSpec, TypedDict, TypeVar

from . import exceptions as _exc
from ._metric_meter import MetricMeter
from ._runtime import api as _api
from ._runtime.definitions import DYNAMIC_CONFIG_ATTR
from ._runtime.info import RootInfo
from ._runtime.messaging import UnfinishedSignalHandlersWarning, UnfinishedUpdateHandlersWarning
from .common import RetryPolicy
from .converter import _payload_from_json
from .exceptions import ReadOnlyContextError

__all__ = [
    "ActivityConfig",
    "AnyType",
    "CallableAsyncNoParam",
    "CallableAsyncSingleParam",
    "CallableAsyncType",
    "CallableSyncNoParam",
    "CallableSyncOrAsyncReturnNoneType",
    "CallableSyncOrAsyncType",
    "CallableSyncSingleParam",
    "ChildWorkflowConfig",
    "DynamicWorkflowConfig",
    "HandlerUnfinishedPolicy",
    "LocalActivityConfig",
    "MethodAsyncNoParam",
    "MethodAsyncSingleParam",
    "MethodSyncNoParam",
    "MethodSyncOrAsyncNoParam",
    "MethodSyncOrAsyncSingleParam",
    "MethodSyncSingleParam",
    "MultiParamSpec",
    "ParamType",
    "ProtocolReturnType",
    "ReadOnlyContextError",
    "ReturnType",
    "RootInfo",
    "SelfType",
    "UnfinishedSignalHandlersWarning",
    "UnfinishedUpdateHandlersWarning",
    "as_completed",
    "cancellation_reason",
    "dynamic_config",
    "get_current_details",
    "get_dynamic_query_handler",
    "get_dynamic_signal_handler",
    "get_dynamic_update_handler",
    "get_last_completion_result",
    "get_last_failure",
    "has_last_completion_result",
    "instance",
    "is_failure_exception",
    "metric_meter",
    "new_random",
    "random_seed",
    "register_random_seed_callback",
    "set_current_details",
    "uuid7",
]

# temporalio's type variables and callable aliases, for annotations written against it.
AnyType = TypeVar("AnyType")
ClassType = TypeVar("ClassType", bound=type)
SelfType = TypeVar("SelfType")
ParamType = TypeVar("ParamType")
ReturnType = TypeVar("ReturnType", covariant=True)
ProtocolReturnType = TypeVar("ProtocolReturnType", covariant=True)
MultiParamSpec = ParamSpec("MultiParamSpec")
CallableType = TypeVar("CallableType", bound=Callable[..., Any])
CallableAsyncType = TypeVar("CallableAsyncType", bound=Callable[..., Awaitable[Any]])
CallableSyncOrAsyncType = TypeVar("CallableSyncOrAsyncType", bound=Callable[..., Any])
CallableSyncOrAsyncReturnNoneType = TypeVar("CallableSyncOrAsyncReturnNoneType",
                                            bound=Callable[..., Any])
CallableAsyncNoParam = Callable[[], Awaitable[Any]]
CallableSyncNoParam = Callable[[], Any]
CallableAsyncSingleParam = Callable[[Any], Awaitable[Any]]
CallableSyncSingleParam = Callable[[Any], Any]
MethodAsyncNoParam = Callable[[Any], Awaitable[Any]]
MethodSyncNoParam = Callable[[Any], Any]
MethodSyncOrAsyncNoParam = Callable[[Any], Any]
MethodAsyncSingleParam = Callable[[Any, Any], Awaitable[Any]]
MethodSyncSingleParam = Callable[[Any, Any], Any]
MethodSyncOrAsyncSingleParam = Callable[[Any, Any], Any]


class HandlerUnfinishedPolicy(IntEnum):
    """What to do when the workflow finishes while this signal or update handler still runs."""

    WARN_AND_ABANDON = 1
    ABANDON = 2


class ActivityConfig(TypedDict, total=False):
    """``execute_activity``'s options as a dict: ``execute_activity(fn, **config)``."""

    task_queue: str | None
    schedule_to_close_timeout: timedelta | None
    schedule_to_start_timeout: timedelta | None
    start_to_close_timeout: timedelta | None
    heartbeat_timeout: timedelta | None
    retry_policy: RetryPolicy | None
    cancellation_type: Any
    activity_id: str | None
    versioning_intent: Any
    summary: str | None
    priority: Any
    event_groups: Sequence[Any] | None


class LocalActivityConfig(TypedDict, total=False):
    """``execute_local_activity``'s options as a dict."""

    schedule_to_close_timeout: timedelta | None
    schedule_to_start_timeout: timedelta | None
    start_to_close_timeout: timedelta | None
    retry_policy: RetryPolicy | None
    local_retry_threshold: timedelta | None
    cancellation_type: Any
    activity_id: str | None
    summary: str | None
    event_groups: Sequence[Any] | None


class ChildWorkflowConfig(TypedDict, total=False):
    """``execute_child_workflow``'s options as a dict."""

    id: str
    task_queue: str | None
    cancellation_type: Any
    parent_close_policy: Any
    execution_timeout: timedelta | None
    run_timeout: timedelta | None
    task_timeout: timedelta | None
    id_reuse_policy: Any
    retry_policy: RetryPolicy | None
    cron_schedule: str
    memo: Any
    search_attributes: Any
    versioning_intent: Any
    static_summary: str | None
    static_details: str | None
    priority: Any
    event_groups: Sequence[Any] | None


@dataclass(frozen=True)
class DynamicWorkflowConfig:
    """What a dynamic workflow's :func:`dynamic_config` method returns.

    Attributes:
        failure_exception_types: Exception types that fail the workflow (or update) instead
            of failing the workflow task; replace the ``@workflow.defn`` ones when not None
            (the worker's still apply).
        versioning_behavior: Accepted for temporalio's shape; Stalwart has no worker
            versioning.
    """

    failure_exception_types: Sequence[type[BaseException]] | None = None
    versioning_behavior: Any = None


def dynamic_config(fn: Callable[[Any], DynamicWorkflowConfig]
                   ) -> Callable[[Any], DynamicWorkflowConfig]:
    """Mark the method of a dynamic workflow (``@workflow.defn(dynamic=True)``) that tells how
    this run behaves, from its type name or other ``workflow.info()``. Called after
    ``__init__`` and before ``run``; it is read-only (it cannot schedule anything).

    Raises:
        ValueError: the method is async or takes parameters besides ``self``.
    """
    if inspect.iscoroutinefunction(fn):
        raise ValueError("Workflow dynamic_config method must be synchronous")
    if len(inspect.signature(fn).parameters) != 1:
        raise ValueError("Workflow dynamic_config method must only take self parameter")
    setattr(fn, DYNAMIC_CONFIG_ATTR, True)
    return fn


def as_completed(fs: Iterable[Awaitable[AnyType]], *, timeout: float | None = None
                 ) -> Iterator[Awaitable[AnyType]]:
    """Like ``asyncio.as_completed``, deterministically: awaitables that finish in the same
    activation come out in the order they were given (asyncio's order depends on set
    iteration, which can differ on replay)."""
    instance = _api.current()
    pending: list[asyncio.Future[AnyType]] = []
    for awaitable in fs:
        future = asyncio.ensure_future(awaitable, loop=instance.loop)
        if future not in pending:
            pending.append(future)
    finished: deque[asyncio.Future[AnyType]] = deque()
    deadline = None if timeout is None else instance.now_seconds + timeout

    async def next_done() -> AnyType:
        if not finished:
            remaining = None if deadline is None else max(0.0, deadline - instance.now_seconds)
            done, _ = await asyncio.wait(pending, timeout=remaining,
                                         return_when=asyncio.FIRST_COMPLETED)
            if not done:
                raise TimeoutError("workflow.as_completed timed out")
            for future in [f for f in pending if f in done]:
                pending.remove(future)
                finished.append(future)
        return await finished.popleft()

    for _ in range(len(pending)):
        yield next_done()


def new_random(name: str | None = None) -> _random.Random:
    """A new deterministic generator, seeded with the run's seed (and ``name``, when given,
    so differently named generators draw different sequences), reseeded whenever the run's
    seed changes (at a reset point), as temporalio's."""

    def seed_for(seed: int) -> int | str:
        return seed if name is None else f"{seed}:{name}"

    generator = _random.Random(seed_for(random_seed()))
    register_random_seed_callback(lambda seed: generator.seed(seed_for(seed)))
    return generator


def random_seed() -> int:
    """The seed of this run's deterministic randomness."""
    return int(_api.current()._seed)


def register_random_seed_callback(callback: Callable[[int], None]) -> None:
    """Call ``callback(seed)`` whenever the run's random seed changes: as on Temporal, when
    the run is one a reset made, at the reset point (its seed then derives from its own run
    id)."""
    instance = _api.current()
    callbacks: list[Callable[[int], None]] = instance.__dict__.setdefault(
        "_seed_callbacks", [])
    callbacks.append(callback)


def uuid7() -> _uuid.UUID:
    """A deterministic UUIDv7: workflow time in milliseconds, then bits from
    :func:`workflow.random`."""
    instance = _api.current()
    millis = int(instance.now_seconds * 1000) & ((1 << 48) - 1)
    rand = instance.random.getrandbits(74)
    value = (millis << 80) | (0x7 << 76) | ((rand >> 62) << 64) | (0b10 << 62) | \
        (rand & ((1 << 62) - 1))
    return _uuid.UUID(int=value)


def instance() -> Any:
    """The running workflow object (the instance of the ``@workflow.defn`` class)."""
    return _api.current().workflow_object


def get_current_details() -> str:
    """The details set with :func:`set_current_details` ("" if none)."""
    return str(_api.current().__dict__.get("_current_details", ""))


def set_current_details(description: str) -> None:
    """Describe what the workflow is doing now (for people looking at it)."""
    if not isinstance(description, str):
        raise TypeError(f"set_current_details takes a str, got {description!r}")
    _api.current().__dict__["_current_details"] = description


def cancellation_reason() -> str | None:
    """Why cancellation was requested ("" when no reason was given); None until it is."""
    return _api.current().__dict__.get("_cancellation_reason")


def get_dynamic_signal_handler() -> Callable[..., Any] | None:
    definition = _api.current().signal_handlers.get(None)
    return definition.fn if definition is not None else None


def get_dynamic_query_handler() -> Callable[..., Any] | None:
    definition = _api.current().query_handlers.get(None)
    return definition.fn if definition is not None else None


def get_dynamic_update_handler() -> Callable[..., Any] | None:
    definition = _api.current().update_handlers.get(None)
    return definition.fn if definition is not None else None


def is_failure_exception(err: BaseException) -> bool:
    """Whether ``err`` raised from the workflow fails it (rather than failing the workflow
    task, which is retried): Temporal failure errors do, as do the worker's and workflow's
    ``workflow_failure_exception_types``."""
    if isinstance(err, _exc.FailureError):
        return True
    types: Sequence[type[BaseException]] = ()
    if _api.in_workflow():
        types = tuple(getattr(_api.current().definition, "failure_exception_types", ()) or ())
    return isinstance(err, tuple(types)) if types else False


def metric_meter() -> MetricMeter:
    """A meter for this workflow's own metrics (on ``stalwart.metrics``' ``/metrics`` page),
    labelled with namespace, task queue and workflow type; it records nothing while the
    workflow replays, so each metric counts what happened once."""
    instance = _api.current()
    info = instance.info
    return MetricMeter({"namespace": info.namespace, "task_queue": info.task_queue,
                        "workflow_type": info.workflow_type},
                       enabled=lambda: not instance.is_replaying)


def has_last_completion_result() -> bool:
    """Whether an earlier run of this cron workflow completed with a result (a failed run in
    between keeps the last completed one's)."""
    return bool(_api.current().started_attributes.get("last_completion_result"))


def get_last_completion_result(type_hint: type | None = None) -> Any | None:
    """The result of the last run of this cron workflow that completed, or None."""
    instance = _api.current()
    payloads = instance.started_attributes.get("last_completion_result")
    if not payloads:
        return None
    return instance.converter.payload_converter.from_payload(
        _payload_from_json(payloads[0]), type_hint)


def get_last_failure() -> BaseException | None:
    """The failure of the previous run of this cron workflow if it failed, else None."""
    instance = _api.current()
    failure = instance.started_attributes.get("continued_failure")
    if failure is None:
        return None
    converter = instance.converter
    return converter.failure_converter.from_failure(failure, converter.payload_converter)


def check_cron_schedule(name: str, cron_schedule: str | None) -> str:
    """A child's ``cron_schedule`` ("" for none); a bad one is refused in the workflow code
    that asked for it, naming the field, rather than when the task commits."""
    if not cron_schedule:
        return ""
    from ._schedules.spec import SpecError, cron_workflow_next  # loaded only when used

    try:
        cron_workflow_next(cron_schedule, _api.current().now_seconds)
    except SpecError as error:
        raise ValueError(f"start_child_workflow({name!r}, cron_schedule={cron_schedule!r}): "
                         f"{error}") from None
    return cron_schedule
