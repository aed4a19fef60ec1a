"""Visibility types of the client: runs as listed and described, and their histories."""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from typing import TYPE_CHECKING, Any

from ._client_raw_description import raw_description
from ._engine.codec import decode_value
from ._history_events import HistoryEvent, public_events
from ._model import search_attributes as _sa
from ._model.events import CLOSE_EVENT_TYPES, EventType
from ._model.events import HistoryEvent as StoredEvent
from ._model.history_json import history_from_json, history_to_json
from ._model.list_filter import parse_list_query
from ._model.search_attributes import TypedSearchAttributes
from ._model.temporal_history import HistoryFormatError, from_temporal, to_temporal
from ._store.base import ExecutionRow, ExecutionStatus
from .converter import DataConverter, _payload_from_json

if TYPE_CHECKING:
    from ._client_interceptors import FetchWorkflowHistoryEventsInput
    from .client import Client, WorkflowHandle


class WorkflowExecutionStatus(IntEnum):
    RUNNING = 1
    COMPLETED = 2
    FAILED = 3
    CANCELED = 4
    TERMINATED = 5
    CONTINUED_AS_NEW = 6
    TIMED_OUT = 7


class WorkflowHistoryEventFilterType(IntEnum):
    """Which events ``fetch_history_events`` yields (mirrors Temporal's)."""

    ALL_EVENT = 1
    CLOSE_EVENT = 2


@dataclass
class WorkflowHistory:
    """A run's events in Temporal's event model; exports to and imports from Temporal's
    history JSON form.

    Each event has ``event_id``, ``event_type`` (``"ActivityTaskScheduled"`` …),
    ``timestamp`` and ``attributes``: the attributes exactly as Temporal's JSON has them
    (``{"activityType": {"name": "charge"}, "scheduledEventId": "5", …}``).
    """

    workflow_id: str
    events: Sequence[HistoryEvent]
    run_id: str = ""

    def __post_init__(self) -> None:
        self.events = public_events(self.events)
        if not self.run_id and self.events and \
                self.events[0].event_type == "WorkflowExecutionStarted":
            self.run_id = str(self.events[0].attributes.get("originalExecutionRunId", ""))

    def to_json_dict(self) -> dict[str, Any]:
        """The history as Temporal's JSON (proto3 JSON of its ``History`` message)."""
        return history_to_json(self.events)

    def to_json(self) -> str:
        return json.dumps(self.to_json_dict(), indent=2)

    @staticmethod
    def from_json(workflow_id: str, history: str | dict[str, Any]) -> WorkflowHistory:
        """Read a history exported by ``to_json`` or by Temporal (``temporal workflow show
        --output json``, the UI's download, ``temporalio``'s ``to_json``).

        Raises:
            ValueError: not a readable history; the message names the event id and field.
        """
        if isinstance(history, str):
            try:
                data = json.loads(history)
            except ValueError as error:
                raise HistoryFormatError(f"the history is not valid JSON: {error}") from None
        else:
            data = history
        events = history_from_json(data)
        from_temporal(events)  # validates references and order; nothing is kept half-read
        return WorkflowHistory(workflow_id=workflow_id, events=public_events(events))


@dataclass
class WorkflowExecution:
    """One run as visibility sees it (``list_workflows`` items; base of the description)."""

    id: str
    run_id: str
    workflow_type: str
    task_queue: str
    status: WorkflowExecutionStatus
    start_time: datetime
    close_time: datetime | None
    execution_time: datetime
    history_length: int
    first_execution_run_id: str
    continued_as_new_run_id: str | None
    namespace: str = "default"
    parent_id: str | None = None
    parent_run_id: str | None = None
    # The root of the run's chain of parents (the run itself when it has no parent). A
    # listed child's is None: the list reads no start events; describe() gives it.
    root_id: str | None = None
    root_run_id: str | None = None
    typed_search_attributes: TypedSearchAttributes = TypedSearchAttributes.empty
    _search_attributes_store: dict[str, Any] = field(default_factory=dict, repr=False)
    _memo: dict[str, Any] = field(default_factory=dict, repr=False)
    _data_converter: DataConverter = field(default=DataConverter.default, repr=False)
    # The store's row for the run (temporalio's is the server's WorkflowExecutionInfo).
    raw_info: ExecutionRow | None = field(default=None, repr=False, compare=False)

    @property
    def data_converter(self) -> DataConverter:
        """The client's data converter, which ``memo()`` decodes with."""
        return self._data_converter

    @property
    def search_attributes(self) -> dict[str, list[Any]]:
        """The older dict form: name -> list of values."""
        return _sa.to_dict_form(self._search_attributes_store)

    async def memo(self) -> dict[str, Any]:
        """The memo, decoded (without type hints)."""
        return {key: await self.memo_value(key) for key in self._memo}

    async def memo_value(self, key: str, default: Any = KeyError, *,
                         type_hint: type | None = None) -> Any:
        if key not in self._memo:
            if default is KeyError:
                raise KeyError(f"memo has no key {key!r}")
            return default
        converter = self._data_converter
        payload = await decode_value(copy.deepcopy(self._memo[key]), converter._store_codec)
        return converter.payload_converter.from_payload(_payload_from_json(payload), type_hint)

    @staticmethod
    def _from_row(row: ExecutionRow, namespace: str, converter: DataConverter,
                  cls: type[Any] | None = None, *, history_length: int, **extra: Any) -> Any:
        """``history_length``: Temporal's count (``TemporalLengths``), never the row's own,
        which counts the store's compact rows."""
        return (cls or WorkflowExecution)(
            id=row.workflow_id, run_id=row.run_id, workflow_type=row.workflow_type,
            task_queue=row.task_queue, status=WorkflowExecutionStatus(int(row.status)),
            start_time=utc(row.start_time), close_time=ts(row.close_time),
            execution_time=utc(row.start_time),
            history_length=history_length, first_execution_run_id=row.first_run_id,
            continued_as_new_run_id=row.next_run_id, namespace=namespace,
            parent_id=row.parent_workflow_id, parent_run_id=row.parent_run_id,
            root_id=None if row.parent_workflow_id else row.workflow_id,
            root_run_id=None if row.parent_workflow_id else row.run_id,
            typed_search_attributes=_sa.from_store(row.search_attributes),
            _search_attributes_store=row.search_attributes, _memo=row.memo,
            _data_converter=converter, raw_info=row, **extra)


@dataclass
class WorkflowExecutionDescription(WorkflowExecution):
    """What ``describe()`` reports. ``pending_activities`` goes beyond Temporal's fields."""

    pending_activities: list[dict[str, Any]] = field(default_factory=list)
    pending_events: int = 0
    # Stalwart's reset and fork links: the run this one was reset or forked from (and that
    # run's workflow id), and the run that a reset of this one made.
    base_workflow_id: str | None = None
    base_run_id: str | None = None
    reset_run_id: str | None = None
    # temporalio's DescribeWorkflowExecutionResponse, read as its message (see
    # _client_raw_description).
    raw_description: Any = field(default=None, repr=False, compare=False)
    # start_workflow's static_summary / static_details (None: not given).
    _static_summary: str | None = field(default=None, repr=False)
    _static_details: str | None = field(default=None, repr=False)

    async def static_summary(self) -> str | None:
        """The ``static_summary`` the run was started with."""
        return self._static_summary

    async def static_details(self) -> str | None:
        """The ``static_details`` the run was started with."""
        return self._static_details


@dataclass
class WorkflowExecutionCount:
    count: int
    groups: list[WorkflowExecutionCountAggregationGroup] = field(default_factory=list)


@dataclass
class WorkflowExecutionCountAggregationGroup:
    """One group of ``count_workflows("... GROUP BY ExecutionStatus")``."""

    count: int
    group_values: list[Any]


# Temporal's names of the statuses, as GROUP BY ExecutionStatus reports them.
_STATUS_GROUP_NAMES = ("Running", "Completed", "Failed", "Canceled", "Terminated",
                       "ContinuedAsNew", "TimedOut")
_GROUP_BY = re.compile(r"\s*\bgroup\s+by\s+(\w+)\s*$", re.IGNORECASE)


async def count_workflows(store: Any, query: str | None) -> WorkflowExecutionCount:
    """A count, or with ``GROUP BY ExecutionStatus`` (the one grouping Temporal allows) a
    count per status that has runs."""
    match = _GROUP_BY.search(query or "")
    if match is None:
        return WorkflowExecutionCount(await store.count_workflows(query))
    if match.group(1).lower() != "executionstatus":
        raise ValueError(f"count_workflows({query!r}): GROUP BY takes only ExecutionStatus, "
                         f"got {match.group(1)!r}")
    where = (query or "")[:match.start()].strip()
    groups = []
    for name in _STATUS_GROUP_NAMES:
        condition = f"ExecutionStatus = '{name}'"
        count = await store.count_workflows(f"({where}) AND {condition}" if where
                                            else condition)
        if count:
            groups.append(WorkflowExecutionCountAggregationGroup(count, [name]))
    return WorkflowExecutionCount(sum(g.count for g in groups), groups)


def list_query(query: str | None) -> str | None:
    """The filter of a ``list_workflows`` query, parsed here to fail fast. Temporal's server
    accepts a trailing ``GROUP BY ExecutionStatus`` on a list too (the grouping only means
    something to a count) and lists the matching runs: so does Stalwart.

    Raises:
        ListFilterError: the filter does not parse (an ``RPCError`` ``INVALID_ARGUMENT``).
    """
    match = _GROUP_BY.search(query or "")
    if match is not None and match.group(1).lower() == "executionstatus":
        query = (query or "")[:match.start()].strip() or None
    parse_list_query(query)
    return query


def _page_token(offset: int) -> bytes:
    """An opaque page token: the offset of the next page in the listing."""
    return f"stalwart-offset:{offset}".encode()


def _token_offset(token: bytes | None) -> int:
    if not token:
        return 0
    prefix, _, offset = token.decode(errors="replace").partition(":")
    if prefix != "stalwart-offset" or not offset.isdigit():
        raise ValueError(f"not a page token of this listing: {token!r}")
    return int(offset)


class WorkflowExecutionAsyncIterator:
    """``async for`` over the runs a list query matches, fetched page by page.

    As temporalio's: ``fetch_next_page()`` loads the next page into ``current_page``
    (``current_page_index`` is the entry ``__anext__`` returns next) and ``next_page_token``
    is None once the listing is exhausted; a token passed back to ``list_workflows``
    (``next_page_token=``) resumes the listing there."""

    def __init__(self, client: Client, query: str | None, limit: int | None,
                 page_size: int, next_page_token: bytes | None = None) -> None:
        self._client = client
        self._query = list_query(query)
        self._limit = limit
        self._page_size = page_size
        self._offset = _token_offset(next_page_token)
        self._next_page_token = next_page_token
        self._current_page: list[WorkflowExecution] | None = None
        self._current_page_index = 0
        self._returned = 0

    @property
    def current_page_index(self) -> int:
        return self._current_page_index

    @property
    def current_page(self) -> Sequence[WorkflowExecution] | None:
        return self._current_page

    @property
    def next_page_token(self) -> bytes | None:
        return self._next_page_token

    async def fetch_next_page(self, *, page_size: int | None = None) -> None:
        """Load the next page (of ``page_size`` runs, else the listing's page size)."""
        size = page_size or self._page_size
        if self._limit is not None:
            size = max(0, min(size, self._limit - self._returned))
        rows = await self._client.store.list_workflows(self._query, size, self._offset) \
            if size else []
        self._offset += len(rows)
        lengths = self._client._history_lengths
        self._current_page = [WorkflowExecution._from_row(
            r, self._client.namespace, self._client.data_converter,
            history_length=await lengths.of(r.run_id, r.status, r.history_length))
            for r in rows]
        self._current_page_index = 0
        self._next_page_token = _page_token(self._offset) if rows and len(rows) == size \
            else None

    def __aiter__(self) -> WorkflowExecutionAsyncIterator:
        return self

    async def __anext__(self) -> WorkflowExecution:
        while True:
            if self._limit is not None and self._returned >= self._limit:
                raise StopAsyncIteration
            page = self._current_page
            if page is None or (self._current_page_index >= len(page)
                                and self._next_page_token is not None):
                await self.fetch_next_page()
                continue
            if self._current_page_index >= len(page):
                raise StopAsyncIteration
            self._current_page_index += 1
            self._returned += 1
            return page[self._current_page_index - 1]

    async def map_histories(self) -> AsyncIterator[WorkflowHistory]:
        """The history of each matching run, in the same order."""
        async for execution in self:
            events = await self._client.store.get_history(execution.run_id)
            yield WorkflowHistory(execution.id, public_events(to_temporal(
                events, run_id=execution.run_id, namespace=execution.namespace)),
                execution.run_id)


def ts(value: float | None) -> datetime | None:
    return utc(value) if value is not None else None


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def utc(value: float) -> datetime:
    """A stored time (float seconds) as a datetime, cut down to the microsecond, never
    rounded up: the time a list filter gets back from it (``StartTime >= '<isoformat>'``)
    then still matches the run, as on Temporal."""
    micros = math.floor(value * 1_000_000)
    if micros / 1_000_000 > value:  # the product was rounded up across an integer
        micros -= 1
    return _EPOCH + timedelta(microseconds=micros)


class PendingActivityState(IntEnum):
    """State of a pending activity (as in ``describe().pending_activities``)."""

    UNSPECIFIED = 0
    SCHEDULED = 1
    STARTED = 2
    CANCEL_REQUESTED = 3
    PAUSED = 4
    PAUSE_REQUESTED = 5


def first_task_backoff(history: Sequence[StoredEvent]) -> timedelta:
    """How long after its start a run was due (a cron run's wait for its schedule)."""
    if not history:
        return timedelta(0)
    return timedelta(seconds=float(history[0].attributes.get("first_workflow_task_backoff")
                                   or 0))


_HISTORY_POLL_SECONDS = 0.2


class WorkflowHistoryEventAsyncIterator:
    """The events of ``WorkflowHandle.fetch_history_events``, one by one (``async for``).

    With ``wait_new_event`` it follows the run: it waits for events still to come and ends
    once the run has closed (the close event is the last one yielded). ``CLOSE_EVENT`` yields
    only the close event (waiting for it with ``wait_new_event``). Paged as temporalio's:
    ``fetch_next_page()`` loads up to ``page_size`` events into ``current_page`` (waiting
    for new ones when following the run) and ``next_page_token`` is None once there are no
    more.
    """

    def __init__(self, client: Client, input: FetchWorkflowHistoryEventsInput) -> None:
        self._client = client
        self._input = input
        self._seen = _token_offset(input.next_page_token)
        self._next_page_token = input.next_page_token
        self._current_page: list[HistoryEvent] | None = None
        self._current_page_index = 0

    @property
    def current_page_index(self) -> int:
        return self._current_page_index

    @property
    def current_page(self) -> Sequence[HistoryEvent] | None:
        return self._current_page

    @property
    def next_page_token(self) -> bytes | None:
        return self._next_page_token

    async def fetch_next_page(self, *, page_size: int | None = None) -> None:
        """Load the next page of events (waiting for some when following the run)."""
        size = page_size or self._input.page_size or 1000
        handle = self._client.get_workflow_handle(self._input.id, run_id=self._input.run_id)
        only_close = self._input.event_filter_type == WorkflowHistoryEventFilterType.CLOSE_EVENT
        while True:
            row, events = await temporal_events(handle)
            running = row.status == ExecutionStatus.RUNNING
            final = len(events)
            if running and self._input.wait_new_event and events and \
                    events[-1].event_type == EventType.WORKFLOW_TASK_SCHEDULED:
                # Inputs that arrive before the task starts go before it: not final yet.
                final -= 1
            end = min(final, self._seen + size)
            page = [event for event in events[self._seen:end]
                    if not only_close or event.event_type in CLOSE_EVENT_TYPES]
            self._seen = max(self._seen, end)
            more = self._seen < final or (running and self._input.wait_new_event)
            if page or not more or self._seen < final:
                break
            sub = self._client.store.subscribe(("closed", row.run_id))
            try:
                # Histories grow without a wakeup of their own; a short poll picks up what a
                # workflow task adds, the close wakes us at once.
                await sub.wait(_HISTORY_POLL_SECONDS)
            finally:
                sub.close()
        self._current_page = page
        self._current_page_index = 0
        self._next_page_token = _page_token(self._seen) if more else None

    def __aiter__(self) -> WorkflowHistoryEventAsyncIterator:
        return self

    async def __anext__(self) -> HistoryEvent:
        while True:
            page = self._current_page
            if page is not None and self._current_page_index < len(page):
                self._current_page_index += 1
                return page[self._current_page_index - 1]
            if page is not None and self._next_page_token is None:
                raise StopAsyncIteration
            await self.fetch_next_page()


async def temporal_events(handle: WorkflowHandle[Any, Any]
                          ) -> tuple[ExecutionRow, list[HistoryEvent]]:
    """The run's history as users see it: Temporal's events, with the inputs no workflow
    task has taken yet (part of Temporal's history already) while it runs."""
    row = await handle._execution(handle._run_id)
    store = handle._client.store
    events = await store.get_history(row.run_id)
    if row.status == ExecutionStatus.RUNNING:
        events = events + [e.as_history_event() for e in await store.get_inbox(row.run_id)]
    return row, public_events(to_temporal(
        events, run_id=row.run_id, namespace=handle._client.namespace,
        now=handle._client._clock.now()))


async def describe(handle: WorkflowHandle[Any, Any]) -> WorkflowExecutionDescription:
    """What ``WorkflowHandle.describe()`` reports, read from the store."""
    client = handle._client
    row = await handle._execution(handle._run_id)
    store = client.store
    pending = await store.list_pending_activities(row.run_id)
    inbox = await store.get_inbox(row.run_id) if row.status == ExecutionStatus.RUNNING \
        else []
    # Temporal's event count (not the compact stored one), counted as list_workflows()
    # counts it, and execution time (cron backoff).
    description: WorkflowExecutionDescription = WorkflowExecution._from_row(
        row, client.namespace, client.data_converter,
        WorkflowExecutionDescription, pending_activities=pending,
        pending_events=len(inbox), history_length=await client._history_lengths.of(
            row.run_id, row.status, row.history_length))
    first = await store.get_history(row.run_id, 0, 1)
    description.execution_time += first_task_backoff(first)
    metadata = first[0].attributes.get("user_metadata") or {} if first else {}
    description._static_summary = metadata.get("summary")
    description._static_details = metadata.get("details")
    root = first[0].attributes.get("root") if first else None
    if root:  # a child's root, written at its start (else the run is its own root)
        description.root_id, description.root_run_id = root["workflow_id"], root["run_id"]
    (description.base_workflow_id, description.base_run_id,
     description.reset_run_id) = await store.reset_links(row.run_id)
    description.raw_description = raw_description(
        row, first[0] if first else None, client.namespace, description.history_length,
        description.execution_time.timestamp(), pending)
    return description
