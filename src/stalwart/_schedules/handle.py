"""The client side of schedules: create, describe, steer and list them (``ScheduleHandle``)."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Generator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .. import exceptions as exc
from .._client_interceptors import (
    BackfillScheduleInput,
    DeleteScheduleInput,
    DescribeScheduleInput,
    PauseScheduleInput,
    TriggerScheduleInput,
    UnpauseScheduleInput,
    UpdateScheduleInput,
)
from .._model import search_attributes as _sa
from .._model.search_attributes import TypedSearchAttributes
from .._store.base import ExecutionStatus, ScheduleRow
from . import logic
from .codec import schedule_from_json, schedule_to_json, spec_from_json
from .spec import CompiledSpec, naive_as_utc
from .types import (
    Schedule,
    ScheduleActionExecutionStartWorkflow,
    ScheduleActionResult,
    ScheduleAlreadyRunningError,
    ScheduleBackfill,
    ScheduleDescription,
    ScheduleInfo,
    ScheduleListActionStartWorkflow,
    ScheduleListDescription,
    ScheduleListInfo,
    ScheduleListSchedule,
    ScheduleListState,
    ScheduleOverlapPolicy,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

if TYPE_CHECKING:
    from ..client import Client


def _not_found(schedule_id: str) -> exc.RPCError:
    # As Temporal's server answers for a schedule it does not have.
    return exc.RPCError(f"schedule {schedule_id!r} not found in the store",
                        exc.RPCStatusCode.NOT_FOUND)


async def _schedule_json(client: Client, schedule: Schedule) -> dict[str, Any]:
    data = await schedule_to_json(schedule, client._encode)
    CompiledSpec(spec_from_json(data["spec"]))  # validates, with errors naming the field
    return data


def _results(row: ScheduleRow, count: int) -> list[ScheduleActionResult]:
    return [ScheduleActionResult(
        scheduled_at=logic.as_datetime(r["scheduled_at"]),
        started_at=logic.as_datetime(r["started_at"]),
        action=ScheduleActionExecutionStartWorkflow(r["workflow_id"], r["run_id"]))
        for r in row.info["recent"][-count:]]


async def create_schedule(
    client: Client, id: str, schedule: Schedule, *, trigger_immediately: bool = False,
    backfill: Sequence[ScheduleBackfill] = (), memo: Mapping[str, Any] | None = None,
    search_attributes: TypedSearchAttributes | Mapping[str, Sequence[Any]] | None = None,
) -> ScheduleHandle:
    if not id or not isinstance(id, str):
        raise ValueError("create_schedule needs a schedule id, e.g. 'nightly-report'")
    state = schedule.state
    if state.limited_actions and not state.remaining_actions:
        raise ValueError("ScheduleState: limited_actions=True needs remaining_actions > 0 "
                         "(or set limited_actions=False)")
    if not state.limited_actions and state.remaining_actions:
        raise ValueError("ScheduleState: remaining_actions is set, so limited_actions must be "
                         "True")
    data = await _schedule_json(client, schedule)
    now = client._clock.now()
    row = ScheduleRow(
        schedule_id=id, schedule=data, info=logic.initial_info(now),
        memo={key: (await client._encode([value], f"schedule memo {key!r}"))[0]
              for key, value in (memo or {}).items()} or None,
        search_attributes=_sa.to_store(search_attributes) or None, created_at=now,
        updated_at=None, next_action_at=None)
    first = logic.next_times(row, 1)
    row.next_action_at = first[0] if first else None
    if not await client.store.create_schedule(row, now):
        raise ScheduleAlreadyRunningError(
            f"Schedule already running: a schedule with id {id!r} exists; delete it first or "
            "use get_schedule_handle(id).update(...)")
    handle = ScheduleHandle(client, id)
    if backfill:
        await handle._backfill_impl(*backfill)
    if trigger_immediately:
        await handle._trigger_impl()
    return handle


class ScheduleHandle:
    """Steers one schedule. Get it from ``Client.create_schedule`` or
    ``Client.get_schedule_handle``."""

    def __init__(self, client: Client, id: str) -> None:
        self._client = client
        self.id = id

    # The public methods go through the client's interceptors; the _impl methods do the work.
    async def backfill(self, *backfill: ScheduleBackfill, **_: Any) -> None:
        """Take the actions of past periods now, as if their times were passing now."""
        await self._client._outbound.backfill_schedule(BackfillScheduleInput(
            id=self.id, backfills=list(backfill)))

    async def delete(self, **_: Any) -> None:
        """Delete the schedule; workflows it started keep running."""
        await self._client._outbound.delete_schedule(DeleteScheduleInput(id=self.id))

    async def describe(self, **_: Any) -> ScheduleDescription:
        return await self._client._outbound.describe_schedule(DescribeScheduleInput(id=self.id))

    async def pause(self, *, note: str | None = None, **_: Any) -> None:
        await self._client._outbound.pause_schedule(PauseScheduleInput(id=self.id, note=note))

    async def unpause(self, *, note: str | None = None, **_: Any) -> None:
        await self._client._outbound.unpause_schedule(UnpauseScheduleInput(id=self.id,
                                                                           note=note))

    async def trigger(self, *, overlap: ScheduleOverlapPolicy | None = None,
                      **_: Any) -> None:
        """Take the action now (even when paused), subject to ``overlap`` or the schedule's
        overlap policy."""
        await self._client._outbound.trigger_schedule(TriggerScheduleInput(id=self.id,
                                                                           overlap=overlap))

    async def update(self, updater: Callable[[ScheduleUpdateInput],
                                             ScheduleUpdate | None
                                             | Awaitable[ScheduleUpdate | None]],
                     **_: Any) -> None:
        """Replace the schedule with what ``updater`` builds from its current description
        (returning None leaves it unchanged)."""
        await self._client._outbound.update_schedule(UpdateScheduleInput(id=self.id,
                                                                         updater=updater))

    async def _mutate(self, step: Callable[..., ScheduleRow], *args: Any) -> ScheduleRow:
        store = self._client.store
        now = self._client._clock.now()
        row = await store.mutate_schedule(
            self.id, lambda current, txn: step(current, txn, now, *args), now)
        if row is None:
            raise _not_found(self.id)
        return row

    async def _backfill_impl(self, *backfill: ScheduleBackfill, **_: Any) -> None:
        """Take the actions of past periods now, as if their times were passing now."""
        if not backfill:
            raise ValueError("backfill needs at least one ScheduleBackfill")
        periods: list[tuple[float, float, int | None]] = []
        for item in backfill:
            start_at, end_at = naive_as_utc(item.start_at), naive_as_utc(item.end_at)
            if end_at < start_at:
                raise ValueError(f"ScheduleBackfill end_at {item.end_at} is before start_at "
                                 f"{item.start_at}")
            periods.append((start_at.timestamp(), end_at.timestamp(),
                            int(item.overlap) if item.overlap else None))
        await self._mutate(logic.backfill, periods)

    async def _delete_impl(self, **_: Any) -> None:
        """Delete the schedule; workflows it started keep running."""
        if not await self._client.store.delete_schedule(self.id):
            raise _not_found(self.id)

    async def _describe_impl(self, **_: Any) -> ScheduleDescription:
        row = await self._client.store.get_schedule(self.id)
        if row is None:
            raise _not_found(self.id)
        running = []
        for run in row.running:
            latest = await self._client.store.get_execution(run.workflow_id, None)
            if latest is not None and latest.status == ExecutionStatus.RUNNING \
                    and latest.first_run_id == run.first_run_id:
                running.append(ScheduleActionExecutionStartWorkflow(run.workflow_id,
                                                                    run.first_run_id))
        info = ScheduleInfo(
            num_actions=row.info["num_actions"],
            num_actions_missed_catchup_window=row.info["missed_catchup"],
            num_actions_skipped_overlap=row.info["overlap_skipped"],
            running_actions=running, recent_actions=_results(row, logic.RECENT_ACTIONS),
            next_action_times=[logic.as_datetime(t) for t in logic.next_times(row, 10)],
            created_at=logic.as_datetime(row.created_at),
            last_updated_at=logic.as_datetime(row.updated_at)
            if row.updated_at is not None else None)
        typed, untyped = _sa.from_store(row.search_attributes), \
            _sa.to_dict_form(row.search_attributes)
        return ScheduleDescription(
            id=self.id, schedule=schedule_from_json(row.schedule), info=info,
            typed_search_attributes=typed, search_attributes=untyped,
            data_converter=self._client.data_converter, _memo=row.memo or {})

    async def _pause_impl(self, *, note: str | None = None, **_: Any) -> None:
        await self._mutate(logic.pause, note or "Paused via Python SDK")

    async def _unpause_impl(self, *, note: str | None = None, **_: Any) -> None:
        await self._mutate(logic.unpause, note or "Unpaused via Python SDK")

    async def _trigger_impl(self, *, overlap: ScheduleOverlapPolicy | None = None,
                      **_: Any) -> None:
        """Take the action now (even when paused), subject to ``overlap`` or the schedule's
        overlap policy."""
        await self._mutate(logic.trigger, int(overlap) if overlap else None)

    async def _update_impl(self, updater: Callable[[ScheduleUpdateInput],
                                             ScheduleUpdate | None
                                             | Awaitable[ScheduleUpdate | None]],
                     **_: Any) -> None:
        """Replace the schedule with what ``updater`` builds from its current description
        (returning None leaves it unchanged)."""
        description = await self._describe_impl()
        result = updater(ScheduleUpdateInput(description=description))
        if inspect.isawaitable(result):
            result = await result
        if result is None:
            return
        if not isinstance(result, ScheduleUpdate):
            raise TypeError(f"the update callback must return ScheduleUpdate or None, got "
                            f"{type(result).__name__}")
        data = await _schedule_json(self._client, result.schedule)
        search = None if result.search_attributes is None \
            else _sa.to_store(result.search_attributes)
        await self._mutate(logic.update, data, search)


class ScheduleAsyncIterator:
    """``async for`` over schedules (also awaitable, as Temporal's ``list_schedules`` is a
    coroutine returning the iterator)."""

    def __init__(self, client: Client, page_size: int) -> None:
        self._client = client
        self._page_size = page_size
        self._offset = 0
        self._page: list[ScheduleListDescription] | None = None
        self._index = 0
        self._exhausted = False

    @property
    def current_page_index(self) -> int:
        return self._index

    @property
    def current_page(self) -> Sequence[ScheduleListDescription] | None:
        return self._page

    @property
    def next_page_token(self) -> bytes | None:
        return None if self._exhausted else str(self._offset).encode()

    async def fetch_next_page(self, *, page_size: int | None = None) -> None:
        size = page_size or self._page_size
        rows = await self._client.store.list_schedules(size, self._offset)
        self._offset += len(rows)
        self._exhausted = len(rows) < size
        self._page = [_list_description(self._client, row) for row in rows]
        self._index = 0

    def __await__(self) -> Generator[Any, None, ScheduleAsyncIterator]:
        async def itself() -> ScheduleAsyncIterator:
            return self

        return itself().__await__()

    def __aiter__(self) -> ScheduleAsyncIterator:
        return self

    async def __anext__(self) -> ScheduleListDescription:
        while True:
            if self._page is None or (self._index >= len(self._page)
                                      and not self._exhausted):
                await self.fetch_next_page()
                continue
            if self._index >= len(self._page):
                raise StopAsyncIteration
            item = self._page[self._index]
            self._index += 1
            return item


def _list_description(client: Client, row: ScheduleRow) -> ScheduleListDescription:
    schedule = row.schedule
    return ScheduleListDescription(
        id=row.schedule_id,
        schedule=ScheduleListSchedule(
            action=ScheduleListActionStartWorkflow(workflow=schedule["action"]["workflow"]),
            spec=spec_from_json(schedule["spec"]),
            state=ScheduleListState(note=schedule["state"]["note"],
                                    paused=schedule["state"]["paused"])),
        info=ScheduleListInfo(
            recent_actions=_results(row, 5),
            next_action_times=[logic.as_datetime(t) for t in logic.next_times(row, 5)]),
        typed_search_attributes=_sa.from_store(row.search_attributes),
        search_attributes=_sa.to_dict_form(row.search_attributes),
        data_converter=client.data_converter, _memo=row.memo or {})


def list_schedules(client: Client, query: str | None = None, *, page_size: int = 1000,
                   **_: Any) -> ScheduleAsyncIterator:
    if query:
        raise ValueError(f"list_schedules(query={query!r}): Stalwart lists all schedules; "
                         "filter the results in Python")
    if page_size < 1:
        raise ValueError(f"list_schedules page_size must be positive, got {page_size}")
    return ScheduleAsyncIterator(client, page_size)


__all__ = ["ScheduleAsyncIterator", "ScheduleHandle", "create_schedule", "list_schedules"]
