"""Activity tasks: claim, run (async, or plain functions on a thread pool), heartbeat, report."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import copy
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from .. import exceptions as exc
from .._converter_storage import (
    STORE_TARGET,
    StorageDriverActivityInfo,
    StorageDriverStoreContext,
)
from .._model.definitions import ActivityDefinition
from .._model.events import EventType
from .._store.base import ActivityTaskClaim, Store, WorkflowTaskClaim
from ..common import Priority, RawValue, RetryPolicy
from ..converter import (
    ActivitySerializationContext,
    DataConverter,
    _payload_from_json,
    _payload_to_json,
    headers_from_json,
)
from .activity_context import (
    ActivityCancellationDetails,
    ActivityContext,
    CompleteAsyncError,
    Info,
    ThreadCancelRaiser,
    set_current,
)
from .clock import Clock
from .codec import decode_value, encode_value
from .interceptors import (
    ActivityInboundInterceptor,
    ActivityOutboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)
from .metrics import METRICS
from .retry import decide
from .shared_state import SharedStateManager, run_in_process
from .slots import SlotDriver, SlotInfo, SlotPermit, activity_slot

logger = logging.getLogger(__name__)

IDLE_POLL_FALLBACK_SECONDS = 5.0
DEFAULT_HEARTBEAT_THROTTLE_SECONDS = 30.0


def activity_error_failure(cause: dict[str, Any], claim_type: str, activity_id: str,
                           identity: str, retry_state: exc.RetryState,
                           timed_out: bool = False) -> dict[str, Any]:
    """The failure a workflow sees: an ActivityError whose cause is what went wrong (its
    message as temporalio's core words it: a cancellation is "Activity cancelled", its cause
    a CancelledError that carries the details only, as Temporal's ActivityTaskCanceled)."""
    if "canceled_failure_info" in cause:
        cause = {**cause, "message": ""}
    return {
        "message": "Activity task timed out" if timed_out else "Activity cancelled"
        if "canceled_failure_info" in cause else "Activity task failed",
        "source": "Stalwart",
        "activity_failure_info": {
            # Ids are Temporal's event ids, which the workflow fills in as it reads this (the
            # store's rows are not Temporal's events). A timeout is the server's doing: no
            # worker identity.
            "scheduled_event_id": 0, "started_event_id": 0,
            "identity": "" if timed_out else identity,
            "activity_type": claim_type, "activity_id": activity_id,
            "retry_state": int(retry_state),
        },
        "cause": cause,
    }


class _Heartbeater:
    """Throttles heartbeats to the store and turns a cancel request into cancellation."""

    def __init__(self, worker: ActivityWorker, claim: ActivityTaskClaim,
                 loop: asyncio.AbstractEventLoop) -> None:
        self._worker = worker
        self._claim = claim
        self._loop = loop
        self._converter = worker.converter_for(claim)
        timeout = claim.options.get("heartbeat_timeout")
        # As Temporal's: 80 % of the heartbeat timeout, at most the worker's maximum; the
        # worker's default without a heartbeat timeout.
        maximum, default = worker.heartbeat_throttle
        self._interval = min(maximum, timeout * 0.8) if timeout else default
        self._pending: list[dict[str, Any]] | None = None
        # Details whose write is in flight: a store with concurrent writers may commit the
        # attempt's failure first (or the write is cancelled), so they count as unsent.
        self._sending: list[dict[str, Any]] | None = None
        self._flusher: asyncio.Task[None] | None = None
        self.context: ActivityContext | None = None

    def record(self, details: Sequence[Any]) -> None:
        """Called from the activity (any thread)."""
        try:
            payloads = [_payload_to_json(p) for p in
                        self._converter.payload_converter.to_payloads(list(details))]
        except TypeError as error:
            raise TypeError(f"activity.heartbeat(): {error}") from None
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._set(payloads)
        else:
            self._loop.call_soon_threadsafe(self._set, payloads)

    def _set(self, payloads: list[dict[str, Any]]) -> None:
        self._pending = payloads
        if self._flusher is None or self._flusher.done():
            self._flusher = self._loop.create_task(self._flush_loop())

    async def _flush_loop(self) -> None:
        while self._pending is not None:
            details, self._pending = self._pending, None
            self._sending = details
            await self._send(details)
            self._sending = None
            if self._pending is not None:
                await asyncio.sleep(self._interval)

    async def _send(self, details: list[dict[str, Any]]) -> None:
        claim = self._claim
        worker = self._worker
        try:
            details = await encode_value(details, self._converter._store_codec)
            cancel = await worker.store.heartbeat_activity_task(
                claim.run_id, claim.seq, claim.attempt, worker.worker_id, details,
                worker.clock.now())
        except exc.StoreError as error:
            logger.warning("heartbeat for activity %s failed: %s", claim.activity_id, error)
            return
        if self.context is not None:
            if cancel is None:
                self.context.mark_cancelled("the activity is no longer pending (it timed out, "
                                            "or its workflow closed)",
                                            ActivityCancellationDetails(not_found=True))
            elif cancel:
                self.context.mark_cancelled("cancel requested by the workflow",
                                            ActivityCancellationDetails(cancel_requested=True))

    def unsent_details(self) -> list[dict[str, Any]] | None:
        return self._pending if self._pending is not None else self._sending

    def stop(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()


class _RootOutbound(ActivityOutboundInterceptor):
    def __init__(self, context: ActivityContext) -> None:
        self._context = context

    def info(self) -> Info:
        return self._context.info

    def heartbeat(self, *details: Any) -> None:
        self._context.heartbeat(details)


class _RootInbound(ActivityInboundInterceptor):
    """Runs the activity function: on the loop if async, else on the worker's executor (a
    thread pool, or another process's through the shared state manager)."""

    def __init__(self, worker: ActivityWorker, is_async: bool,
                 context: ActivityContext) -> None:
        self._worker = worker
        self._is_async = is_async
        self._context = context

    def init(self, outbound: ActivityOutboundInterceptor) -> None:
        self._context.outbound = outbound

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        if self._is_async:
            return await input.fn(*input.args)
        worker = self._worker
        executor = input.executor or worker.executor
        if worker.shared_state_manager is not None and not isinstance(
                executor, concurrent.futures.ThreadPoolExecutor):
            return await run_in_process(
                worker.shared_state_manager, executor, self._context,
                worker.remote_worker_shutdown(), worker.converter.payload_converter_class,
                input.fn, input.args)
        thread_context = contextvars.copy_context()
        raiser = self._context.thread_raiser = ThreadCancelRaiser(exc.CancelledError)
        if self._context.cancelled.is_set():
            raiser.cancel()  # raised once the function starts in its thread
        try:
            return await asyncio.get_running_loop().run_in_executor(
                executor, thread_context.run, _run_in_thread, raiser, input.fn, input.args)
        finally:
            self._context.thread_raiser = None


def _run_in_thread(raiser: ThreadCancelRaiser, fn: Callable[..., Any],
                   args: Sequence[Any]) -> Any:
    with raiser.running_here():
        return fn(*args)


class ActivityWorker:
    """Runs activity tasks of one task queue for one worker."""

    def __init__(self, *, store: Store, task_queue: str, worker_id: str, identity: str,
                 activities: dict[str, tuple[Callable[..., Any], ActivityDefinition]],
                 converter: DataConverter, clock: Clock, max_concurrent: int,
                 executor: concurrent.futures.Executor,
                 can_take_workflow_task: Callable[[str], bool],
                 take_workflow_task: Callable[[WorkflowTaskClaim], None],
                 complete_with_workflow_task: Callable[
                     [ActivityTaskClaim, dict[str, Any], dict[str, Any]], Awaitable[bool]],
                 interceptors: Sequence[Interceptor] = (),
                 rate_limit: float | None = None,
                 slot_driver: SlotDriver | None = None) -> None:
        self.store = store
        self.task_queue = task_queue
        self.worker_id = worker_id
        self.identity = identity
        self.activities = activities
        self.converter = converter
        self.clock = clock
        self.max_concurrent = max_concurrent
        self.client: Any = None  # the public Client, for activity.client(); set by the Worker
        self.executor = executor
        self._can_take_workflow_task = can_take_workflow_task
        self._take_workflow_task = take_workflow_task
        self._complete_with_workflow_task = complete_with_workflow_task
        self.interceptors = list(interceptors)
        self.rate_limit = rate_limit
        self._running: dict[asyncio.Task[None], ActivityContext | None] = {}
        # Slots promised to a claim still in flight (this poller's, or an eager dispatch by a
        # workflow task commit); without it two concurrent claims both see the same free slot.
        self._reserved = 0
        self._wake = asyncio.Event()
        # A custom slot supplier decides instead of max_concurrent: one permit per claim.
        self.slot_driver = slot_driver
        self._permits: dict[asyncio.Task[None], tuple[SlotPermit, SlotInfo]] = {}
        # Worker options set after construction (see Worker): the (maximum, default)
        # heartbeat throttle intervals and max_activities_per_second, this worker's own
        # limit (a token bucket holding one second's starts, full at first).
        self.heartbeat_throttle = (60.0, DEFAULT_HEARTBEAT_THROTTLE_SECONDS)
        self.worker_rate_limit: float | None = None
        self._tokens: float | None = None
        self._tokens_at = 0.0
        # Set by the Worker when its executor runs activities in other processes.
        self.shared_state_manager: SharedStateManager | None = None
        self._remote_shutdown: threading.Event | None = None

    def remote_worker_shutdown(self) -> threading.Event:
        """The cross-process event telling activities in other processes that this worker
        is shutting down; made at the first such activity (as temporalio's)."""
        if self._remote_shutdown is None:
            assert self.shared_state_manager is not None
            self._remote_shutdown = self.shared_state_manager.new_event()
        return self._remote_shutdown

    def _available_starts(self) -> tuple[int, float]:
        """Starts this worker's own rate limit allows now, and (when none) the seconds until
        the next one."""
        rate = self.worker_rate_limit
        if rate is None:
            return 1 << 30, 0.0
        now = self.clock.now()
        capacity = max(1.0, rate)
        if self._tokens is None:
            self._tokens = capacity
        else:
            self._tokens = min(capacity, self._tokens + max(0.0, now - self._tokens_at) * rate)
        self._tokens_at = now
        whole = int(self._tokens)
        return whole, 0.0 if whole else (1.0 - self._tokens) / rate

    def _spend_starts(self, count: int) -> None:
        if self._tokens is not None:
            self._tokens -= count

    def free_slots(self) -> int:
        if not self.activities:
            return 0
        return max(0, self.max_concurrent - len(self._running) - self._reserved)

    def reserve_slots(self, eager: bool = False, at_most: int | None = None) -> int:
        """Set aside free slots (every one, or ``at_most``) for a claim about to be made; see
        :meth:`release_slots`. Under a task-queue rate limit nothing starts eagerly: every
        start draws a token."""
        if eager and (self.rate_limit is not None or self.slot_driver is not None
                      or self.worker_rate_limit is not None):
            return 0
        free = self.free_slots()
        if at_most is not None:
            free = min(free, at_most)
        self._reserved += free
        return free

    def release_slots(self, count: int) -> None:
        """Return reserved slots; claims they won must be started before the next await."""
        self._reserved -= count
        self._wake.set()

    @property
    def running_count(self) -> int:
        return len(self._running)

    def start(self, claims: list[ActivityTaskClaim],
              permit: SlotPermit | None = None) -> None:
        loop = asyncio.get_running_loop()
        for claim in claims:
            task = loop.create_task(self._execute(claim))
            self._running[task] = None
            if permit is not None and self.slot_driver is not None:
                info = activity_slot(claim.activity_type, bool(claim.options.get("local")))
                self._permits[task] = (permit, info)
                self.slot_driver.mark_used(permit, info)
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.pop(task, None)
        held = self._permits.pop(task, None)
        if held is not None and self.slot_driver is not None:
            self.slot_driver.release(*held)
        self._wake.set()

    async def _poll_with_supplier(self, driver: SlotDriver, stopping: asyncio.Event,
                                  sub: Any) -> None:
        while not stopping.is_set():
            allowed, wait = self._available_starts()
            if not allowed:
                await sub.wait(min(1.0, wait))
                continue
            permit = await driver.reserve()
            claims: list[ActivityTaskClaim] = []
            try:
                claims = await self.store.claim_activity_tasks(
                    self.task_queue, self.worker_id, self.clock.now(), 1,
                    rate_limit=self.rate_limit)
            except exc.StoreError as error:
                logger.warning("claiming activity tasks failed, retrying: %s", error)
                await asyncio.sleep(0.5)
            finally:
                if not claims:
                    driver.release(permit, None)
            if claims:
                self._spend_starts(len(claims))
                self.start(claims, permit)
            else:
                await sub.wait(IDLE_POLL_FALLBACK_SECONDS)

    def room(self) -> int:
        """How many tasks this worker's poller would claim if woken now (reservations for
        claims in flight included: such a claim is followed by another one, or, if it fills
        every slot, hands the queue on)."""
        if not self.activities or self.slot_driver is not None or self.rate_limit is not None:
            return 0
        return max(0, self.max_concurrent - len(self._running))

    async def poll_forever(self, stopping: asyncio.Event) -> None:
        key = ("activity_task", self.task_queue)
        sub = self.store.subscribe(key, ("activity_task", "*"), room=self.room)
        full = False
        try:
            if self.slot_driver is not None and self.activities:
                await self._poll_with_supplier(self.slot_driver, stopping, sub)
            while not stopping.is_set():
                if self.free_slots() <= 0:
                    if full:
                        # Every slot taken by a claim that may have left tasks behind, which
                        # this process was counted on for: another process's poller looks.
                        self.store.hand_on(key)
                        full = False
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                allowed, wait = self._available_starts()
                if not allowed:
                    # Out of this worker's own tokens: the next comes in ``wait`` s.
                    await sub.wait(min(1.0, max(0.005, wait)))
                    continue
                free = self.reserve_slots()
                try:
                    claims = await self.store.claim_activity_tasks(
                        self.task_queue, self.worker_id, self.clock.now(),
                        min(free, 64, allowed), rate_limit=self.rate_limit)
                    self._spend_starts(len(claims))
                    full = len(claims) == min(free, 64, allowed)
                except exc.StoreError as error:
                    logger.warning("claiming activity tasks failed, retrying: %s", error)
                    await asyncio.sleep(0.5)
                    continue
                finally:
                    self.release_slots(free)
                if self.rate_limit is not None and len(claims) < min(free, 64):
                    # Out of tokens (or of ready work): the next token comes in 1/rate s.
                    if claims:
                        self.start(claims)
                    await sub.wait(min(1.0, max(0.005, 1.0 / self.rate_limit)))
                    continue
                if claims:
                    self.start(claims)
                    continue
                await sub.wait(IDLE_POLL_FALLBACK_SECONDS)
        finally:
            sub.close()

    async def drain(self, grace: float) -> None:
        """Let running activities finish within ``grace`` seconds, then cancel the rest."""
        if not self._running:
            return
        for context in list(self._running.values()):
            if context is not None:
                context.mark_worker_shutdown()
        _, pending = await asyncio.wait(list(self._running), timeout=grace)
        for task in pending:
            context = self._running.get(task)
            if context is not None:
                context.mark_cancelled("worker shutting down",
                                       ActivityCancellationDetails(worker_shutdown=True))
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=5)

    # -- one attempt ----------------------------------------------------------------------
    def _info(self, claim: ActivityTaskClaim, heartbeat_details: Sequence[Any]) -> Info:
        options = claim.options

        def seconds(name: str) -> timedelta | None:
            value = options.get(name)
            return timedelta(seconds=value) if value else None

        policy = options.get("retry_policy")
        # A workflow's activities carry its id; one started from a client has none.
        standalone = not claim.workflow_id
        return Info(
            activity_id=claim.activity_id, activity_type=claim.activity_type,
            attempt=claim.attempt,
            current_attempt_scheduled_time=datetime.fromtimestamp(claim.attempt_scheduled_at,
                                                                  UTC),
            heartbeat_details=heartbeat_details, heartbeat_timeout=seconds("heartbeat_timeout"),
            is_local=bool(options.get("local")),
            schedule_to_close_timeout=seconds("schedule_to_close_timeout"),
            scheduled_time=datetime.fromtimestamp(claim.scheduled_at, UTC),
            start_to_close_timeout=seconds("start_to_close_timeout"),
            started_time=datetime.fromtimestamp(claim.started_at, UTC),
            task_queue=claim.task_queue,
            task_token=f"{claim.run_id}/{claim.seq}/{claim.attempt}".encode(),
            workflow_id=None if standalone else claim.workflow_id,
            # temporalio 1.35 documents None outside a workflow, but its worker sets the
            # activity's namespace there too (differential scenario standalone_activities).
            workflow_namespace="default",
            workflow_run_id=None if standalone else claim.run_id,
            workflow_type=None if standalone else claim.workflow_type,
            activity_run_id=claim.run_id if standalone else None,
            retry_policy=RetryPolicy._from_json(policy) if policy else None,
            # The shared (frozen) default when the activity has no priority of its own.
            priority=Priority.default if options.get("priority") is None
            else Priority(priority_key=options["priority"]),
            idempotency_key=f"{claim.workflow_id}/{claim.run_id}/{claim.activity_id}",
        )

    def converter_for(self, claim: ActivityTaskClaim) -> DataConverter:
        """The converter for one activity's payloads, in temporalio's
        ActivitySerializationContext (input, result, failure and heartbeats alike)."""
        if self.converter._takes_no_context():  # no context to build (see contexts.py)
            return self.converter
        return self.converter._conversion_context(ActivitySerializationContext(
            namespace="default", activity_id=claim.activity_id,
            activity_type=claim.activity_type, activity_task_queue=claim.task_queue,
            workflow_id=claim.workflow_id, workflow_type=claim.workflow_type,
            is_local=bool(claim.options.get("local"))))

    async def _execute(self, claim: ActivityTaskClaim) -> None:
        METRICS.schedule_to_start.observe(max(0.0, claim.started_at - claim.attempt_scheduled_at),
                                          claim.activity_type)
        started = time.perf_counter()
        try:
            await self._execute_attempt(claim)
        finally:
            METRICS.execution.observe(time.perf_counter() - started, claim.activity_type)

    async def _execute_attempt(self, claim: ActivityTaskClaim) -> None:
        loop = asyncio.get_running_loop()
        heartbeater = _Heartbeater(self, claim, loop)
        context: ActivityContext | None = None
        current_task = asyncio.current_task()
        try:
            registered = self.activities.get(claim.activity_type) or self.activities.get("")
            if registered is None:
                # Temporal's wording, so code matching on it keeps working.
                raise exc.ApplicationError(
                    f"Activity function {claim.activity_type} for workflow "
                    f"{claim.workflow_id} is not registered on this worker, available "
                    f"activities: {', '.join(sorted(self.activities))}", type="NotFoundError")
            fn, definition = registered
            converter = self.converter_for(claim)
            pc = converter.payload_converter
            codec = converter._store_codec
            details_json = await decode_value(claim.heartbeat_details, codec)
            heartbeat_details = pc.from_payloads([_payload_from_json(p) for p in details_json])
            context = ActivityContext(self._info(claim, heartbeat_details), pc,
                                      heartbeater.record, loop, self.client)
            heartbeater.context = context
            if current_task is not None:
                self._running[current_task] = context
            input_json = await decode_value(claim.input, codec)
            try:
                if definition.dynamic:
                    args: list[Any] = [[RawValue(_payload_from_json(p)) for p in input_json]]
                else:
                    args = pc.from_payloads([_payload_from_json(p) for p in input_json],
                                            definition.arg_type_hints)
            except Exception as error:
                raise exc.ApplicationError(
                    f"cannot decode the arguments of activity {claim.activity_type!r}: {error}",
                    type="InvalidActivityInput", non_retryable=True) from error
            result = await self._invoke(fn, definition, args, context,
                                        claim.options.get("header") or {})
            raw_payload = _payload_to_json(pc.to_payload(result))
            if codec is None:
                payload = raw_payload
            else:
                # What a storage driver learns of the payload it keeps (read by the codec).
                target = STORE_TARGET.set(StorageDriverStoreContext(StorageDriverActivityInfo(
                    namespace=context.info.namespace, id=claim.activity_id,
                    type=claim.activity_type)))
                try:
                    payload = await encode_value(copy.deepcopy(raw_payload), codec)
                finally:
                    STORE_TARGET.reset(target)
        except CompleteAsyncError:
            heartbeater.stop()
            await self.store.mark_activity_async(claim.run_id, claim.seq, claim.attempt,
                                                 self.worker_id)
            return
        except BaseException as error:
            heartbeater.stop()
            if isinstance(error, asyncio.CancelledError) and (
                    context is None or not context.cancelled.is_set()):
                raise  # the worker itself is being torn down
            await self._report_failure(claim, error, context, heartbeater)
            return
        heartbeater.stop()
        await self._report_success(claim, raw_payload, payload)

    async def _invoke(self, fn: Callable[..., Any], definition: ActivityDefinition,
                      args: list[Any], context: ActivityContext,
                      headers: dict[str, Any]) -> Any:
        inbound: ActivityInboundInterceptor = _RootInbound(self, definition.is_async, context)
        for interceptor in reversed(self.interceptors):
            inbound = interceptor.intercept_activity(inbound)
        inbound.init(_RootOutbound(context))
        execute_input = ExecuteActivityInput(
            fn=fn, args=args, executor=None if definition.is_async else self.executor,
            headers=headers_from_json(headers))

        async def run() -> Any:
            set_current(context)
            return await inbound.execute_activity(execute_input)

        task = asyncio.get_running_loop().create_task(run(), context=contextvars.Context())
        if definition.is_async:
            # Cancellation is raised into async activities; a thread cannot be interrupted, so
            # plain functions learn of it from activity.is_cancelled() and report it themselves.
            context.task = task
        return await task

    async def _report_success(self, claim: ActivityTaskClaim, raw_payload: dict[str, Any],
                              payload: dict[str, Any]) -> None:
        METRICS.activities.inc(claim.activity_type, "completed")
        try:
            if await self._complete_with_workflow_task(claim, raw_payload, payload):
                return
        except exc.StoreError as error:
            logger.warning("could not record the result of activity %s (%s): %s; it will run "
                           "again", claim.activity_id, claim.activity_type, error)
            return
        claim_wt = self._can_take_workflow_task(claim.run_id)
        try:
            accepted, next_task = await self.store.complete_activity_task(
                claim.run_id, claim.seq, claim.attempt, self.worker_id, payload, self.identity,
                self.clock.now(), claim_wt)
        except exc.StoreError as error:
            logger.warning("could not record the result of activity %s (%s): %s; it will run "
                           "again", claim.activity_id, claim.activity_type, error)
            return
        if not accepted:
            logger.info("result of activity %s (%s, attempt %d) dropped: it is no longer "
                        "pending (timed out, cancelled, or its workflow closed)",
                        claim.activity_id, claim.activity_type, claim.attempt)
        if next_task is not None:
            self._take_workflow_task(next_task)

    async def _report_failure(self, claim: ActivityTaskClaim, error: BaseException,
                              context: ActivityContext | None,
                              heartbeater: _Heartbeater) -> None:
        converter = self.converter_for(claim)
        pc = converter.payload_converter
        now = self.clock.now()
        cancelled = context is not None and context.cancelled.is_set() and isinstance(
            error, asyncio.CancelledError | exc.CancelledError)
        if cancelled:
            assert context is not None
            failure = converter.failure_converter.to_failure(
                exc.CancelledError(context.cancel_reason or "Cancelled"), pc)
        else:
            failure = converter.failure_converter.to_failure(error, pc)
            app = failure.get("application_failure_info") or {}
            level = logging.DEBUG if app.get("category") == 1 else logging.WARNING
            logger.log(level, "activity %s (%s) attempt %d failed: %s", claim.activity_id,
                       claim.activity_type, claim.attempt, error,
                       extra={"__temporal_error_identifier": "ActivityFailure"})
        failure = await encode_value(failure, converter._store_codec)
        shutting_down = cancelled and context is not None and \
            context.cancel_reason == "worker shutting down"
        s2c = claim.options.get("schedule_to_close_timeout")
        final: dict[str, Any] | None
        if cancelled and not shutting_down:
            retry_at, event_type = None, EventType.ACTIVITY_TASK_CANCELED
            final = activity_error_failure(failure, claim.activity_type, claim.activity_id,
                                           self.identity, exc.RetryState.CANCEL_REQUESTED)
        else:
            decision = decide(claim.options.get("retry_policy"), claim.attempt, failure, now,
                              claim.scheduled_at + s2c if s2c else None)
            if shutting_down:
                decision.retry_at = now if decision.retry_at is not None else None
            retry_at, event_type = decision.retry_at, EventType.ACTIVITY_TASK_FAILED
            final = None if retry_at is not None else activity_error_failure(
                failure, claim.activity_type, claim.activity_id, self.identity,
                decision.retry_state)
        benign = (failure.get("application_failure_info") or {}).get("category") == 1
        METRICS.activities.inc(claim.activity_type, "cancelled" if event_type ==
                               EventType.ACTIVITY_TASK_CANCELED else "retry" if retry_at
                               is not None else "benign" if benign else "failed")
        details = heartbeater.unsent_details()
        if details is not None:
            details = await encode_value(details, converter._store_codec)
        try:
            await self.store.fail_activity_task(
                claim.run_id, claim.seq, claim.attempt, self.worker_id, failure, final,
                retry_at, details, event_type, self.identity, now)
        except exc.StoreError as store_error:
            logger.warning("could not record the failure of activity %s: %s",
                           claim.activity_id, store_error)
