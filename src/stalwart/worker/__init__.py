"""Workers run workflows and activities from a task queue (mirrors ``temporalio.worker``)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import inspect
import logging
import os
import types
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from types import TracebackType
from typing import Any, TypedDict

from .. import _plugin_worker as _plugins
from .._engine.activity_worker import ActivityWorker
from .._engine.clock import Clock
from .._engine.interceptors import (
    ActivityInboundInterceptor,
    ActivityOutboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)
from .._engine.liveness import HOST, HeartbeatThread, process_start_time
from .._engine.metrics import METRICS, backlog_sources
from .._engine.replayer import Replayer, WorkflowReplayResult, WorkflowReplayResults
from .._engine.shared_state import (
    SharedHeartbeatSender,
    SharedStateManager,
    check_process_activities,
)
from .._engine.slots import (
    ActivitySlotInfo,
    CustomSlotSupplier,
    LocalActivitySlotInfo,
    SlotDriver,
    SlotInfo,
    SlotMarkUsedContext,
    SlotPermit,
    SlotReleaseContext,
    SlotReserveContext,
    WorkflowSlotInfo,
)
from .._engine.sweeper import Sweeper
from .._engine.workflow_worker import WorkflowWorker
from .._model.definitions import ActivityDefinition, get_activity_definition
from .._plugin_worker import Plugin
from .._runtime import guard
from .._runtime.definitions import WorkflowDefinition, get_workflow_definition
from .._runtime.interceptors import (
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
    WorkflowInterceptorClassInput,
    WorkflowOutboundInterceptor,
)
from .._runtime.patches import PatchActivationInput
from .._schedules.scheduler import Scheduler
from .._store.base import WorkerRow
from .._worker_options import (
    FixedSizeSlotSupplier,
    PollerBehavior,
    PollerBehaviorAutoscaling,
    PollerBehaviorSimpleMaximum,
    ReplayerConfig,
    ResourceBasedSlotConfig,
    ResourceBasedSlotSupplier,
    ResourceBasedTunerConfig,
    UnsandboxedWorkflowRunner,
    WorkerTuner,
    WorkflowRunner,
)
from ..client import Client
from ..runtime import _use_runtime

__all__ = [
    "ActivityInboundInterceptor",
    "ActivityOutboundInterceptor",
    "ActivitySlotInfo",
    "ContinueAsNewInput",
    "CustomSlotSupplier",
    "ExecuteActivityInput",
    "ExecuteWorkflowInput",
    "FixedSizeSlotSupplier",
    "HandleQueryInput",
    "HandleSignalInput",
    "HandleUpdateInput",
    "Interceptor",
    "LocalActivitySlotInfo",
    "PatchActivationInput",
    "Plugin",
    "PollerBehavior",
    "PollerBehaviorAutoscaling",
    "PollerBehaviorSimpleMaximum",
    "Replayer",
    "ReplayerConfig",
    "ResourceBasedSlotConfig",
    "ResourceBasedSlotSupplier",
    "ResourceBasedTunerConfig",
    "SharedHeartbeatSender",
    "SharedStateManager",
    "SignalChildWorkflowInput",
    "SignalExternalWorkflowInput",
    "SlotInfo",
    "SlotMarkUsedContext",
    "SlotPermit",
    "SlotReleaseContext",
    "SlotReserveContext",
    "StartActivityInput",
    "StartChildWorkflowInput",
    "StartLocalActivityInput",
    "UnsandboxedWorkflowRunner",
    "Worker",
    "WorkerConfig",
    "WorkerTuner",
    "WorkflowInboundInterceptor",
    "WorkflowInterceptorClassInput",
    "WorkflowOutboundInterceptor",
    "WorkflowReplayResult",
    "WorkflowReplayResults",
    "WorkflowRunner",
    "WorkflowSlotInfo",
]

logger = logging.getLogger(__name__)

StartLocalActivityInput = StartActivityInput
"""The input of ``WorkflowOutboundInterceptor.start_local_activity``: Stalwart uses one input
type for both kinds of activity (``local`` is True here; ``task_queue`` and
``heartbeat_timeout`` do not apply)."""


class WorkerConfig(TypedDict, total=False):
    """The Worker's options as a dict (temporalio's ``WorkerConfig``); options temporalio has
    and Stalwart ignores are carried along too."""

    client: Client
    task_queue: str
    activities: Sequence[Callable[..., Any]]
    workflows: Sequence[type]
    activity_executor: concurrent.futures.Executor | None
    shared_state_manager: SharedStateManager | None
    workflow_runner: WorkflowRunner | None
    interceptors: Sequence[Interceptor]
    identity: str | None
    max_cached_workflows: int
    max_concurrent_workflow_tasks: int
    max_concurrent_activities: int
    tuner: WorkerTuner | None
    max_task_queue_activities_per_second: float | None
    graceful_shutdown_timeout: timedelta
    default_activity_timeout: timedelta | None
    retention: timedelta | None
    clock: Clock | None
    plugins: Sequence[Plugin]
    workflow_failure_exception_types: Sequence[type[BaseException]]
    disable_eager_activity_execution: bool
    max_eager_activity_reservations_per_workflow_task: int | None
    max_activities_per_second: float | None
    max_heartbeat_throttle_interval: timedelta
    default_heartbeat_throttle_interval: timedelta
    on_fatal_error: Callable[[BaseException], Awaitable[None]] | None
    plugin_shutdown_timeout: timedelta | None
    patch_activation_callback: Callable[[PatchActivationInput], bool] | None
    debug_mode: bool


def _workflow_registry(workflows: Sequence[type],
                       failure_exception_types: Sequence[type[BaseException]] = (),
                       ) -> dict[str, WorkflowDefinition]:
    registry: dict[str, WorkflowDefinition] = {}
    if workflows:
        guard.install()
    for cls in workflows:
        definition = get_workflow_definition(cls)
        if definition is None:
            raise TypeError(f"workflows=[...] entry {cls!r} is not a @workflow.defn class")
        if definition.name in registry:
            raise ValueError(f"two workflows are registered under the name {definition.name!r}")
        guard.check_workflow_class(cls)
        if failure_exception_types:
            # The worker's types fail every workflow it runs, on top of each class's own.
            definition = dataclasses.replace(definition, failure_exception_types=(
                *definition.failure_exception_types, *failure_exception_types),
                worker_failure_exception_types=tuple(failure_exception_types))
        registry[definition.name] = definition
    return registry


def _activity_registry(activities: Sequence[Callable[..., Any]]
                       ) -> dict[str, tuple[Callable[..., Any], ActivityDefinition]]:
    registry: dict[str, tuple[Callable[..., Any], ActivityDefinition]] = {}
    for fn in activities:
        definition = get_activity_definition(fn)
        if definition is None and not inspect.isroutine(fn) and callable(fn):
            # An instance of a class whose __call__ is the activity (start_activity_class).
            fn = types.MethodType(type(fn).__call__, fn)
            definition = get_activity_definition(fn)
        if definition is None:
            raise TypeError(f"activities=[...] entry {fn!r} is not an @activity.defn function")
        if definition.name in registry:
            raise ValueError(f"two activities are registered under the name "
                             f"{definition.name!r}")
        registry[definition.name] = (fn, definition)
    return registry


class Worker:
    """Polls one task queue of the client's store and runs its workflows and activities.

    Use as ``async with Worker(...):`` (runs in the background, shuts down on exit) or
    ``await worker.run()`` (runs until :meth:`shutdown`).

    Args:
        client: The client whose store to work on.
        task_queue: The queue to poll.
        workflows: ``@workflow.defn`` classes this worker runs.
        activities: ``@activity.defn`` functions (or bound methods) this worker runs.
        activity_executor: Executor for plain-function activities; a thread pool is created
            if none is given. Any other than a ``ThreadPoolExecutor`` (a
            ``ProcessPoolExecutor``) runs them in other processes and needs
            ``shared_state_manager``.
        shared_state_manager: Carries heartbeats and cancellation to and from activities
            run in other processes: ``SharedStateManager.create_from_multiprocessing(
            multiprocessing.Manager())``. May be shared by several workers.
        max_concurrent_activities: Activities running at once.
        max_concurrent_workflow_tasks: Workflow tasks in flight at once.
        max_cached_workflows: Workflow instances kept in memory (evicted ones are replayed).
        graceful_shutdown_timeout: How long shutdown lets running activities finish.
        identity: Name of this worker in histories; defaults to ``pid@host``.
        default_activity_timeout: Stalwart addition: a start-to-close timeout for activities
            scheduled without any timeout (Temporal rejects those; so does Stalwart unless
            this is set).
        interceptors: Worker interceptors (activity and workflow), in order.
        max_task_queue_activities_per_second: Activities of this task queue started per
            second by *all* its workers together (a token bucket in the store, shared across
            processes and machines; the last worker to set it wins). The knob for an LLM
            provider's rate limit. Activities then start only through the queue, never
            eagerly.
        retention: Stalwart addition: delete runs closed longer ago than this (checked once a
            minute); ``stalwart db cleanup --older-than`` does the same by hand.
        plugins: Worker plugins (after the client's plugins that are worker plugins), applied
            in order; the first wraps the others' ``run_worker``.
        workflow_failure_exception_types: Exception types that fail any workflow this worker
            runs (instead of failing the workflow task), on top of each class's own.
    """

    def __init__(
        self, client: Client, *, task_queue: str, workflows: Sequence[type] = (),
        activities: Sequence[Callable[..., Any]] = (),
        activity_executor: concurrent.futures.Executor | None = None,
        max_concurrent_activities: int = 100, max_concurrent_workflow_tasks: int = 100,
        max_cached_workflows: int = 1000,
        graceful_shutdown_timeout: timedelta = timedelta(seconds=0),
        identity: str | None = None, default_activity_timeout: timedelta | None = None,
        interceptors: Sequence[Interceptor] = (), retention: timedelta | None = None,
        max_task_queue_activities_per_second: float | None = None,
        clock: Clock | None = None, tuner: WorkerTuner | None = None,
        workflow_runner: WorkflowRunner | None = None, plugins: Sequence[Plugin] = (),
        workflow_failure_exception_types: Sequence[type[BaseException]] = (), **options: Any,
    ) -> None:
        # Options Stalwart has no use for (poller counts ...) are kept, so that
        # ``Worker(**worker.config())`` and plugins see everything given.
        config = WorkerConfig(**options)  # type: ignore[typeddict-item]
        config.update(
            client=client, task_queue=task_queue, workflows=workflows, activities=activities,
            activity_executor=activity_executor,
            max_concurrent_activities=max_concurrent_activities,
            max_concurrent_workflow_tasks=max_concurrent_workflow_tasks,
            max_cached_workflows=max_cached_workflows,
            graceful_shutdown_timeout=graceful_shutdown_timeout, identity=identity,
            default_activity_timeout=default_activity_timeout, interceptors=interceptors,
            retention=retention,
            max_task_queue_activities_per_second=max_task_queue_activities_per_second,
            clock=clock, tuner=tuner, workflow_runner=workflow_runner, plugins=plugins,
            workflow_failure_exception_types=workflow_failure_exception_types)
        self._initial_config = config.copy()
        self._plugins = _plugins.worker_plugins(client, plugins)
        self._config = _plugins.configure_worker(self._plugins, config)
        known: dict[str, Any] = {k: v for k, v in self._config.items() if k in _WORKER_ARGUMENTS}
        self._init(**known)
        if self._config.get("debug_mode") or os.environ.get("TEMPORAL_DEBUG"):
            # As temporalio's debug_mode: workflow code may stop at a breakpoint for as long
            # as it likes without its task failing as a potential deadlock.
            self._workflow_worker.deadlock_timeout = None

    def config(self, *, active_config: bool = False) -> WorkerConfig:
        """The configuration this worker was created with (a shallow copy):
        ``Worker(**worker.config())`` makes another like it; with ``active_config``, the one
        in use after plugins changed it."""
        return (self._config if active_config else self._initial_config).copy()

    def _init(
        self, client: Client, *, task_queue: str, workflows: Sequence[type] = (),
        activities: Sequence[Callable[..., Any]] = (),
        activity_executor: concurrent.futures.Executor | None = None,
        max_concurrent_activities: int = 100, max_concurrent_workflow_tasks: int = 100,
        max_cached_workflows: int = 1000,
        graceful_shutdown_timeout: timedelta = timedelta(seconds=0),
        identity: str | None = None, default_activity_timeout: timedelta | None = None,
        interceptors: Sequence[Interceptor] = (), retention: timedelta | None = None,
        max_task_queue_activities_per_second: float | None = None,
        clock: Clock | None = None, tuner: WorkerTuner | None = None,
        workflow_failure_exception_types: Sequence[type[BaseException]] = (),
        disable_eager_activity_execution: bool = False,
        max_eager_activity_reservations_per_workflow_task: int | None = None,
        max_activities_per_second: float | None = None,
        max_heartbeat_throttle_interval: timedelta = timedelta(seconds=60),
        default_heartbeat_throttle_interval: timedelta = timedelta(seconds=30),
        on_fatal_error: Callable[[BaseException], Awaitable[None]] | None = None,
        plugin_shutdown_timeout: timedelta | None = timedelta(seconds=60),
        patch_activation_callback: Callable[[PatchActivationInput], bool] | None = None,
        shared_state_manager: SharedStateManager | None = None,
    ) -> None:
        custom_workflow = custom_activity = None
        if tuner is not None:
            if not isinstance(tuner, WorkerTuner):
                raise TypeError(f"Worker tuner= must be a WorkerTuner, got {tuner!r}")
            workflow_slots, activity_slots = tuner._limits()
            custom_workflow, custom_activity = tuner._custom()
            max_concurrent_workflow_tasks = workflow_slots or max_concurrent_workflow_tasks
            max_concurrent_activities = activity_slots or max_concurrent_activities
        if not task_queue or not isinstance(task_queue, str):
            raise ValueError("Worker needs task_queue='...', the queue your workflows use")
        if not workflows and not activities:
            raise ValueError("Worker needs at least one workflow or activity to run")
        for name, value in (("max_concurrent_activities", max_concurrent_activities),
                            ("max_concurrent_workflow_tasks", max_concurrent_workflow_tasks)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"Worker {name} must be a positive int, got {value!r}")
        # 0, as in temporalio: no workflow is kept between its tasks (each replays).
        if not isinstance(max_cached_workflows, int) or max_cached_workflows < 0:
            raise ValueError(f"Worker max_cached_workflows must be an int of 0 or more, got "
                             f"{max_cached_workflows!r}")
        for name, rate in (("max_task_queue_activities_per_second",
                            max_task_queue_activities_per_second),
                           ("max_activities_per_second", max_activities_per_second)):
            if rate is not None and not rate > 0:
                raise ValueError(f"Worker {name} must be positive, got {rate!r}")
        reservations = max_eager_activity_reservations_per_workflow_task
        if reservations is not None and (not isinstance(reservations, int) or reservations < 1):
            raise ValueError("Worker max_eager_activity_reservations_per_workflow_task must be "
                             f"a positive int, got {reservations!r}; use "
                             "disable_eager_activity_execution=True to disable eager starts")
        self._on_fatal_error = on_fatal_error
        self._plugin_shutdown_timeout = plugin_shutdown_timeout
        self._fatal_error: BaseException | None = None
        self._client = client
        self._task_queue = task_queue
        self._worker_id = uuid.uuid4().hex
        self._identity = identity or f"{os.getpid()}@{HOST}"
        self._clock = clock or client._clock
        self._graceful_shutdown_timeout = graceful_shutdown_timeout
        self._own_executor = activity_executor is None
        self._executor = activity_executor or concurrent.futures.ThreadPoolExecutor(
            max_workers=max_concurrent_activities, thread_name_prefix="stalwart-activity")
        activity_registry = _activity_registry(activities)
        check_process_activities(self._executor, shared_state_manager, (
            (name, fn) for name, (fn, definition) in activity_registry.items()
            if not definition.is_async))
        store = client.store
        converter = client.data_converter
        # Client interceptors that are also worker interceptors apply here too (Temporal does).
        all_interceptors = [i for i in client._interceptors if isinstance(i, Interceptor)]
        all_interceptors += list(interceptors)
        workflow_interceptor_classes = [
            cls for cls in (i.workflow_interceptor_class(WorkflowInterceptorClassInput())
                            for i in all_interceptors) if cls is not None]
        self._workflow_worker = WorkflowWorker(
            store=store, task_queue=task_queue, worker_id=self._worker_id,
            identity=self._identity,
            workflows=_workflow_registry(workflows, workflow_failure_exception_types),
            converter=converter, clock=self._clock,
            max_concurrent=max_concurrent_workflow_tasks, max_cached=max_cached_workflows,
            default_activity_timeout=default_activity_timeout,
            interceptor_classes=workflow_interceptor_classes,
            eager_activity_slots=lambda wanted: self._activity_worker.reserve_slots(
                eager=True, at_most=wanted),
            start_eager_activities=lambda claims: self._activity_worker.start(claims),
            release_eager_slots=lambda count: self._activity_worker.release_slots(count),
            slot_driver=SlotDriver(custom_workflow, "workflow", task_queue, self._identity)
            if custom_workflow else None,
        )
        self._activity_worker = ActivityWorker(
            store=store, task_queue=task_queue, worker_id=self._worker_id,
            identity=self._identity, activities=activity_registry,
            converter=converter, clock=self._clock, max_concurrent=max_concurrent_activities,
            executor=self._executor,
            can_take_workflow_task=self._workflow_worker.can_take_eagerly,
            take_workflow_task=self._workflow_worker.submit,
            complete_with_workflow_task=self._workflow_worker.complete_activity_with_workflow_task,
            interceptors=all_interceptors, rate_limit=max_task_queue_activities_per_second,
            slot_driver=SlotDriver(custom_activity, "activity", task_queue, self._identity)
            if custom_activity else None,
        )
        self._activity_worker.client = client
        self._activity_worker.shared_state_manager = shared_state_manager
        self._activity_worker.worker_rate_limit = max_activities_per_second
        self._activity_worker.heartbeat_throttle = (
            max_heartbeat_throttle_interval.total_seconds(),
            default_heartbeat_throttle_interval.total_seconds())
        workflow_worker = self._workflow_worker
        workflow_worker.disable_eager_activities = disable_eager_activity_execution
        if reservations is not None:
            workflow_worker.eager_remote_limit = reservations
        workflow_worker.patch_activation_callback = patch_activation_callback
        self._sweeper = Sweeper(store=store, worker_id=self._worker_id, identity=self._identity,
                                converter=converter, clock=self._clock,
                                retention=retention.total_seconds() if retention else None)
        self._stopping = asyncio.Event()
        self._loops: list[asyncio.Task[None]] = []
        self._heartbeat: HeartbeatThread | None = None
        self._run_task: asyncio.Task[None] | None = None
        self._backlog_source: Any = None
        self._started = False
        self._polling = asyncio.Event()
        self._done = asyncio.Event()

    @property
    def task_queue(self) -> str:
        return self._task_queue

    @property
    def identity(self) -> str:
        return self._identity

    @property
    def client(self) -> Client:
        return self._client

    @property
    def is_running(self) -> bool:
        return self._started and not self._done.is_set()

    @property
    def is_shutdown(self) -> bool:
        """True once the worker has run and stopped."""
        return self._done.is_set()

    def _watch(self, task: asyncio.Task[None]) -> None:
        """A worker loop that ends with an error is fatal: the worker shuts down and
        ``run()`` raises it (after ``on_fatal_error``, as temporalio's does)."""
        if task.cancelled() or task.exception() is None or self._stopping.is_set():
            return
        if self._fatal_error is None:
            self._fatal_error = task.exception()
            logger.error("worker %s failed, shutting down", self._identity,
                         exc_info=self._fatal_error)
        self._stopping.set()

    def _is_idle(self) -> bool:
        """No workflow task or activity in flight (used by the time-skipping environment)."""
        return not self._workflow_worker._running and self._activity_worker.running_count == 0

    async def _start(self) -> None:
        if self._started:
            raise RuntimeError("this worker was already started; create a new Worker")
        self._started = True
        # Metrics go where the client's runtime says (its Prometheus server is started here
        # too, for a client built without connect).
        await _use_runtime(self._client._runtime)
        self._client._workers.add(self)
        store = self._client.store
        pid = os.getpid()
        await store.register_worker(WorkerRow(
            worker_id=self._worker_id, identity=self._identity, task_queue=self._task_queue,
            host=HOST, pid=pid, pid_start=process_start_time(pid),
            heartbeat_at=self._clock.now()))
        self._heartbeat = HeartbeatThread(
            lambda: store.heartbeat_worker_blocking(self._worker_id, self._clock.now()))
        self._heartbeat.start()
        loop = asyncio.get_running_loop()
        if self._workflow_worker.workflows:
            self._loops.append(loop.create_task(
                self._workflow_worker.poll_forever(self._stopping)))
            self._loops.append(loop.create_task(
                self._workflow_worker.answer_queries_forever(self._stopping)))
        if self._activity_worker.activities:
            self._loops.append(loop.create_task(
                self._activity_worker.poll_forever(self._stopping)))
        self._loops.append(loop.create_task(self._sweeper.run_forever(self._stopping)))
        self._loops.append(loop.create_task(Scheduler(
            store=store, worker_id=self._worker_id, clock=self._clock
        ).run_forever(self._stopping)))
        METRICS.add_gauge_source(self._workflow_worker.cache_gauge)
        backlog = getattr(store, "backlog", None)
        if backlog is not None:
            self._backlog_source = lambda: backlog(self._clock.now())
            backlog_sources.append(self._backlog_source)
        for task in self._loops:
            task.add_done_callback(self._watch)
        self._polling.set()
        logger.info("worker %s polling task queue %r", self._identity, self._task_queue)

    async def run(self) -> None:
        """Run until :meth:`shutdown` is called (or the task running this is cancelled).

        Plugins' ``run_worker`` wrap the run, the first plugin outermost.
        """
        await _plugins.run_through(self._plugins, self, Worker._run)

    async def _run(self) -> None:
        await self._start()
        try:
            await self._stopping.wait()
        finally:
            await self._finish()
        if self._fatal_error is not None:
            raise self._fatal_error

    async def shutdown(self) -> None:
        """Stop polling, let running activities finish within the grace period, stop.

        Plugins' ``run_worker`` code after the worker stops gets ``plugin_shutdown_timeout``
        to finish, then is cancelled."""
        self._stopping.set()
        if self._run_task is None:
            if self._started:
                await self._done.wait()
            return
        run_task = self._run_task
        if self._plugins:
            done = asyncio.ensure_future(self._done.wait())
            await asyncio.wait({run_task, done}, return_when=asyncio.FIRST_COMPLETED)
            done.cancel()
            timeout = self._plugin_shutdown_timeout
            if not run_task.done() and timeout is not None:
                await asyncio.wait({run_task}, timeout=timeout.total_seconds())
                if not run_task.done():
                    logger.warning("worker %s: plugins did not finish within "
                                   "plugin_shutdown_timeout; cancelling them", self._identity)
                    run_task.cancel()
                    await asyncio.gather(run_task, return_exceptions=True)
                    return
        await asyncio.shield(run_task)

    async def _finish(self) -> None:
        if self._done.is_set():
            return
        self._stopping.set()
        if self._fatal_error is not None and self._on_fatal_error is not None:
            try:
                await self._on_fatal_error(self._fatal_error)
            except Exception:
                logger.exception("on_fatal_error of worker %s raised", self._identity)
        METRICS.remove_gauge_source(self._workflow_worker.cache_gauge)
        if self._backlog_source in backlog_sources:
            backlog_sources.remove(self._backlog_source)
        for task in self._loops:
            task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        await self._activity_worker.drain(self._graceful_shutdown_timeout.total_seconds())
        await self._workflow_worker.drain()
        self._workflow_worker.evict_all()
        if self._heartbeat is not None:
            self._heartbeat.stop()
        try:
            await self._client.store.unregister_worker(self._worker_id)
        except Exception as error:
            logger.warning("could not unregister worker %s: %s", self._identity, error)
        if self._own_executor:
            self._executor.shutdown(wait=False)
        self._done.set()
        logger.info("worker %s stopped", self._identity)

    async def __aenter__(self) -> Worker:
        if not self._plugins:
            await self._start()

            async def wait_then_finish() -> None:
                await self._stopping.wait()
                await self._finish()
                if self._fatal_error is not None:
                    raise self._fatal_error

            self._run_task = asyncio.get_running_loop().create_task(wait_then_finish())
            return self
        # Plugins wrap the whole run (their context must last as long as the worker), so the
        # run goes in a task and this returns once the worker polls, or raises why it could not.
        loop = asyncio.get_running_loop()
        self._run_task = loop.create_task(self.run())
        started = loop.create_task(self._polling.wait())
        try:
            await asyncio.wait({self._run_task, started}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            started.cancel()
        if self._run_task.done():
            self._run_task.result()
            raise RuntimeError("the worker's plugins returned without running the worker")
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc_value: BaseException | None,
                        traceback: TracebackType | None) -> None:
        await self.shutdown()


# What Worker._init takes; other config keys (Temporal-only options such as
# ``workflow_runner``) stay in the config for plugins to read but configure nothing here.
_WORKER_ARGUMENTS = frozenset(inspect.signature(Worker._init).parameters) - {"self"}
