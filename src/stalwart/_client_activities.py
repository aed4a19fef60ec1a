"""Activities started from a client ("standalone" activities, temporalio 1.35's
``Client.start_activity`` and friends).

The activity is a durable record in the store (``_store/ops/standalone.py``) and one activity
task on its task queue, which the workers of that queue claim, run, heartbeat, retry and time
out with the same machinery as a workflow's activities. ``Client`` gets its methods from
``ActivityClientMethods``; the end of the interceptor chain calls the functions at the bottom.
"""

from __future__ import annotations

import asyncio
import inspect
import random
import re
import uuid
import warnings
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from . import exceptions as exc
from ._client_activity_types import (
    ActivityExecution,
    ActivityExecutionCount,
    ActivityExecutionCountAggregationGroup,
    ActivityExecutionDescription,
    ActivityExecutionOptions,
    ActivityExecutionStatus,
    ActivityFailureError,
    ActivityOptionsKey,
    ActivityOptionsKeys,
    ActivityOptionsUpdate,
    CancelActivityInput,
    CountActivitiesInput,
    DescribeActivityInput,
    ListActivitiesInput,
    PauseActivityInput,
    StartActivityInput,
    TerminateActivityInput,
    UnpauseActivityInput,
    UpdateActivityOptionsInput,
)
from ._engine.codec import decode_value
from ._model import limits as _limits
from ._model import search_attributes as _sa
from ._model.list_filter import parse_list_query
from ._runtime.activities import activity_name
from .common import (
    ActivityIDConflictPolicy,
    ActivityIDReusePolicy,
    Priority,
    RetryPolicy,
    _priority_key,
)
from .converter import _payload_from_json, headers_to_json

if TYPE_CHECKING:
    from ._model.search_attributes import TypedSearchAttributes
    from .client import Client

__all__ = [  # re-exported by stalwart.client
    "ActivityExecution",
    "ActivityExecutionAsyncIterator",
    "ActivityExecutionCount",
    "ActivityExecutionCountAggregationGroup",
    "ActivityExecutionDescription",
    "ActivityExecutionOptions",
    "ActivityExecutionStatus",
    "ActivityFailureError",
    "ActivityHandle",
    "ActivityOptionsKey",
    "ActivityOptionsKeys",
    "ActivityOptionsUpdate",
    "CancelActivityInput",
    "CountActivitiesInput",
    "DescribeActivityInput",
    "ListActivitiesInput",
    "PauseActivityInput",
    "StartActivityInput",
    "TerminateActivityInput",
    "UnpauseActivityInput",
    "UpdateActivityOptionsInput",
]

ReturnType = TypeVar("ReturnType")

_ARG_UNSET: Any = object()

# A lost wake-up (another process's commit on SQLite) delays a result by at most this long.
_RESULT_POLL_SECONDS = 1.0


class ActivityHandle(Generic[ReturnType]):
    """An activity started from a client: wait for its result, describe, cancel or
    terminate it."""

    def __init__(self, client: Client, id: str, *, run_id: str | None = None,
                 result_type: type | None = None) -> None:
        self._client = client
        self._id = id
        self._run_id = run_id
        self._result_type = result_type

    @property
    def id(self) -> str:
        return self._id

    @property
    def run_id(self) -> str | None:
        return self._run_id

    async def result(self, *, rpc_metadata: Mapping[str, str | bytes] = {},
                     rpc_timeout: timedelta | None = None) -> ReturnType:
        """Wait for the activity to close; its result, or ``ActivityFailureError`` whose
        ``cause`` is the error it failed, timed out, was cancelled or terminated with."""
        store = self._client.store
        run_id = self._run_id or await store.resolve_standalone_activity(self._id, None)
        sub = store.subscribe(("standalone_activity", run_id))
        try:
            loop = asyncio.get_running_loop()
            deadline = None if rpc_timeout is None else loop.time() + rpc_timeout.total_seconds()
            while True:
                outcome = await store.standalone_activity_outcome(run_id)
                if outcome is not None:
                    break
                remaining = None if deadline is None else deadline - loop.time()
                if remaining is not None and remaining <= 0:
                    raise exc.RPCError(f"activity {self._id!r} did not close within "
                                       f"{rpc_timeout}", exc.RPCStatusCode.DEADLINE_EXCEEDED)
                await sub.wait(min(remaining, _RESULT_POLL_SECONDS) if remaining is not None
                               else _RESULT_POLL_SECONDS)
        finally:
            sub.close()
        _, result, failure = outcome
        converter = self._client.data_converter
        if failure is not None:
            failure = await decode_value(failure, converter._store_codec)
            raise ActivityFailureError(cause=converter.failure_converter.from_failure(
                failure, converter.payload_converter))
        if result is None:
            return None  # type: ignore[return-value]
        payload = _payload_from_json(await decode_value(result, converter._store_codec))
        values = converter.payload_converter.from_payloads(
            [payload], [self._result_type] if self._result_type else None)
        if len(values) > 1:
            warnings.warn(f"Expected single activity result, got {len(values)}", stacklevel=2)
        value: ReturnType = values[0]
        return value

    async def cancel(self, *, reason: str | None = None,
                     rpc_metadata: Mapping[str, str | bytes] = {},
                     rpc_timeout: timedelta | None = None) -> None:
        """Ask the activity to stop: one not yet running is cancelled at once; a running one
        learns of it at its next heartbeat (as in Temporal, only heartbeating activities can
        be interrupted)."""
        await self._client._outbound.cancel_activity(CancelActivityInput(
            activity_id=self._id, activity_run_id=self._run_id, reason=reason,
            rpc_metadata=rpc_metadata, rpc_timeout=rpc_timeout))

    async def terminate(self, *, reason: str | None = None,
                        rpc_metadata: Mapping[str, str | bytes] = {},
                        rpc_timeout: timedelta | None = None) -> None:
        """Close the activity now; the result of an attempt still running is dropped."""
        await self._client._outbound.terminate_activity(TerminateActivityInput(
            activity_id=self._id, activity_run_id=self._run_id, reason=reason,
            rpc_metadata=rpc_metadata, rpc_timeout=rpc_timeout))

    async def pause(self, *, reason: str | None = None,
                    rpc_metadata: Mapping[str, str | bytes] = {},
                    rpc_timeout: timedelta | None = None) -> None:
        """Hold the activity: a waiting attempt is not dispatched, a running one finishes
        and, if it fails, its retry waits until ``unpause``."""
        await self._client._outbound.pause_activity(PauseActivityInput(
            activity_id=self._id, activity_run_id=self._run_id, reason=reason,
            rpc_metadata=rpc_metadata, rpc_timeout=rpc_timeout))

    async def unpause(self, *, reason: str | None = None, jitter: timedelta | None = None,
                      rpc_metadata: Mapping[str, str | bytes] = {},
                      rpc_timeout: timedelta | None = None) -> None:
        """Let a paused activity be dispatched again (when it was due, or at once)."""
        await self._client._outbound.unpause_activity(UnpauseActivityInput(
            activity_id=self._id, activity_run_id=self._run_id, reason=reason, jitter=jitter,
            rpc_metadata=rpc_metadata, rpc_timeout=rpc_timeout))

    async def update_options(self, updates: Sequence[ActivityOptionsUpdate[Any]], *,
                             rpc_metadata: Mapping[str, str | bytes] = {},
                             rpc_timeout: timedelta | None = None
                             ) -> ActivityExecutionOptions:
        """Change options of the running activity (``ActivityOptionsKeys.X.value_set(v)``
        or ``.value_unset()``); the options now in force."""
        if not updates:
            raise ValueError("update_options requires at least one update; use "
                             "restore_original_options() to revert options")
        seen: set[str] = set()
        for update in updates:
            if update.key.name in seen:
                raise ValueError(f"update_options received more than one update for "
                                 f"{update.key.name}")
            seen.add(update.key.name)
        return await self._client._outbound.update_activity_options(UpdateActivityOptionsInput(
            activity_id=self._id, activity_run_id=self._run_id, updates=updates,
            restore_original=False, rpc_metadata=rpc_metadata, rpc_timeout=rpc_timeout))

    async def restore_original_options(self, *,
                                       rpc_metadata: Mapping[str, str | bytes] = {},
                                       rpc_timeout: timedelta | None = None
                                       ) -> ActivityExecutionOptions:
        """Put back the options the activity was started with."""
        return await self._client._outbound.update_activity_options(UpdateActivityOptionsInput(
            activity_id=self._id, activity_run_id=self._run_id, updates=[],
            restore_original=True, rpc_metadata=rpc_metadata, rpc_timeout=rpc_timeout))

    async def describe(self, *, include_input: bool = False, include_outcome: bool = False,
                       include_heartbeat_details: bool = False,
                       include_last_failure: bool = False,
                       rpc_metadata: Mapping[str, str | bytes] = {},
                       rpc_timeout: timedelta | None = None) -> ActivityExecutionDescription:
        return await self._client._outbound.describe_activity(DescribeActivityInput(
            activity_id=self._id, activity_run_id=self._run_id, include_input=include_input,
            include_outcome=include_outcome,
            include_heartbeat_details=include_heartbeat_details,
            include_last_failure=include_last_failure, rpc_metadata=rpc_metadata,
            rpc_timeout=rpc_timeout))


class ActivityExecutionAsyncIterator:
    """``async for`` over the activities a list filter matches, a page at a time."""

    def __init__(self, client: Client, input: ListActivitiesInput) -> None:
        self._client = client
        self._input = input
        self._next_page_token = input.next_page_token
        self._current_page: Sequence[ActivityExecution] | None = None
        self._current_page_index = 0
        self._limit = input.limit
        self._yielded = 0

    @property
    def current_page_index(self) -> int:
        return self._current_page_index

    @property
    def current_page(self) -> Sequence[ActivityExecution] | None:
        return self._current_page

    @property
    def next_page_token(self) -> bytes | None:
        return self._next_page_token

    async def fetch_next_page(self, *, page_size: int | None = None) -> None:
        page_size = page_size or self._input.page_size
        if self._limit is not None and self._limit - self._yielded < page_size:
            page_size = self._limit - self._yielded
        offset = int(self._next_page_token.decode()) if self._next_page_token else 0
        rows = await self._client.store.list_standalone_activities(
            without_group_by(self._input.query), page_size, offset)
        namespace = self._client.namespace
        self._current_page = [ActivityExecution._from_row(r, namespace) for r in rows]
        self._current_page_index = 0
        # The token is the offset of the next page; a short page is the last.
        self._next_page_token = str(offset + len(rows)).encode() \
            if len(rows) == page_size and page_size > 0 else None

    def __aiter__(self) -> ActivityExecutionAsyncIterator:
        return self

    async def __anext__(self) -> ActivityExecution:
        if self._limit is not None and self._yielded >= self._limit:
            raise StopAsyncIteration
        while True:
            if self._current_page is None:
                await self.fetch_next_page()
                continue
            if self._current_page_index >= len(self._current_page):
                if self._next_page_token is not None:
                    await self.fetch_next_page()
                    continue
                raise StopAsyncIteration
            found = self._current_page[self._current_page_index]
            self._current_page_index += 1
            self._yielded += 1
            return found


def _seconds(name: str, value: timedelta | None, where: str) -> float | None:
    if value is None:
        return None
    if not isinstance(value, timedelta) or value <= timedelta(0):
        raise ValueError(f"{where}: {name} must be a positive timedelta, got {value!r}")
    return value.total_seconds()


class ActivityClientMethods:
    """``Client``'s methods for activities started from a client (mixed into ``Client``)."""

    async def start_activity(
            self, activity: Any, arg: Any = _ARG_UNSET, *, args: Sequence[Any] = [],
            id: str, task_queue: str, result_type: type | None = None,
            schedule_to_close_timeout: timedelta | None = None,
            schedule_to_start_timeout: timedelta | None = None,
            start_to_close_timeout: timedelta | None = None,
            heartbeat_timeout: timedelta | None = None,
            id_reuse_policy: ActivityIDReusePolicy = ActivityIDReusePolicy.ALLOW_DUPLICATE,
            id_conflict_policy: ActivityIDConflictPolicy = ActivityIDConflictPolicy.FAIL,
            retry_policy: RetryPolicy | None = None,
            search_attributes: TypedSearchAttributes | None = None,
            summary: str | None = None, priority: Priority = Priority.default,
            start_delay: timedelta | None = None,
            rpc_metadata: Mapping[str, str | bytes] = {},
            rpc_timeout: timedelta | None = None) -> ActivityHandle[Any]:
        """Start an activity on the workers of ``task_queue``, not from a workflow; the
        handle waits for its result. ``id`` is required; one of ``start_to_close_timeout``
        and ``schedule_to_close_timeout`` too."""
        client: Client = self  # type: ignore[assignment]
        # A callable class names its activity on ``__call__`` (start_activity_class).
        name, definition = activity_name(activity.__call__ if inspect.isclass(activity)
                                         else activity)
        if arg is not _ARG_UNSET:
            if args:
                raise ValueError("start_activity takes arg or args=[...], not both")
            args = [arg]
        return await client._outbound.start_activity(StartActivityInput(
            activity_type=name, args=list(args), id=id, task_queue=task_queue,
            result_type=result_type or (definition.return_type_hint if definition else None),
            schedule_to_close_timeout=schedule_to_close_timeout,
            start_to_close_timeout=start_to_close_timeout,
            schedule_to_start_timeout=schedule_to_start_timeout,
            heartbeat_timeout=heartbeat_timeout, id_reuse_policy=id_reuse_policy,
            id_conflict_policy=id_conflict_policy, retry_policy=retry_policy,
            priority=priority, search_attributes=search_attributes, summary=summary,
            start_delay=start_delay, headers={}, rpc_metadata=rpc_metadata,
            rpc_timeout=rpc_timeout))

    async def execute_activity(self, activity: Any, arg: Any = _ARG_UNSET,
                               **options: Any) -> Any:
        """``start_activity`` and then ``result()``."""
        handle = await self.start_activity(activity, arg, **options)
        return await handle.result()

    async def start_activity_class(self, activity: Any, arg: Any = _ARG_UNSET,
                                   **options: Any) -> ActivityHandle[Any]:
        """``start_activity`` for a callable class registered as an activity."""
        return await self.start_activity(activity, arg, **options)

    async def execute_activity_class(self, activity: Any, arg: Any = _ARG_UNSET,
                                     **options: Any) -> Any:
        return await self.execute_activity(activity, arg, **options)

    async def start_activity_method(self, activity: Any, arg: Any = _ARG_UNSET,
                                    **options: Any) -> ActivityHandle[Any]:
        """``start_activity`` for a method registered as an activity."""
        return await self.start_activity(activity, arg, **options)

    async def execute_activity_method(self, activity: Any, arg: Any = _ARG_UNSET,
                                      **options: Any) -> Any:
        return await self.execute_activity(activity, arg, **options)

    def get_activity_handle(self, activity_id: str, *, run_id: str | None = None,
                            result_type: type | None = None) -> ActivityHandle[Any]:
        """A handle to an activity started from a client (``run_id``: None for the latest
        run of the id)."""
        if not activity_id:
            raise ValueError("get_activity_handle needs an activity id")
        return ActivityHandle(self, activity_id,  # type: ignore[arg-type]
                              run_id=run_id, result_type=result_type)

    def list_activities(self, query: str, *, limit: int | None = None,
                        page_size: int = 1000, next_page_token: bytes | None = None,
                        rpc_metadata: Mapping[str, str | bytes] = {},
                        rpc_timeout: timedelta | None = None
                        ) -> ActivityExecutionAsyncIterator:
        """Activities started from a client that match a list filter (ActivityId,
        ActivityType, TaskQueue, ExecutionStatus, StartTime, CloseTime, RunId), newest first
        unless ORDER BY says otherwise."""
        client: Client = self  # type: ignore[assignment]
        parse_list_query(without_group_by(query))  # fail fast, before iteration
        return client._outbound.list_activities(ListActivitiesInput(
            query=query, page_size=page_size, next_page_token=next_page_token,
            rpc_metadata=rpc_metadata, rpc_timeout=rpc_timeout, limit=limit))

    async def count_activities(self, query: str | None = None, *,
                               rpc_metadata: Mapping[str, str | bytes] = {},
                               rpc_timeout: timedelta | None = None) -> ActivityExecutionCount:
        """How many activities started from a client match a list filter."""
        client: Client = self  # type: ignore[assignment]
        return await client._outbound.count_activities(CountActivitiesInput(
            query=query, rpc_metadata=rpc_metadata, rpc_timeout=rpc_timeout))


# -- the end of the interceptor chain (ClientRoot calls these) ------------------------------
async def start_activity(client: Client, input: StartActivityInput) -> ActivityHandle[Any]:
    where = f"start_activity({input.activity_type!r})"
    if not input.id:
        raise ValueError(f"{where}: id is required, e.g. id='order-1-charge'")
    _limits.check_reference("activity id", input.id)
    if not input.task_queue:
        raise ValueError(f"{where}: task_queue is required")
    timeouts = {name: _seconds(name, getattr(input, name), where) for name in (
        "schedule_to_close_timeout", "schedule_to_start_timeout", "start_to_close_timeout",
        "heartbeat_timeout")}
    if timeouts["start_to_close_timeout"] is None and \
            timeouts["schedule_to_close_timeout"] is None:
        raise ValueError(f"{where}: set start_to_close_timeout or schedule_to_close_timeout "
                         "(Temporal requires one of them)")
    if input.retry_policy is not None and not isinstance(input.retry_policy, RetryPolicy):
        raise TypeError(f"{where}: retry_policy must be a RetryPolicy, got "
                        f"{type(input.retry_policy).__name__}")
    priority = _priority_key(input.priority, where)
    options: dict[str, Any] = {
        **timeouts,
        "retry_policy": (input.retry_policy or RetryPolicy())._to_json(),
        **({"summary": input.summary} if input.summary else {}),
        **({"header": headers_to_json(dict(input.headers))} if input.headers else {}),
        **({"priority": priority} if priority is not None else {}),
        **({"start_delay": _seconds("start_delay", input.start_delay, where)}
           if input.start_delay else {}),
    }
    request = {
        "run_id": str(uuid.uuid4()), "activity_id": input.id,
        "activity_type": input.activity_type, "task_queue": input.task_queue,
        "input": await client._encode(input.args, f"{where} arguments"), "options": options,
        "search_attributes": _sa.to_store(input.search_attributes),
        "id_reuse_policy": int(input.id_reuse_policy or 1),
        "id_conflict_policy": int(input.id_conflict_policy or 1),
    }
    run_id, _ = await client.store.start_standalone_activity(request, client._clock.now())
    return ActivityHandle(client, input.id, run_id=run_id, result_type=input.result_type)


async def cancel_activity(client: Client, input: CancelActivityInput) -> None:
    await client.store.cancel_standalone_activity(input.activity_id, input.activity_run_id,
                                                  input.reason, client._clock.now())


async def terminate_activity(client: Client, input: TerminateActivityInput) -> None:
    await client.store.terminate_standalone_activity(input.activity_id, input.activity_run_id,
                                                     input.reason, client._clock.now())


async def describe_activity(client: Client, input: DescribeActivityInput
                            ) -> ActivityExecutionDescription:
    row = await client.store.describe_standalone_activity(input.activity_id,
                                                          input.activity_run_id)
    if not input.include_input:
        row["input"] = None
    if not input.include_outcome:
        row["result"] = row["failure"] = None
    if not input.include_heartbeat_details:
        row["heartbeat_details"] = None
    if not input.include_last_failure:
        row["last_failure"] = None
    return ActivityExecutionDescription._from_description(row, client.namespace,
                                                          client.data_converter)


_GROUP_BY = re.compile(r"\s*\bgroup\s+by\s+(\w+)\s*$", re.IGNORECASE)
_STATUS_GROUP_NAMES = ("Running", "Completed", "Failed", "Canceled", "Terminated", "TimedOut")


def without_group_by(query: str | None) -> str | None:
    """A list ignores a trailing ``GROUP BY`` (as Temporal's does); counts group by it."""
    match = _GROUP_BY.search(query or "")
    return query if match is None else (query or "")[:match.start()].strip()


async def count_activities(client: Client, input: CountActivitiesInput
                           ) -> ActivityExecutionCount:
    """A count, or with ``GROUP BY ExecutionStatus`` (the one grouping Temporal allows) a
    count per status that has activities."""
    store = client.store
    match = _GROUP_BY.search(input.query or "")
    if match is None:
        return ActivityExecutionCount(count=await store.count_standalone_activities(
            input.query), groups=[])
    if match.group(1).lower() != "executionstatus":
        raise ValueError(f"count_activities({input.query!r}): GROUP BY takes only "
                         f"ExecutionStatus, got {match.group(1)!r}")
    where = without_group_by(input.query)
    groups = []
    for name in _STATUS_GROUP_NAMES:
        condition = f"ExecutionStatus = '{name}'"
        count = await store.count_standalone_activities(
            f"({where}) AND {condition}" if where else condition)
        if count:
            groups.append(ActivityExecutionCountAggregationGroup(count, [name]))
    return ActivityExecutionCount(count=sum(g.count for g in groups), groups=groups)


async def pause_activity(client: Client, input: PauseActivityInput) -> None:
    await client.store.steer_standalone_activity(
        input.activity_id, input.activity_run_id, "pause",
        {"reason": input.reason or "", "identity": client.identity}, client._clock.now())


async def unpause_activity(client: Client, input: UnpauseActivityInput) -> None:
    jitter = _seconds("jitter", input.jitter, "unpause")
    await client.store.steer_standalone_activity(
        input.activity_id, input.activity_run_id, "unpause",
        {"delay": random.uniform(0, jitter)} if jitter else {}, client._clock.now())


def _option_value(update: ActivityOptionsUpdate[Any]) -> Any:
    name, value = update.key.name, update.value
    where = f"update_options({name})"
    if value is None:
        return None
    if name == "retry_policy":
        if not isinstance(value, RetryPolicy):
            raise TypeError(f"{where}: expected a RetryPolicy, got {type(value).__name__}")
        return value._to_json()
    if name == "priority":
        return _priority_key(value, where)
    if name == "task_queue.name":
        if not isinstance(value, str) or not value:
            raise ValueError(f"{where}: expected a task queue name, got {value!r}")
        return value
    return _seconds(name, value, where)


async def update_activity_options(client: Client, input: UpdateActivityOptionsInput
                                  ) -> ActivityExecutionOptions:
    changes: dict[str, Any] | None = None
    if not input.restore_original:
        known = {key.name for key in vars(ActivityOptionsKeys).values()
                 if isinstance(key, ActivityOptionsKey)}
        changes = {}
        for update in input.updates:
            if update.key.name not in known:
                raise ValueError(f"update_options: unknown option {update.key.name!r}; use "
                                 "the keys of ActivityOptionsKeys")
            changes[update.key.name.removesuffix(".name")] = _option_value(update)
    options = await client.store.update_standalone_activity_options(
        input.activity_id, input.activity_run_id, changes, client._clock.now())
    return ActivityExecutionOptions._from_store(options)
