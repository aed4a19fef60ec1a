"""What the routes share: the client, the read model, and the mapping of Stalwart's errors to
HTTP answers."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from .. import exceptions as exc
from .._converter_storage import REFERENCE_MESSAGE_TYPE
from .._history_lengths import TemporalLengths
from .._model.events import HistoryEvent
from .._model.temporal_history import to_temporal
from .._store.base import ExecutionRow, ExecutionStatus
from ..agents.inbox import InboxError
from ..client import Client
from ..common import RawValue
from ..converter import _payload_from_json, _payload_to_json
from .payloads import decode_payloads, iso
from .readmodel import ReadModel, RunSummary
from .validation import ApiError

logger = logging.getLogger(__name__)
REFERENCE_TYPE = REFERENCE_MESSAGE_TYPE.decode()

Row = TypeVar("Row", RunSummary, ExecutionRow)
_EXPANDED_RUNS = 8


@dataclass
class Backend:
    client: Client
    reads: ReadModel
    lengths: TemporalLengths = field(init=False)
    # The last few runs' histories in Temporal's model, by what they were expanded from: a
    # long history's pages are read one after the other, and expanding it again for each page
    # cost a fraction of a second at 10,000 events.
    _expanded: OrderedDict[str, tuple[Hashable, list[HistoryEvent]]] = field(
        init=False, default_factory=OrderedDict)

    def __post_init__(self) -> None:
        # The client's: the API, the pages and the client's own lists count runs once.
        self.lengths = self.client._history_lengths

    async def execution(self, workflow_id: str, run_id: str | None) -> ExecutionRow:
        row = await self.client.store.get_execution(workflow_id, run_id)
        if row is None:
            raise ApiError(404, "not_found", f"workflow {workflow_id!r}"
                           + (f" run {run_id!r}" if run_id else "") + " not found")
        return row

    async def temporal_events(self, row: ExecutionRow, *, external: bool = False
                              ) -> list[HistoryEvent]:
        """The run's whole history in Temporal's event model, as ``fetch_history()`` gives
        it (inputs no workflow task has taken yet included); with ``external``, externally
        stored payloads fetched (timeline pages show their references and fetch a value when
        it is opened)."""
        store = self.client.store
        inbox = [e.as_history_event() for e in await store.get_inbox(row.run_id)] \
            if row.status == ExecutionStatus.RUNNING else []
        if external and self.client.data_converter.external_storage is not None:
            stored = await store.get_history(row.run_id) + inbox
            for event in stored:
                await self.with_external_payloads(event.attributes)
            return await asyncio.to_thread(
                to_temporal, stored, run_id=row.run_id, namespace=self.client.namespace)
        # The stored rows only grow; the inbox is small and read each time.
        key = (row.history_length, row.status, tuple((e.event_type, e.timestamp) for e in inbox))
        cached = self._expanded.pop(row.run_id, None)
        if cached is not None and cached[0] == key:
            events = cached[1]
        else:
            stored = await store.get_history(row.run_id) + inbox
            # Expanding a long history takes a while: not on the event loop.
            events = await asyncio.to_thread(
                to_temporal, stored, run_id=row.run_id, namespace=self.client.namespace)
        self._expanded[row.run_id] = (key, events)
        while len(self._expanded) > _EXPANDED_RUNS:
            self._expanded.popitem(last=False)
        return events

    async def with_length(self, row: Row) -> Row:
        """The row with Temporal's history length in place of the stored row count."""
        length = await self.lengths.of(row.run_id, row.status, row.history_length)
        return replace(row, history_length=length)

    async def with_lengths(self, rows: list[Row]) -> list[Row]:
        return [await self.with_length(row) for row in rows]

    async def open_execution(self, workflow_id: str, run_id: str | None) -> ExecutionRow:
        row = await self.execution(workflow_id, run_id)
        if row.status != ExecutionStatus.RUNNING:
            raise ApiError(409, "workflow_closed",
                           f"workflow {workflow_id!r} run {row.run_id} is already closed "
                           f"({row.status.name.lower()})")
        return row

    async def encoded(self, args: list[Any]) -> list[Any]:
        """``args`` converted to payloads in a thread (a request's worth of JSON can take
        seconds to walk), handed on as ``RawValue``s that the client stores unchanged."""
        if not args:
            return args
        convert = self.client.data_converter.payload_converter.to_payloads
        try:
            payloads = await asyncio.to_thread(convert, args)
        except RecursionError:
            raise ApiError(422, "validation_error", "the arguments are nested too deeply",
                           "args") from None
        return [RawValue(p) for p in payloads]

    async def with_external_payloads(self, value: Any) -> Any:
        """``value`` (store form) with externally stored payloads fetched, when the server's
        data converter has the external storage that wrote them; as stored otherwise. The
        fetched payloads are what the store would hold without external storage (still
        encoded by any codec: the server has none)."""
        storage = self.client.data_converter.external_storage
        if storage is None:
            return value
        found: list[dict[str, Any]] = []
        _references(value, found)
        if found:
            payloads = await storage.retrieve_payloads([_payload_from_json(p) for p in found])
            for target, payload in zip(found, payloads, strict=True):
                target.clear()
                target.update(_payload_to_json(payload))
        return value

    async def close(self) -> None:
        self.reads.close()
        await self.client.close()


def _references(value: Any, found: list[dict[str, Any]]) -> None:
    if isinstance(value, dict):
        metadata = value.get("metadata")
        if isinstance(metadata, dict) and metadata.get("messageType") == REFERENCE_TYPE:
            found.append(value)
            return
        for item in value.values():
            _references(item, found)
    elif isinstance(value, list):
        for item in value:
            _references(item, found)


def map_error(error: BaseException) -> ApiError | None:
    """The API answer for an error Stalwart raised, or None for a bug."""
    if isinstance(error, ApiError):
        return error
    if isinstance(error, InboxError):
        return ApiError(error.status, error.code, error.message, error.field)
    if isinstance(error, exc.WorkflowAlreadyStartedError):
        return ApiError(409, "already_started", str(error))
    if isinstance(error, exc.WorkflowNotFoundError):
        if "already closed" in str(error):
            return ApiError(409, "workflow_closed", str(error))
        return ApiError(404, "not_found", str(error))
    if isinstance(error, exc.WorkflowUpdateFailedError):
        cause = error.cause or error
        return ApiError(422, "update_failed", f"update failed: {cause}")
    if isinstance(error, exc.WorkflowQueryFailedError):
        if error.__cause__ is None:
            return ApiError(504, "timeout", str(error))
        return ApiError(422, "query_failed", str(error))
    if isinstance(error, exc.StoreError):
        return _store_error(error)
    if isinstance(error, exc.RPCError):
        status = {exc.RPCStatusCode.NOT_FOUND: 404,
                  exc.RPCStatusCode.DEADLINE_EXCEEDED: 504}.get(error.status, 422)
        return ApiError(status, "rpc_error", str(error))
    if isinstance(error, ValueError | TypeError):
        return ApiError(422, "validation_error", str(error))
    return None


def summary_json(row: RunSummary | ExecutionRow) -> dict[str, Any]:
    return {
        "workflow_id": row.workflow_id, "run_id": row.run_id,
        "workflow_type": row.workflow_type, "task_queue": row.task_queue,
        "status": row.status.name, "start_time": iso(row.start_time),
        "close_time": iso(row.close_time), "history_length": row.history_length,
        "parent_workflow_id": row.parent_workflow_id, "parent_run_id": row.parent_run_id,
    }


def pending_activity_json(activity: dict[str, Any]) -> dict[str, Any]:
    out = dict(activity)
    for key in ("scheduled_at", "started_at", "last_heartbeat_at", "next_attempt_at"):
        out[key] = iso(activity.get(key))
    out["last_failure"] = decode_payloads(activity.get("last_failure"))
    return out


# SQLSTATE classes of errors about the data sent, not the database: 22 data exception (a NUL
# byte, a value out of range), 54 program limit exceeded (an index entry too large).
_DATA_SQLSTATE_CLASSES = ("22", "54")


def _store_error(error: BaseException) -> ApiError:
    """The answer for a store error. Its text names the store (address, file, schema) and
    the database's own message, which are for the server's log, never for the response."""
    cause = error.__cause__
    state = getattr(cause, "sqlstate", None)
    if (isinstance(state, str) and state[:2] in _DATA_SQLSTATE_CLASSES) or type(
            cause).__name__ in ("DataError", "IntegrityError"):
        logger.warning("the store refused a request's data: %s", error)
        return ApiError(422, "invalid_data", "the store refused a value in this request "
                        f"({type(cause).__name__}); check ids, names and payloads for "
                        "unusual characters or sizes")
    logger.error("store error: %s", error)
    return ApiError(503, "store_unavailable", "the store cannot be used right now; the "
                    "server's log has the details")
