"""Streamed model events, outside the history: written by the streaming model activity, read
by any client while the run goes on.

They live in the agent store's stream table (``AgentStore.write_stream``/``read_streams``),
one row per batch of events, written once: the row's ``stream_id`` is
``<topic>/<run id>/<activity id>/<attempt>/<batch>`` and its text a JSON object
``{"events": [...], "failed": null | "why"}``; ``done`` marks an attempt's last batch. A retried
call writes under a new attempt number, so a reader can tell that what it showed of the
earlier attempt is void. The history records only each call's final response.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal

from ...agents.store import AgentStore

__all__ = ["ModelStreamEvent", "StreamPublisher", "StreamStoreSource", "stream_events"]

logger = logging.getLogger(__name__)


class StreamStoreSource:
    """The agent store a worker streams into: the one given, else the agent store of the
    worker's own store (``AgentStore.beside``), opened when first needed."""

    def __init__(self, store: AgentStore | None = None) -> None:
        self._store = store
        self._store_url: str | None = None

    def bind(self, store_url: str) -> None:
        if self._store_url is None:
            self._store_url = store_url

    def get(self) -> AgentStore:
        if self._store is None:
            if not self._store_url:
                raise ValueError(
                    "Runner.run_streamed needs a place for streamed events: the plugin was "
                    "not applied to a worker; pass OpenAIAgentsPlugin(stream_store=AgentStore("
                    "url_or_path))")
            self._store = AgentStore.beside(self._store_url)
        return self._store


class StreamPublisher:
    """Writes one model call attempt's events in batches, at most every ``interval`` seconds."""

    def __init__(self, store: AgentStore, workflow_id: str, *, topic: str, run_id: str,
                 call: str, attempt: int, interval: float) -> None:
        self._store = store
        self._workflow_id = workflow_id
        call_key = call.zfill(8) if call.isdigit() else call
        self._prefix = f"{topic}/{run_id}/{call_key}/{attempt:04d}"
        self._interval = interval
        self._pending: list[Any] = []
        self._batch = 0
        self._last_write = 0.0
        self._closed = False
        self._broken = False

    async def publish(self, event: Any) -> None:
        self._pending.append(event)
        if time.monotonic() - self._last_write >= self._interval:
            await self._write(done=False, failed=None)

    async def close(self, failed: str | None = None) -> None:
        if not self._closed:
            self._closed = True
            await self._write(done=True, failed=failed)

    async def _write(self, *, done: bool, failed: str | None) -> None:
        events, self._pending = self._pending, []
        if self._broken:
            return
        self._batch += 1
        text = json.dumps({"events": events, "failed": failed})
        try:
            await asyncio.to_thread(self._store.write_stream, self._workflow_id,
                                    f"{self._prefix}/{self._batch:06d}", text, done)
        except Exception as error:
            # The stream is a view for readers; the model call's answer is what history
            # records, so a store that cannot take the view must not fail the call.
            self._broken = True
            logger.warning("streamed events of workflow %s are no longer written (%s: %s); "
                           "the model call goes on", self._workflow_id,
                           type(error).__name__, error)
        self._last_write = time.monotonic()


@dataclass(frozen=True)
class ModelStreamEvent:
    """One thing a reader of a streamed run learns.

    ``kind`` is ``"event"`` (``event`` is a raw model stream event as JSON, e.g.
    ``{"type": "response.output_text.delta", "delta": "Hel", ...}``), ``"retry"`` (the call
    ``call`` starts again as attempt ``attempt``: drop what you showed of its earlier
    attempts), ``"failed"`` (this attempt failed; ``error`` says why; a retry may follow) or
    ``"completed"`` (this attempt streamed to its end).
    """

    kind: Literal["event", "retry", "failed", "completed"]
    topic: str
    run_id: str
    call: str
    attempt: int
    event: dict[str, Any] | None = None
    error: str | None = None


@dataclass
class _Reader:
    topic: str | None
    seen: set[str] = field(default_factory=set)
    attempts: dict[tuple[str, str], int] = field(default_factory=dict)

    def read(self, store: AgentStore, workflow_id: str) -> list[ModelStreamEvent]:
        out: list[ModelStreamEvent] = []
        fresh = [row for row in store.read_streams(workflow_id)
                 if row.stream_id not in self.seen and row.stream_id.count("/") == 4]
        # Calls in the order the store lists them; within a call, attempts and batches in
        # their (zero-padded) order, whatever order the store returned rows in.
        calls: dict[str, int] = {}
        for row in fresh:
            calls.setdefault(row.stream_id.rsplit("/", 2)[0], len(calls))
        fresh.sort(key=lambda row: (calls[row.stream_id.rsplit("/", 2)[0]], row.stream_id))
        for row in fresh:
            parts = row.stream_id.split("/")
            topic, run_id, call_key, attempt_text, _batch = parts
            if self.topic is not None and topic != self.topic:
                continue
            self.seen.add(row.stream_id)
            call = (call_key.lstrip("0") or "0") if call_key.isdigit() else call_key
            attempt = int(attempt_text)
            common: dict[str, Any] = {"topic": topic, "run_id": run_id, "call": call,
                                      "attempt": attempt}
            latest = self.attempts.get((run_id, call))
            if latest is not None and attempt < latest:
                continue  # a late batch of an attempt that was already given up
            if latest is not None and attempt > latest:
                out.append(ModelStreamEvent("retry", **common))
            self.attempts[(run_id, call)] = attempt
            body = json.loads(row.text)
            out.extend(ModelStreamEvent("event", event=event, **common)
                       for event in body.get("events", []))
            if body.get("failed"):
                out.append(ModelStreamEvent("failed", error=body["failed"], **common))
            elif row.done:
                out.append(ModelStreamEvent("completed", **common))
        return out


async def stream_events(store: AgentStore, handle: Any, *, topic: str | None = None,
                        interval: float = 0.05) -> AsyncIterator[ModelStreamEvent]:
    """Follow the model events a workflow's ``Runner.run_streamed`` calls publish, as they
    are written, until the workflow is closed and everything written was read.

    Args:
        store: The agent store the workers stream into.
        handle: The workflow's handle (``client.get_workflow_handle(id)``).
        topic: Only events of this ``ModelActivityParameters.streaming_topic``.
        interval: Seconds between two looks at the store while nothing new is there.
    """
    reader = _Reader(topic)
    workflow_id = handle.id
    while True:
        events = await asyncio.to_thread(reader.read, store, workflow_id)
        for event in events:
            yield event
        if events:
            continue
        description = await handle.describe()
        if description.status.name != "RUNNING":
            for event in await asyncio.to_thread(reader.read, store, workflow_id):
                yield event
            return
        await asyncio.sleep(interval)
