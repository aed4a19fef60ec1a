"""Visibility types of the client: runs as listed and described, and their histories."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import IntEnum
from typing import TYPE_CHECKING, Any

from ._engine.codec import decode_value
from ._model import search_attributes as _sa
from ._model.events import HistoryEvent
from ._model.history_json import history_from_json, history_to_json
from ._model.search_attributes import TypedSearchAttributes
from ._model.temporal_history import HistoryFormatError, from_temporal, to_temporal
from ._store.base import ExecutionRow
from .converter import DataConverter, _payload_from_json

if TYPE_CHECKING:
    from .client import Client


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
        return WorkflowHistory(workflow_id=workflow_id, events=events)


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
    typed_search_attributes: TypedSearchAttributes = TypedSearchAttributes.empty
    _search_attributes_store: dict[str, Any] = field(default_factory=dict, repr=False)
    _memo: dict[str, Any] = field(default_factory=dict, repr=False)
    _data_converter: DataConverter = field(default=DataConverter.default, repr=False)

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
                  cls: type[Any] | None = None, **extra: Any) -> Any:
        return (cls or WorkflowExecution)(
            id=row.workflow_id, run_id=row.run_id, workflow_type=row.workflow_type,
            task_queue=row.task_queue, status=WorkflowExecutionStatus(int(row.status)),
            start_time=datetime.fromtimestamp(row.start_time, UTC),
            close_time=ts(row.close_time),
            execution_time=datetime.fromtimestamp(row.start_time, UTC),
            history_length=row.history_length, first_execution_run_id=row.first_run_id,
            continued_as_new_run_id=row.next_run_id, namespace=namespace,
            parent_id=row.parent_workflow_id, parent_run_id=row.parent_run_id,
            typed_search_attributes=_sa.from_store(row.search_attributes),
            _search_attributes_store=row.search_attributes, _memo=row.memo,
            _data_converter=converter, **extra)


@dataclass
class WorkflowExecutionDescription(WorkflowExecution):
    """What ``describe()`` reports. ``pending_activities`` goes beyond Temporal's fields."""

    pending_activities: list[dict[str, Any]] = field(default_factory=list)
    pending_events: int = 0


@dataclass
class WorkflowExecutionCount:
    count: int
    groups: list[Any] = field(default_factory=list)


class WorkflowExecutionAsyncIterator:
    """``async for`` over the runs a list query matches, fetched page by page."""

    def __init__(self, client: Client, query: str | None, limit: int | None,
                 page_size: int) -> None:
        self._client = client
        self._query = query
        self._limit = limit
        self._page_size = page_size
        self._buffer: list[WorkflowExecution] = []
        self._offset = 0
        self._returned = 0
        self._exhausted = False

    def __aiter__(self) -> WorkflowExecutionAsyncIterator:
        return self

    async def __anext__(self) -> WorkflowExecution:
        if self._limit is not None and self._returned >= self._limit:
            raise StopAsyncIteration
        if not self._buffer and not self._exhausted:
            rows = await self._client.store.list_workflows(self._query, self._page_size,
                                                           self._offset)
            self._offset += len(rows)
            self._exhausted = len(rows) < self._page_size
            self._buffer = [WorkflowExecution._from_row(r, self._client.namespace,
                                                        self._client.data_converter)
                            for r in rows]
        if not self._buffer:
            raise StopAsyncIteration
        self._returned += 1
        return self._buffer.pop(0)

    async def map_histories(self) -> AsyncIterator[WorkflowHistory]:
        """The history of each matching run, in the same order."""
        async for execution in self:
            events = await self._client.store.get_history(execution.run_id)
            yield WorkflowHistory(execution.id, to_temporal(events, run_id=execution.run_id,
                                                            namespace=execution.namespace),
                                  execution.run_id)


def ts(value: float | None) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if value is not None else None
