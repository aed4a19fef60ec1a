"""The JSON API under ``/api``. Its contract is the OpenAPI document in ``openapi.py``.

Workflow ids may hold any character, ``/`` included, so they travel percent-encoded in one path
segment (``/api/workflows/a%2Fb/history``) and the routes read the raw path to split them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .._model import limits
from .._store.base import ExecutionStatus
from ..common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from .backend import Backend, map_error, pending_activity_json, summary_json
from .openapi import openapi_document
from .paths import any_character_route, segment_id
from .payloads import decode_payloads, iso
from .streams import sse_response
from .timeline import payload_values
from .validation import (
    MAX_BODY_BYTES,
    MAX_HISTORY_LIMIT,
    MAX_LIST_LIMIT,
    MAX_OFFSET,
    MAX_REASON_CHARS,
    MAX_TIMEOUT_SECONDS,
    MAX_WAIT_SECONDS,
    ApiError,
    Body,
    list_filter,
    parse_json_body,
    query_int,
)

logger = logging.getLogger(__name__)

Handler = Callable[[Request], Awaitable[Response]]
WORKFLOWS_PREFIX = b"/api/workflows/"


# Bodies and answers below this size are handled on the event loop; larger ones in a thread,
# so one big request does not hold up every other.
_INLINE_BYTES = 64 * 1024


class _Json(JSONResponse):
    def __init__(self, content: bytes, status_code: int = 200) -> None:
        super().__init__(None, status_code=status_code)
        self.body = content
        self.init_headers()


async def json_response(data: Any, status_code: int = 200) -> Response:
    """``JSONResponse``, serialised in a thread: a history page of large payloads takes a
    while to encode."""
    return _Json(await asyncio.to_thread(_encode_json, data), status_code)


def _encode_json(data: Any) -> bytes:
    # NaN or an infinity in a query or update result is shown as text, not as invalid JSON.
    return limits.dumps_strict(data, ensure_ascii=False, separators=(",", ":")).encode()


def error_response(error: ApiError) -> JSONResponse:
    headers = dict(error.headers)
    if error.status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="stalwart"'
    return JSONResponse(error.body(), status_code=error.status, headers=headers or None)


def api_endpoint(fn: Handler) -> Handler:
    """Every Stalwart or validation error becomes its JSON answer; a bug becomes a 500 that
    says so (and is logged), never a stack trace in the response."""
    async def wrapper(request: Request) -> Response:
        try:
            return await fn(request)
        except Exception as error:
            mapped = map_error(error)
            if mapped is None:
                logger.exception("unexpected error in %s %s", request.method, request.url.path)
                mapped = ApiError(500, "internal", f"internal error: {type(error).__name__}")
            return error_response(mapped)

    return wrapper


def backend_of(request: Request) -> Backend:
    backend: Backend = request.app.state.backend
    return backend


async def json_body(request: Request) -> Body:
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() != "application/json":
        # Also what keeps browsers from sending this cross-site without a CORS preflight.
        raise ApiError(415, "unsupported_media_type",
                       "send the request body as JSON with 'Content-Type: application/json' "
                       "(use {} when there is nothing to send)")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise ApiError(413, "payload_too_large",
                       f"request body is larger than {MAX_BODY_BYTES} bytes")
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise ApiError(413, "payload_too_large",
                           f"request body is larger than {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if size <= _INLINE_BYTES:
        return Body(parse_json_body(raw))
    return Body(await asyncio.to_thread(parse_json_body, raw))


def workflow_path(request: Request) -> tuple[str, str | None]:
    """The workflow id and the action after it (None for the workflow itself)."""
    raw: bytes = request.scope.get("raw_path") or request.url.path.encode()
    rest = raw[len(WORKFLOWS_PREFIX):] if raw.startswith(WORKFLOWS_PREFIX) else b""
    parts = rest.split(b"/")
    if not parts[0] or len(parts) > 2:
        raise ApiError(404, "not_found", f"no API endpoint at {request.url.path[:200]!r}")
    try:
        workflow_id = limits.check_reference("the workflow id in the path",
                                             segment_id(parts[0]))
    except UnicodeDecodeError:
        raise ApiError(400, "invalid_parameter", "the workflow id in the path is not UTF-8",
                       "workflow_id") from None
    except ValueError as error:
        raise ApiError(400, "invalid_parameter", str(error), "workflow_id") from None
    action = parts[1].decode("latin-1") if len(parts) == 2 else None
    return workflow_id, action


def run_id_param(request: Request) -> str | None:
    value = request.query_params.get("run_id")
    if not value:
        return None
    try:
        return limits.check_reference("query parameter 'run_id'", value)
    except ValueError as error:
        raise ApiError(400, "invalid_parameter", str(error), "run_id") from None


# -- collection -------------------------------------------------------------------------------

@api_endpoint
async def list_workflows(request: Request) -> Response:
    params = request.query_params
    flt = list_filter(params)
    limit = query_int(params, "limit", default=50, minimum=1, maximum=MAX_LIST_LIMIT)
    offset = query_int(params, "offset", default=0, minimum=0, maximum=MAX_OFFSET)
    backend = backend_of(request)
    rows = await backend.with_lengths(await backend.reads.list_runs(flt, limit + 1, offset))
    more = len(rows) > limit
    return JSONResponse({"workflows": [summary_json(r) for r in rows[:limit]],
                         "next_offset": offset + limit if more else None})


@api_endpoint
async def count_workflows(request: Request) -> Response:
    flt = list_filter(request.query_params)
    return JSONResponse({"count": await backend_of(request).reads.count(flt)})


@api_endpoint
async def start_workflow(request: Request) -> Response:
    body = await json_body(request)
    workflow_type = body.required_text("workflow_type")
    task_queue = body.required_text("task_queue")
    workflow_id = body.required_text("workflow_id")
    args = body.args()
    timeouts = {name: _seconds(body.number(name, default=None, minimum=0,
                                           maximum=MAX_TIMEOUT_SECONDS))
                for name in ("execution_timeout", "run_timeout", "task_timeout")}
    reuse = body.choice("id_reuse_policy", {p.name: int(p) for p in WorkflowIDReusePolicy})
    conflict = body.choice("id_conflict_policy",
                           {p.name: int(p) for p in WorkflowIDConflictPolicy})
    body.done()
    backend = backend_of(request)
    handle = await backend.client.start_workflow(
        workflow_type, args=await backend.encoded(args), id=workflow_id, task_queue=task_queue,
        execution_timeout=timeouts["execution_timeout"], run_timeout=timeouts["run_timeout"],
        task_timeout=timeouts["task_timeout"],
        id_reuse_policy=WorkflowIDReusePolicy(reuse or WorkflowIDReusePolicy.ALLOW_DUPLICATE),
        id_conflict_policy=WorkflowIDConflictPolicy(conflict or 0))
    return JSONResponse({"workflow_id": handle.id, "run_id": handle.result_run_id}, status_code=201)


def _seconds(value: float | None) -> timedelta | None:
    # A positive timeout below a microsecond (timedelta's unit) still means "a timeout".
    return max(timedelta(seconds=value), timedelta(microseconds=1)) if value else None


# -- one workflow -----------------------------------------------------------------------------

@api_endpoint
async def workflow_get(request: Request) -> Response:
    workflow_id, action = workflow_path(request)
    if action is None:
        return await _describe(request, workflow_id)
    if action == "history":
        return await _history(request, workflow_id)
    if action == "usage":
        from .api_ops import usage

        return await usage(request, workflow_id)
    if action == "stream":
        return await sse_response(request, backend_of(request).client.store, workflow_id,
                                  run_id_param(request))
    if action in _POST_ACTIONS:
        raise ApiError(405, "method_not_allowed", f"{action!r} takes POST; GET the workflow "
                       "itself or its /history", headers={"Allow": "POST"})
    raise ApiError(404, "not_found", f"no GET endpoint {action!r} for a workflow; GET the "
                   "workflow itself, its /history or its /stream")


@api_endpoint
async def workflow_post(request: Request) -> Response:
    workflow_id, action = workflow_path(request)
    handler = _POST_ACTIONS.get(action or "")
    if handler is None:
        if action in (None, "history", "stream"):
            raise ApiError(405, "method_not_allowed",
                           f"POST is not allowed here; POST to one of "
                           f"{', '.join('/' + a for a in _POST_ACTIONS)}",
                           headers={"Allow": "GET, HEAD"})
        raise ApiError(404, "not_found", f"no workflow action {action!r}; actions: "
                       f"{', '.join(_POST_ACTIONS)}")
    return await handler(request, workflow_id)


async def _describe(request: Request, workflow_id: str) -> Response:
    backend = backend_of(request)
    store = backend.client.store
    row = await backend.with_length(await backend.execution(workflow_id,
                                                             run_id_param(request)))
    pending = await store.list_pending_activities(row.run_id)
    inbox = await store.get_inbox(row.run_id) if row.status == ExecutionStatus.RUNNING else []
    first = await store.get_history(row.run_id, 0, 1)
    started = first[0].attributes if first else {}

    def answer() -> bytes:
        data = summary_json(row)
        data.update({
            "first_execution_run_id": row.first_run_id,
            "continued_from_run_id": row.continued_run_id,
            "continued_as_new_run_id": row.next_run_id,
            "input": decode_payloads(started.get("input", [])),
            "result": decode_payloads(row.result) if row.result is not None else None,
            "failure": decode_payloads(row.failure),
            "pending_activities": [pending_activity_json(a) for a in pending],
            "pending_events": [{"event_type": e.event_type, "timestamp": iso(e.timestamp),
                                "attributes": decode_payloads(e.attributes)} for e in inbox],
            "memo": decode_payloads(row.memo or {}),
        })
        return _encode_json(data)

    # Decoding and encoding payloads takes a while for large ones: not on the event loop.
    return _Json(await asyncio.to_thread(answer))


async def _history(request: Request, workflow_id: str) -> Response:
    """A page of the run's history in Temporal's event model, as ``fetch_history()`` gives it
    (event ids are Temporal's; ``after`` is the last event id of the previous page)."""
    backend = backend_of(request)
    params = request.query_params
    after = query_int(params, "after", default=0, minimum=0, maximum=MAX_OFFSET)
    limit = query_int(params, "limit", default=100, minimum=1, maximum=MAX_HISTORY_LIMIT)
    row = await backend.execution(workflow_id, run_id_param(request))
    history = await backend.temporal_events(row, external=True)
    events = history[after:after + limit]

    def page() -> bytes:
        return _encode_json({
            "workflow_id": row.workflow_id, "run_id": row.run_id,
            "history_length": len(history),
            "events": [{"event_id": e.event_id, "event_type": str(e.event_type),
                        "timestamp": iso(e.timestamp),
                        "attributes": payload_values(e.attributes)} for e in events],
            "next_after": events[-1].event_id
            if events and events[-1].event_id < len(history) else None,
        })

    return _Json(await asyncio.to_thread(page))


async def _signal(request: Request, workflow_id: str) -> Response:
    body = await json_body(request)
    name = body.required_text("name")
    args = body.args()
    body.done()
    backend = backend_of(request)
    run_id = run_id_param(request)
    row = await backend.open_execution(workflow_id, run_id)
    handle = backend.client.get_workflow_handle(workflow_id, run_id=run_id)
    await handle.signal(name, args=await backend.encoded(args))
    return JSONResponse({"workflow_id": workflow_id, "run_id": row.run_id, "signal": name},
                        status_code=202)


async def _query(request: Request, workflow_id: str) -> Response:
    body = await json_body(request)
    name = body.required_text("name")
    args = body.args()
    timeout = body.number("timeout", default=10.0, minimum=0, maximum=MAX_WAIT_SECONDS)
    body.done()
    backend = backend_of(request)
    run_id = run_id_param(request)
    await backend.execution(workflow_id, run_id)
    handle = backend.client.get_workflow_handle(workflow_id, run_id=run_id)
    # A positive timeout below a microsecond (timedelta's unit) is still a timeout, not the
    # 10 s default that a zero timedelta would mean.
    value = await handle.query(name, args=await backend.encoded(args),
                               rpc_timeout=max(timedelta(seconds=timeout or 10.0),
                                               timedelta(microseconds=1)))
    return await json_response({"result": value})


async def _update(request: Request, workflow_id: str) -> Response:
    body = await json_body(request)
    name = body.required_text("name")
    args = body.args()
    update_id = body.text("update_id")
    timeout = body.number("timeout", default=30.0, minimum=0, maximum=MAX_WAIT_SECONDS)
    body.done()
    backend = backend_of(request)
    run_id = run_id_param(request)
    await backend.open_execution(workflow_id, run_id)
    handle = backend.client.get_workflow_handle(workflow_id, run_id=run_id)
    update_handle = await _wait(handle.start_update(name, args=await backend.encoded(args),
                                                    id=update_id or None),
                                timeout, f"update {name!r} was not accepted")
    value = await _wait(update_handle.result(), timeout,
                        f"update {name!r} (id {update_handle.id}) was accepted but did not "
                        "complete")
    return await json_response({"update_id": update_handle.id, "result": value})


async def _wait(awaitable: Awaitable[Any], timeout: float | None, what: str) -> Any:
    try:
        return await asyncio.wait_for(awaitable, timeout)
    except TimeoutError:
        raise ApiError(504, "timeout", f"{what} within {timeout:g} s: is a worker polling the "
                       "workflow's task queue?") from None


async def _cancel(request: Request, workflow_id: str) -> Response:
    body = await json_body(request)
    body.done()
    backend = backend_of(request)
    run_id = run_id_param(request)
    row = await backend.open_execution(workflow_id, run_id)
    await backend.client.get_workflow_handle(workflow_id, run_id=run_id).cancel()
    return JSONResponse({"workflow_id": workflow_id, "run_id": row.run_id,
                         "cancel_requested": True}, status_code=202)


async def _terminate(request: Request, workflow_id: str) -> Response:
    body = await json_body(request)
    reason = body.text("reason", limit=MAX_REASON_CHARS)
    body.done()
    backend = backend_of(request)
    run_id = run_id_param(request)
    row = await backend.open_execution(workflow_id, run_id)
    await backend.client.get_workflow_handle(workflow_id, run_id=run_id).terminate(
        reason=reason or "terminated through the HTTP API")
    return JSONResponse({"workflow_id": workflow_id, "run_id": row.run_id,
                         "terminated": True})


_POST_ACTIONS: dict[str, Callable[[Request, str], Awaitable[Response]]] = {
    "signal": _signal, "query": _query, "update": _update, "cancel": _cancel,
    "terminate": _terminate,
}


async def openapi(request: Request) -> Response:
    return JSONResponse(openapi_document())


@api_endpoint
async def health(request: Request) -> Response:
    await backend_of(request).reads.count_by_status(list_filter({}))
    return JSONResponse({"ok": True})


@api_endpoint
async def workflows(request: Request) -> Response:
    if request.method in ("GET", "HEAD"):
        return await list_workflows(request)
    if request.method == "POST":
        return await start_workflow(request)
    raise ApiError(405, "method_not_allowed", f"{request.method} is not allowed here",
                   headers={"Allow": "GET, HEAD, POST"})


@api_endpoint
async def one_workflow(request: Request) -> Response:
    # One route for every method, so a 405 lists exactly what the address takes.
    if request.method in ("GET", "HEAD"):
        return await workflow_get(request)
    if request.method == "POST":
        return await workflow_post(request)
    _, action = workflow_path(request)
    if action is not None and action not in _POST_ACTIONS and action not in ("history",
                                                                             "stream"):
        raise ApiError(404, "not_found", f"no workflow action {action!r}")
    raise ApiError(405, "method_not_allowed", f"{request.method} is not allowed here",
                   headers={"Allow": "POST" if action in _POST_ACTIONS else "GET, HEAD"})


_ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]

routes = [
    Route("/api/openapi.json", openapi, methods=["GET"]),
    Route("/api/health", health, methods=["GET"]),
    Route("/api/workflows", workflows, methods=_ALL_METHODS),
    Route("/api/workflow-count", count_workflows, methods=["GET"]),
    any_character_route(Route("/api/workflows/{rest:path}", one_workflow,
                              methods=_ALL_METHODS)),
]
