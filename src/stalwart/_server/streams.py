"""A workflow's stream as Server-Sent Events: ``GET /api/workflows/<id>/stream`` (and the
same under ``/workflows/<id>/stream`` for the UI's session).

Each item is one event whose ``id`` is its offset, so a browser's ``EventSource`` that
reconnects sends ``Last-Event-ID`` and resumes after the last item it got. Query parameters:
``topic`` (repeatable; all topics when absent), ``from_offset`` (default 0), ``from_end=1``
(only new items), ``run_id`` (with ``follow=0``: only that run's items). Events: ``item``
(an item; ``data`` is JSON with ``offset``, ``topic``, ``data``, ``attempt``, ``failed``...),
``attempt_failed`` (the attempt's items are void), ``end`` (every run that could add to the
stream has closed and everything was sent). A comment line goes out every
``KEEPALIVE_SECONDS`` of silence so proxies keep the connection.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from .. import exceptions as exc
from .._client_streams import check_topics, follow_rows
from .._store.base import Store
from .payloads import decode_payloads, loads_lenient
from .validation import ApiError

KEEPALIVE_SECONDS = 15.0
# How long a reader waits between two looks at the store when no wake-up came.
POLL_SECONDS = 1.0
MAX_OFFSET = 2**62


def _offset(text: str, what: str, field: str) -> int:
    if not text.isdigit() or int(text) > MAX_OFFSET:
        raise ApiError(400, "invalid_parameter", f"{what} {text[:40]!r} is not an offset: give "
                       "a whole number of zero or more", field)
    return int(text)


def _flag(text: str | None, field: str) -> bool:
    if text is None or text in ("", "0", "false"):
        return False
    if text in ("1", "true"):
        return True
    raise ApiError(400, "invalid_parameter", f"query parameter {field!r} is {text[:40]!r}: "
                   "give 1/true or 0/false", field)


def event_of(row: Sequence[Any]) -> str:
    (offset, topic, data, _workflow_id, run_id, producer, activity_id, attempt, kind, failed,
     published_at) = row
    value = decode_payloads(loads_lenient(data)) if data is not None else None
    body = {"offset": int(offset), "topic": topic, "data": value, "run_id": run_id,
            "producer": producer, "activity_id": activity_id,
            "attempt": int(attempt) if attempt is not None else None, "failed": bool(failed),
            "kind": kind, "published_at": datetime.fromtimestamp(
                float(published_at), UTC).isoformat()}
    text = json.dumps(body, ensure_ascii=False, default=str)
    event = "item" if kind == "item" else kind
    return f"id: {int(offset)}\nevent: {event}\ndata: {text}\n\n"


async def sse_response(request: Request, store: Store, workflow_id: str,
                       run_id: str | None) -> Response:
    params = request.query_params
    try:
        topics = check_topics(params.getlist("topic") or None)
    except ValueError as error:
        raise ApiError(400, "invalid_parameter", str(error), "topic") from None
    from_offset = _offset(params.get("from_offset", "0"), "query parameter 'from_offset'",
                          "from_offset")
    last_event = request.headers.get("last-event-id")
    if last_event:
        from_offset = _offset(last_event.strip(), "header Last-Event-ID", "Last-Event-ID") + 1
    from_end = _flag(params.get("from_end"), "from_end") and not last_event
    follow = not (params.get("follow") is not None and not _flag(params.get("follow"),
                                                                 "follow"))
    if await store.resolve_stream(workflow_id, run_id) is None:
        raise ApiError(404, "not_found", f"workflow {workflow_id!r}"
                       + (f" run {run_id!r}" if run_id else "") + " not found")
    rows = follow_rows(store, workflow_id, run_id, topics, from_offset=from_offset,
                       from_end=from_end, follow_continue_as_new=follow,
                       poll_interval=POLL_SECONDS, wait_for_start=0.0)
    return StreamingResponse(_events(rows), media_type="text/event-stream", headers={
        "Cache-Control": "no-store", "X-Accel-Buffering": "no"})


async def _events(rows: AsyncIterator[Sequence[Any]]) -> AsyncIterator[str]:
    yield "retry: 1000\n\n"
    pending: asyncio.Task[Sequence[Any]] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(rows))
            done, _ = await asyncio.wait({pending}, timeout=KEEPALIVE_SECONDS)
            if not done:
                yield ": keepalive\n\n"
                continue
            task, pending = pending, None
            try:
                row = task.result()
            except StopAsyncIteration:
                yield "event: end\ndata: {}\n\n"
                return
            except exc.WorkflowNotFoundError as error:
                yield f"event: error\ndata: {json.dumps({'message': str(error)})}\n\n"
                return
            yield event_of(row)
    finally:
        if pending is not None:
            pending.cancel()
            await asyncio.gather(pending, return_exceptions=True)
        await rows.aclose()  # type: ignore[attr-defined]
