"""Streamed model events as readers follow them: published by the streaming model activity to
the workflow's stream (``stalwart.contrib.workflow_streams``), read by any client while the
run goes on.

Each model event is one stream item on the topic ``ModelActivityParameters.streaming_topic``
(``"model"`` when unset): ``{"call": <activity id>, "event": {...}}``. An attempt ends with
``{"call": ..., "completed": true}`` or ``{"call": ..., "failed": "why"}``. Items carry the
attempt that published them; the store marks an attempt's items failed (and appends a marker)
when the attempt fails, however it failed (an exception, a timeout, a killed worker). The
history records each call's events once, as the activity's result, when the call ends.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal

from ..._client_streams import WorkflowStreamClient

__all__ = ["ModelStreamEvent", "StreamPublisher", "stream_events"]

logger = logging.getLogger(__name__)

DEFAULT_TOPIC = "model"


class StreamPublisher:
    """Publishes one model call attempt's events, in batches at most ``interval`` apart."""

    def __init__(self, *, topic: str, call: str, interval: float) -> None:
        self._topic = topic
        self._call = call
        self._stream = WorkflowStreamClient.from_within_activity(batch_interval=interval)
        self._closed = False
        self._broken = False

    async def publish(self, event: Any) -> None:
        self._put({"call": self._call, "event": event})

    async def close(self, failed: str | None = None) -> None:
        if self._closed:
            return
        self._closed = True
        self._put({"call": self._call, "failed": failed} if failed is not None
                  else {"call": self._call, "completed": True})
        if self._broken:
            return
        try:
            await self._stream.flush()
        except Exception as error:
            self._give_up(error)

    def _put(self, value: dict[str, Any]) -> None:
        if not self._broken:
            self._stream.publish(self._topic, value)

    def _give_up(self, error: BaseException) -> None:
        # The stream is a view for readers; the model call's answer is what history records,
        # so a store that cannot take the view must not fail the call.
        self._broken = True
        logger.warning("streamed events of workflow stream %r are no longer written (%s: %s);"
                       " the model call goes on", self._topic, type(error).__name__, error)


@dataclass(frozen=True)
class ModelStreamEvent:
    """One thing a reader of a streamed run learns.

    ``kind`` is ``"event"`` (``event`` is a raw model stream event as JSON, e.g.
    ``{"type": "response.output_text.delta", "delta": "Hel", ...}``), ``"retry"`` (the call
    ``call`` starts again as attempt ``attempt``: drop what you showed of its earlier
    attempts), ``"failed"`` (this attempt failed; ``error`` says why; a retry may follow) or
    ``"completed"`` (this attempt streamed to its end). ``offset`` is the item's place in the
    workflow's stream: pass ``offset + 1`` as ``from_offset`` to resume after it.
    """

    kind: Literal["event", "retry", "failed", "completed"]
    topic: str
    run_id: str
    call: str
    attempt: int
    event: dict[str, Any] | None = None
    error: str | None = None
    offset: int = 0


async def stream_events(handle: Any, *, topic: str | None = None,
                        from_offset: int = 0) -> AsyncIterator[ModelStreamEvent]:
    """Follow the model events a workflow's ``Runner.run_streamed`` calls publish, as they
    are published, until the workflow is closed and everything published was read.

    Args:
        handle: The workflow's handle (``client.get_workflow_handle(id)``).
        topic: Only events of this ``ModelActivityParameters.streaming_topic`` (default: the
            default topic).
        from_offset: Resume after an event already seen (its ``offset + 1``).
    """
    client = handle._client
    stream = WorkflowStreamClient.create(client, handle.id)
    attempts: dict[tuple[str, str], int] = {}
    failed: set[tuple[str, str, int]] = set()
    async for item in stream.subscribe([topic or DEFAULT_TOPIC], from_offset):
        body = item.data if isinstance(item.data, dict) else {}
        call = str(body.get("call") or item.activity_id or "")
        attempt = item.attempt or 1
        common: dict[str, Any] = {"topic": item.topic, "run_id": item.run_id, "call": call,
                                  "attempt": attempt, "offset": item.offset}
        if item.kind == "attempt_failed":
            if (item.run_id, call, attempt) not in failed:
                failed.add((item.run_id, call, attempt))
                yield ModelStreamEvent("failed", error="the attempt failed", **common)
            continue
        latest = attempts.get((item.run_id, call))
        if latest is not None and attempt < latest:
            continue  # a late item of an attempt that was already given up
        if latest is not None and attempt > latest:
            yield ModelStreamEvent("retry", **common)
        attempts[(item.run_id, call)] = attempt
        if "event" in body:
            yield ModelStreamEvent("event", event=body["event"], **common)
        elif body.get("failed") is not None:
            failed.add((item.run_id, call, attempt))
            yield ModelStreamEvent("failed", error=str(body["failed"]), **common)
        elif body.get("completed"):
            yield ModelStreamEvent("completed", **common)
