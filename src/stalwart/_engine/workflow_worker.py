"""Workflow tasks: claim, activate the (cached or replayed) instance, commit in one transaction."""

from __future__ import annotations

import asyncio
import copy
import functools
import json
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from .. import exceptions as exc
from .._converter_storage import (
    STORE_TARGET,
    StorageDriverStoreContext,
    StorageDriverWorkflowInfo,
)
from .._model.events import EV, Command, EventType, HistoryEvent
from .._model.temporal_history import seed_for_run
from .._runtime import messaging
from .._runtime.definitions import WorkflowDefinition
from .._runtime.instance import WorkflowInstance, WorkflowTaskError
from .._runtime.interceptors import WorkflowInboundInterceptor
from .._runtime.patches import PatchActivationCallback
from .._runtime.replay import replay_into
from .._store.base import (
    ActivityTaskClaim,
    CompletionResult,
    StartResult,
    StartWorkflowRequest,
    Store,
    StreamPublish,
    WorkflowTaskClaim,
    WorkflowTaskCompletion,
    started_attributes,
)
from .._store.wakeup import AFFINE_TASK
from ..converter import DataConverter, _payload_to_json
from .clock import Clock
from .codec import decode_events, decode_value, encode_commands, encode_value
from .decisions import CronRun, RetryRun, TaskContext, decide
from .metrics import METRICS, GaugeSource
from .slots import SlotDriver, SlotInfo, SlotPermit, workflow_slot

logger = logging.getLogger(__name__)

WORKFLOW_TASK_LEASE_SECONDS = 10.0
IDLE_POLL_FALLBACK_SECONDS = 5.0
# temporalio's deadlock detector: workflow code that holds its thread longer fails the task.
DEADLOCK_TIMEOUT_SECONDS = 2.0


class _DeadlockError(Exception):
    """Workflow code held the worker's thread past the deadlock timeout. Named as temporalio
    names it, so the failed task's failure has its type."""


def activate_watched(instance: WorkflowInstance, inputs: list[HistoryEvent], *, now: float,
                     deadlock_timeout: float | None,
                     updates: Sequence[dict[str, Any]] = ()) -> list[Command]:
    """``instance.activate`` as temporalio's worker runs an activation: if the workflow code
    did not yield within the deadlock timeout, the task fails with temporalio's
    "[TMPRL1101] Potential deadlock detected" (the commands are dropped and the task retried
    on a fresh replay). Code cannot be interrupted here, so this is known when it yields;
    where the run's task timeout is shorter, Temporal has timed the task out first, which
    ``_past_task_timeout`` records. ``deadlock_timeout`` None: not watched (debug mode)."""
    if deadlock_timeout is None:
        return instance.activate(inputs, now=now, replaying=False, updates=updates)
    started = time.perf_counter()
    commands = instance.activate(inputs, now=now, replaying=False, updates=updates)
    if time.perf_counter() - started > deadlock_timeout:
        timeout = instance.info.task_timeout
        if timeout is None or timeout.total_seconds() > deadlock_timeout:
            instance.evict()
            raise _DeadlockError(
                "[TMPRL1101] Potential deadlock detected: workflow didn't yield within "
                f"{deadlock_timeout:g} second(s).")
    return commands


@dataclass
class _CacheEntry:
    instance: WorkflowInstance
    history_length: int
    # The run's row as the last commit found it (``CompletionResult.run_row``).
    run_row: tuple[Any, ...] | None = None


def task_retry_delay(attempt: int) -> float:
    """Backoff for a failing workflow task: 1 s, 2 s, 4 s ... capped at 60 s."""
    return float(min(60, 2 ** max(0, attempt - 1)))


class WorkflowWorker:
    """Runs workflow tasks of one task queue for one worker."""

    def __init__(self, *, store: Store, task_queue: str, worker_id: str, identity: str,
                 workflows: dict[str, WorkflowDefinition], converter: DataConverter,
                 clock: Clock, max_concurrent: int, max_cached: int,
                 default_activity_timeout: timedelta | None,
                 interceptor_classes: Sequence[type[WorkflowInboundInterceptor]] = (),
                 eager_activity_slots: Callable[[int], int],
                 start_eager_activities: Callable[[list[ActivityTaskClaim]], None],
                 release_eager_slots: Callable[[int], None] = lambda count: None,
                 slot_driver: SlotDriver | None = None) -> None:
        self.store = store
        self.task_queue = task_queue
        self.worker_id = worker_id
        self.identity = identity
        self.workflows = workflows
        self.converter = converter
        self.clock = clock
        self.max_concurrent = max_concurrent
        self.max_cached = max_cached
        self.default_activity_timeout = default_activity_timeout
        self.interceptor_classes = list(interceptor_classes)
        self._eager_activity_slots = eager_activity_slots
        self._start_eager_activities = start_eager_activities
        self._release_eager_slots = release_eager_slots
        self._cache: OrderedDict[str, _CacheEntry] = OrderedDict()
        self._locks: dict[str, asyncio.Lock] = {}
        self._running: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(max_concurrent)
        self.replays = 0
        # temporalio's deadlock detector; None in debug mode (Worker(debug_mode=True)).
        self.deadlock_timeout: float | None = DEADLOCK_TIMEOUT_SECONDS
        # A custom slot supplier decides instead of max_concurrent: one permit per claim.
        self.slot_driver = slot_driver
        # Worker options set after construction (see Worker): the eager start of remote
        # activities and the patch activation callback.
        self.disable_eager_activities = False
        self.eager_remote_limit: int | float = float("inf")
        self.patch_activation_callback: PatchActivationCallback | None = None

    # -- queue polling --------------------------------------------------------------------
    async def _poll_with_supplier(self, driver: SlotDriver, stopping: asyncio.Event,
                                  sub: Any) -> None:
        while not stopping.is_set():
            permit = await driver.reserve()
            claims: list[WorkflowTaskClaim] = []
            try:
                claims = await self.store.claim_workflow_tasks(
                    self.task_queue, self.worker_id, self.clock.now(),
                    WORKFLOW_TASK_LEASE_SECONDS, 1)
            except exc.StoreError as error:
                logger.warning("claiming workflow tasks failed, retrying: %s", error)
                await asyncio.sleep(0.5)
            finally:
                if not claims:
                    driver.release(permit, None)
            if not claims:
                await sub.wait(IDLE_POLL_FALLBACK_SECONDS)
                continue
            info = workflow_slot(claims[0].workflow_type)
            driver.mark_used(permit, info)
            self._submit(claims[0]).add_done_callback(_releaser(driver, permit, info))

    def room(self) -> int:
        """How many tasks this worker's poller would claim if woken now."""
        if not self.workflows or self.slot_driver is not None:
            return 0
        return max(0, self.max_concurrent - len(self._running))

    async def poll_forever(self, stopping: asyncio.Event) -> None:
        key = ("workflow_task", self.task_queue)
        # Tasks offered to this worker first wake it alone.
        sub = self.store.subscribe(key, ("workflow_task", "*"), (AFFINE_TASK, self.worker_id),
                                   room=self.room)
        full = False
        try:
            if self.slot_driver is not None and self.workflows:
                await self._poll_with_supplier(self.slot_driver, stopping, sub)
            while not stopping.is_set():
                free = self.max_concurrent - len(self._running)
                claims: list[WorkflowTaskClaim] = []
                if free > 0:
                    try:
                        claims = await self.store.claim_workflow_tasks(
                            self.task_queue, self.worker_id, self.clock.now(),
                            WORKFLOW_TASK_LEASE_SECONDS, min(free, 64))
                        full = len(claims) == min(free, 64)
                    except exc.StoreError as error:
                        logger.warning("claiming workflow tasks failed, retrying: %s", error)
                        await asyncio.sleep(0.5)
                        continue
                for claim in claims:
                    self.submit(claim)
                if claims:
                    continue
                if free <= 0:
                    if full:
                        # Filled up by a claim that may have left tasks behind, which this
                        # process was counted on for: another process's poller looks.
                        self.store.hand_on(key)
                        full = False
                    # All slots busy: a finishing task does not publish a store wake-up, so
                    # wait for a slot, else ready tasks sit until some unrelated commit.
                    await asyncio.wait(set(self._running), return_when=asyncio.FIRST_COMPLETED)
                    continue
                await sub.wait(IDLE_POLL_FALLBACK_SECONDS)
        finally:
            sub.close()

    async def answer_queries_forever(self, stopping: asyncio.Event) -> None:
        sub = self.store.subscribe(("query", self.task_queue))
        try:
            while not stopping.is_set():
                try:
                    queries = await self.store.claim_queries(self.task_queue, self.worker_id,
                                                             self.clock.now(), 32)
                except exc.StoreError as error:
                    logger.warning("claiming queries failed, retrying: %s", error)
                    await asyncio.sleep(0.5)
                    continue
                for query in queries:
                    await self._answer_query(query)
                if not queries:
                    await sub.wait(IDLE_POLL_FALLBACK_SECONDS)
        finally:
            sub.close()

    async def _answer_query(self, query: dict[str, Any]) -> None:
        converter = self.converter
        result: dict[str, Any] | None = None
        failure: dict[str, Any] | None = None
        fresh: WorkflowInstance | None = None
        try:
            entry = self._cache.get(query["run_id"])
            if entry is not None:
                instance = entry.instance
            else:
                fresh = instance = await self._replay_for_query(query["run_id"])
            # The answer converts in the workflow's context, as its arguments did.
            converter = instance.converter
            args = await decode_value(query["input"], self.converter._store_codec)
            value = messaging.run_query(instance, query["name"], args, str(query["id"]))
            result = await encode_value(
                _payload_to_json(converter.payload_converter.to_payload(value)),
                self.converter._store_codec)
        except Exception as error:
            failure = converter.failure_converter.to_failure(error, converter.payload_converter)
        finally:
            if fresh is not None:
                fresh.evict()
        if failure is not None:
            failure = await encode_value(failure, self.converter._store_codec)
        await self.store.answer_query(query["id"], result, failure)

    async def _replay_for_query(self, run_id: str) -> WorkflowInstance:
        execution = await self.store.get_execution(None, run_id)
        if execution is None:
            raise exc.WorkflowNotFoundError(f"workflow run {run_id!r} not found")
        definition = self.workflows.get(execution.workflow_type) or self.workflows.get("")
        if definition is None:
            raise exc.ApplicationError(
                f"workflow type {execution.workflow_type!r} is not registered on the worker "
                f"that took this query ({self.identity})", type="NotFoundError")
        history = await self.store.get_history(run_id)
        if self.converter._store_codec is not None:
            history = await decode_events(history, self.converter._store_codec)
        instance = WorkflowInstance(definition, workflow_id=execution.workflow_id,
                                    run_id=run_id, converter=self.converter,
                                    interceptor_classes=self.interceptor_classes)
        pending = replay_into(instance, history)
        if pending and not any(e.event_type == EventType.WORKFLOW_TASK_COMPLETED
                               for e in history):
            # Not a single workflow task ran yet: apply the start so handlers see __init__.
            instance.activate(pending, now=self.clock.now(), replaying=True)
        return instance

    def submit(self, claim: WorkflowTaskClaim) -> None:
        self._submit(claim)

    def _submit(self, claim: WorkflowTaskClaim) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(self._process_chain(claim))
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return task

    def has_cached(self, run_id: str) -> bool:
        return run_id in self._cache

    def can_take_eagerly(self, run_id: str) -> bool:
        if self.slot_driver is not None:
            return False  # the supplier is asked before each claim; eager takes skip it
        return run_id in self._cache and len(self._running) < self.max_concurrent

    async def drain(self) -> None:
        while self._running:
            await asyncio.gather(*list(self._running), return_exceptions=True)

    def evict_all(self) -> None:
        for run_id in list(self._cache):
            self._evict(run_id)

    @property
    def cache_size(self) -> int:
        return len(self._cache)

    @functools.cached_property
    def cache_gauge(self) -> GaugeSource:
        return GaugeSource("stalwart_workflow_cache_size",
                           "Workflow instances cached in memory by a worker.",
                           ["task_queue", "worker"],
                           lambda: [([self.task_queue, self.identity], float(len(self._cache)))])

    # -- one workflow task ------------------------------------------------------------------
    async def _process_chain(self, first: WorkflowTaskClaim) -> None:
        claim: WorkflowTaskClaim | None = first
        while claim is not None:
            current = claim
            try:
                claim = await self._process(current)
            except exc.StoreError as error:
                # The lease expires and the task comes back; nothing half-written exists.
                logger.warning("workflow task for run %s could not be committed: %s",
                               current.run_id, error)
                self._evict(current.run_id)
                return
            except Exception:  # a bug in the engine must not kill the worker
                logger.exception("unexpected error processing workflow task for run %s",
                                 current.run_id)
                self._evict(current.run_id)
                return

    async def _process(self, claim: WorkflowTaskClaim) -> WorkflowTaskClaim | None:
        try:
            async with self._lock(claim.run_id):
                return await self._process_locked(claim)
        finally:
            self._release_lock(claim.run_id)

    def _lock(self, run_id: str) -> asyncio.Lock:
        """One activation at a time per run: the cached instance is not re-entrant."""
        lock = self._locks.get(run_id)
        if lock is None:
            lock = self._locks[run_id] = asyncio.Lock()
        return lock

    def _release_lock(self, run_id: str) -> None:
        lock = self._locks.get(run_id)
        if lock is not None and not lock.locked():
            del self._locks[run_id]

    async def _process_locked(self, claim: WorkflowTaskClaim) -> WorkflowTaskClaim | None:
        run_id = claim.run_id
        now = self.clock.now()
        started = time.perf_counter()
        try:
            return await self._process_timed(claim, run_id, now)
        finally:
            METRICS.workflow_task_latency.observe(time.perf_counter() - started,
                                                  claim.workflow_type)

    async def _process_timed(self, claim: WorkflowTaskClaim, run_id: str,
                             now: float) -> WorkflowTaskClaim | None:
        inbox = [event.as_history_event() for event in claim.inbox]
        if self.converter._store_codec is not None:
            inbox = await decode_events(inbox, self.converter._store_codec)
            for update in claim.updates:
                await decode_value(update["input"], self.converter._store_codec)
        entry = self._cache.get(run_id)
        try:
            if entry is not None and entry.history_length == claim.history_length:
                self._cache.move_to_end(run_id)
                instance = entry.instance
                inputs = inbox
            else:
                if entry is not None:
                    self._evict(run_id)
                instance, pending = await self._rebuild(claim)
                inputs = pending + inbox
            commands = activate_watched(instance, inputs, now=now, updates=claim.updates,
                                        deadlock_timeout=self.deadlock_timeout)
        except (exc.NondeterminismError, WorkflowTaskError, _UnregisteredWorkflow,
                _DeadlockError) as error:
            await self._fail_task(claim, error, now)
            return None
        if self._past_task_timeout(instance, now):
            self._evict(run_id)
            await self.store.time_out_workflow_task(run_id, self.worker_id, claim.inbox_max_id,
                                                    self.clock.now())
            return None
        completion, eager_limit = await self._completion(run_id, instance, commands, now,
                                                         claim.inbox_max_id)
        try:
            result = await self.store.complete_workflow_task(completion, now)
        except (TypeError, ValueError) as error:
            # The store refused a command (say, a search attribute of the wrong type): nothing
            # was written; record it as the task's failure so it is visible and retried.
            await self._fail_task(claim, WorkflowTaskError(
                f"the workflow's commands were refused: {error}", error), now)
            return None
        finally:
            # The eager claims below start before the next await, so the slots stay covered.
            self._release_eager_slots(eager_limit)
        return self._after_commit(run_id, instance, result)

    def _past_task_timeout(self, instance: WorkflowInstance, started: float) -> bool:
        """Whether the task started at ``started`` took longer than the run's task timeout:
        Temporal would have timed it out and refused its completion."""
        timeout = instance.info.task_timeout
        late = timeout is not None and self.clock.now() - started > timeout.total_seconds()
        if late:
            METRICS.workflow_tasks.inc(instance.info.workflow_type, "timed_out")
            logger.warning("workflow task for workflow %s (run %s) took longer than its task "
                           "timeout (%s): timed out, it is scheduled again",
                           instance.info.workflow_id, instance.info.run_id, timeout)
        return late

    async def _completion(self, run_id: str, instance: WorkflowInstance,
                          commands: list[Command], now: float,
                          inbox_max_id: int) -> tuple[WorkflowTaskCompletion, int]:
        """The task's completion for the store, and how many eager activity slots were
        reserved for it (released once the store has answered)."""
        accepted_updates = instance.accepted_updates
        rejected_updates = instance.rejected_updates
        if self.converter._store_codec is not None:
            info = instance.info
            target = STORE_TARGET.set(StorageDriverStoreContext(StorageDriverWorkflowInfo(
                namespace=info.namespace, id=info.workflow_id, run_id=info.run_id,
                type=info.workflow_type)))
            try:
                commands = await encode_commands(commands, self.converter._store_codec)
            finally:
                STORE_TARGET.reset(target)
            # Copies: the instance keeps the decoded inputs of the updates it accepted.
            accepted_updates = copy.deepcopy(accepted_updates)
            await encode_value([e.attributes for e in accepted_updates],
                               self.converter._store_codec)
            rejected_updates = [
                (update_id, await encode_value(copy.deepcopy(failure),
                                               self.converter._store_codec))
                for update_id, failure in rejected_updates]
        stream_items = []
        for seq, topic, payload in instance.stream_outbox:
            if self.converter.payload_codec is not None:
                payload = await encode_value(copy.deepcopy(payload),
                                             self.converter.payload_codec)
            stream_items.append(StreamPublish(topic=topic, data=json.dumps(payload),
                                              producer="workflow", producer_seq=seq))
        instance.stream_outbox = ()
        # Only as many slots as this task's activities can use: every slot a task holds back
        # is one that the tasks committing beside it cannot start their activities on, and an
        # activity that does not start here is announced to every process.
        wanted = sum(1 for command in commands
                     if command.event_type == EV.ACTIVITY_TASK_SCHEDULED
                     and command.attributes.get("task_queue") == self.task_queue)
        eager_slots = self._eager_activity_slots(wanted) if wanted else 0
        # A run that continues as new gets its id here and its seed from that id, as every
        # run does (exported histories carry no seed; see seed_for_run).
        # Made only when asked for: most tasks continue nothing.
        next_run_ids: list[str] = []

        def next_run_id() -> str:
            if not next_run_ids:
                next_run_ids.append(str(uuid.uuid4()))
            return next_run_ids[0]

        decisions = decide(commands, TaskContext(
            run_id=run_id, workflow_id=instance.info.workflow_id, identity=self.identity,
            task_queue=self.task_queue, eager_slots=eager_slots,
            eager_remote_limit=self.eager_remote_limit,
            random_seed=lambda: seed_for_run(next_run_id()), new_run_id=next_run_id,
            cron=_cron_run(instance, now), retry=_retry_run(instance), now=now,
            root=instance.started_attributes.get("root")))
        return WorkflowTaskCompletion(
            run_id=run_id, worker_id=self.worker_id, identity=self.identity,
            inbox_max_id=inbox_max_id, workflow_time=now, decisions=decisions,
            claim_next_task=True, accepted_updates=accepted_updates,
            rejected_updates=rejected_updates, stream_items=stream_items), eager_slots

    def _after_commit(self, run_id: str, instance: WorkflowInstance,
                      result: CompletionResult) -> WorkflowTaskClaim | None:
        workflow_type = instance.info.workflow_type
        METRICS.workflow_tasks.inc(workflow_type,
                                   "completed" if result.accepted else "not_committed")
        if instance.completed and result.accepted:
            METRICS.workflows_closed.inc(workflow_type, instance.close_status)
        if not result.accepted:
            logger.debug("workflow task for run %s not committed: %s", run_id, result.reason)
            self._evict(run_id)
            return None
        if instance.completed:
            self._evict(run_id)
        else:
            self._cache[run_id] = _CacheEntry(instance, result.history_length,
                                              result.run_row)
            self._cache.move_to_end(run_id)
            self._trim_cache()
        if result.eager_activities:
            self._start_eager_activities(result.eager_activities)
        return result.next_task

    async def start_with_first_task(self, request: StartWorkflowRequest, now: float
                                    ) -> StartResult | None:
        """Run a new workflow's first task here, then commit the start and that task in one
        transaction. None when not possible (the caller then starts the ordinary way)."""
        definition = self.workflows.get(request.workflow_type)
        if (definition is None or self.converter._store_codec is not None
                or request.start_signal is not None or request.start_update is not None
                or len(self._running) >= self.max_concurrent):
            return None
        instance = WorkflowInstance(definition, workflow_id=request.workflow_id,
                                    run_id=request.run_id, converter=self.converter,
                                    interceptor_classes=self.interceptor_classes)
        instance.default_activity_timeout = self.default_activity_timeout
        instance.patch_activation = self.patch_activation_callback
        instance.disable_eager_activities = self.disable_eager_activities
        started = HistoryEvent(1, EventType.WORKFLOW_EXECUTION_STARTED, now,
                               started_attributes(request, now))
        try:
            commands = activate_watched(instance, [started], now=now,
                                        deadlock_timeout=self.deadlock_timeout)
        except (exc.NondeterminismError, WorkflowTaskError, _DeadlockError) as error:
            instance.evict()
            # Start the ordinary way, this worker holding the first task, and record this
            # attempt's failure: Temporal's history shows the failed first task even when its
            # retry succeeds (running it again here instead would hide a flaky failure).
            result = await self.store.start_workflow(request, now)
            if result.eager_task is not None:
                await self._fail_task(result.eager_task, error, now)
            return result
        if self._past_task_timeout(instance, now):
            instance.evict()
            # As a failed first task: start the ordinary way, this worker holding the task,
            # and record that it timed out; the task is then scheduled again.
            result = await self.store.start_workflow(request, now)
            if result.eager_task is not None:
                await self.store.time_out_workflow_task(request.run_id, self.worker_id, 0,
                                                        self.clock.now())
            return result
        completion, eager_limit = await self._completion(request.run_id, instance, commands,
                                                         now, 0)
        lock = self._lock(request.run_id)
        try:
            async with lock:
                try:
                    result, committed = await self.store.start_workflow_with_task(
                        request, completion, now)
                except (TypeError, ValueError):
                    # The store refused a command of the first task (nothing was written):
                    # start the ordinary way, and let the task fail where it is recorded.
                    instance.evict()
                    return None
                finally:
                    self._release_eager_slots(eager_limit)
                if committed is None:
                    instance.evict()
                    if result.eager_task is not None:
                        self.submit(result.eager_task)
                    return result
                next_task = self._after_commit(request.run_id, instance, committed)
        except BaseException:
            instance.evict()
            raise
        finally:
            self._release_lock(request.run_id)
        if next_task is not None:
            self.submit(next_task)
        return result

    async def complete_activity_with_workflow_task(
            self, claim: ActivityTaskClaim, result: dict[str, Any],
            stored_result: dict[str, Any]) -> bool:
        """Fast path for a sequential step: apply an activity's result to the cached instance
        and commit the result together with the workflow task it causes (one transaction
        instead of two). False: not possible now, record the result the ordinary way."""
        run_id = claim.run_id
        entry = self._cache.get(run_id)
        lock = self._lock(run_id)
        if entry is None or lock.locked() or len(self._running) >= self.max_concurrent:
            self._release_lock(run_id)
            return False
        async with lock:
            now = self.clock.now()
            event = HistoryEvent(0, EventType.ACTIVITY_TASK_COMPLETED, now, {
                "seq": claim.seq, "result": result, "attempt": claim.attempt,
                "identity": self.identity, "started_time": claim.started_at})
            instance = entry.instance
            try:
                commands = instance.activate([event], now=now, replaying=False)
            except (exc.NondeterminismError, WorkflowTaskError):
                # Let the ordinary path record the result; the workflow task will then fail
                # (and be recorded) through replay.
                self._evict(run_id)
                return False
            completion, eager_limit = await self._completion(run_id, instance, commands, now, 0)
            # Another worker may have advanced the run since this instance was cached.
            completion.history_length = entry.history_length
            completion.run_row = entry.run_row
            try:
                outcome, committed, claimed = await self.store.complete_activity_and_workflow_task(
                    claim.seq, claim.attempt, stored_result, claim.started_at, completion, now)
            except BaseException:
                self._evict(run_id)
                raise
            finally:
                self._release_eager_slots(eager_limit)
            if outcome != "committed":
                # The instance saw a result that history does not (yet) hold in that place.
                self._evict(run_id)
                if outcome == "lost":
                    logger.info("result of activity %s (%s, attempt %d) dropped: it is no "
                                "longer pending", claim.activity_id, claim.activity_type,
                                claim.attempt)
                next_task = claimed
            else:
                assert committed is not None
                next_task = self._after_commit(run_id, instance, committed)
        self._release_lock(run_id)
        if next_task is not None:
            self.submit(next_task)
        return True

    async def _rebuild(self, claim: WorkflowTaskClaim
                       ) -> tuple[WorkflowInstance, list[HistoryEvent]]:
        definition = self.workflows.get(claim.workflow_type) or self.workflows.get("")
        if definition is None:
            raise _UnregisteredWorkflow(
                f"workflow type {claim.workflow_type!r} is not registered on worker "
                f"{self.identity} (task queue {self.task_queue!r}; registered: "
                f"{', '.join(sorted(self.workflows)) or 'none'}); the task will be retried, "
                "start a worker that has it")
        history = claim.history if claim.history is not None and \
            len(claim.history) == claim.history_length else \
            await self.store.get_history(claim.run_id)
        if self.converter._store_codec is not None:
            history = await decode_events(history, self.converter._store_codec)
        instance = WorkflowInstance(definition, workflow_id=claim.workflow_id,
                                    run_id=claim.run_id, converter=self.converter,
                                    interceptor_classes=self.interceptor_classes)
        instance.default_activity_timeout = self.default_activity_timeout
        instance.patch_activation = self.patch_activation_callback
        instance.disable_eager_activities = self.disable_eager_activities
        self.replays += 1
        METRICS.replays.inc(definition.name or claim.workflow_type)
        pending = replay_into(instance, history)
        return instance, pending

    async def _fail_task(self, claim: WorkflowTaskClaim, error: BaseException,
                         now: float) -> None:
        METRICS.workflow_tasks.inc(claim.workflow_type, "failed")
        self._evict(claim.run_id)
        cause = error.cause if isinstance(error, WorkflowTaskError) else error
        # The full traceback once per failure streak; later attempts repeat one line.
        show_traceback = claim.attempt == 1 and not isinstance(error, _UnregisteredWorkflow)
        # The extra fields are temporalio's, for logging filters written for it.
        logger.log(logging.ERROR if claim.attempt == 1 else logging.WARNING,
                   "workflow task failed for workflow %s (run %s, attempt %d): %s",
                   claim.workflow_id, claim.run_id, claim.attempt, error,
                   exc_info=cause if show_traceback else None, extra={
                       "__temporal_error_identifier": "WorkflowTaskFailure",
                       "temporal_workflow": {
                           "run_id": claim.run_id, "task_queue": claim.task_queue,
                           "workflow_id": claim.workflow_id,
                           "workflow_type": claim.workflow_type}})
        if isinstance(error, WorkflowTaskError) and cause is not error:
            # Recorded as temporalio records it: the workflow code's own error (its type,
            # message and stack trace); the explanation above is for the log.
            failure = self.converter.failure_converter.to_failure(
                cause, self.converter.payload_converter)
        else:
            failure = self.converter.failure_converter.to_failure(
                error, self.converter.payload_converter)
            failure["message"] = str(error)
        await self.store.fail_workflow_task(claim.run_id, self.worker_id, failure,
                                            now + task_retry_delay(claim.attempt), now,
                                            claim.inbox_max_id)

    # -- cache ------------------------------------------------------------------------------
    def _evict(self, run_id: str) -> None:
        entry = self._cache.pop(run_id, None)
        if entry is not None:
            entry.instance.evict()

    def _trim_cache(self) -> None:
        while len(self._cache) > self.max_cached:
            run_id = next(iter(self._cache))
            self._evict(run_id)


class _UnregisteredWorkflow(Exception):
    pass



def _cron_run(instance: WorkflowInstance, now: float) -> CronRun | None:
    started = instance.started_attributes
    schedule = started.get("cron_schedule")
    if not schedule:
        return None
    return CronRun(
        schedule=schedule, workflow_type=started["workflow_type"],
        task_queue=started["task_queue"], input=started.get("input") or [], now=now,
        due=instance.info.start_time.timestamp()
        + float(started.get("first_workflow_task_backoff") or 0),
        last_completion_result=started.get("last_completion_result"),
        memo=dict(instance.memo_payloads) or None,
        search_attributes=dict(instance.info._search_attributes_store) or None,
        retry_policy=started.get("retry_policy"))


def _retry_run(instance: WorkflowInstance) -> RetryRun | None:
    started = instance.started_attributes
    if not started.get("retry_policy"):
        return None
    return RetryRun(started=started, memo=dict(instance.memo_payloads) or None,
                    search_attributes=dict(instance.info._search_attributes_store) or None)


def _releaser(driver: SlotDriver, permit: SlotPermit, info: SlotInfo
              ) -> Callable[[asyncio.Task[None]], None]:
    def release(_: asyncio.Task[None]) -> None:
        driver.release(permit, info)
    return release
