"""The web UI: server-rendered pages (Jinja2, autoescaped) with a little JavaScript for
auto-refresh, paging through long histories, and confirmations.

Every value that comes from a workflow (ids, payloads, failure messages) reaches the page only
through Jinja's autoescaping; no template marks workflow data as safe.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from .._model import limits
from .._model.events import HistoryEvent
from .._store.base import ExecutionRow, ExecutionStatus
from . import run_extras, ui_steering
from .backend import Backend, map_error, pending_activity_json
from .paths import any_character_route, segment_id
from .payloads import clip_payloads, decode_payloads, first_clipped, iso, pretty, short, when
from .readmodel import ListFilter
from .security import (
    CSRF_COOKIE,
    CSRF_FIELD,
    SESSION_SECONDS,
    Secrets,
    client_address,
    is_tls,
    new_nonce,
    session_cookie,
    session_cookie_name,
    tokens_match,
)
from .streams import sse_response
from .timeline import Timeline, format_duration, payload_values, workflow_href
from .validation import (
    MAX_OFFSET,
    STATUS_NAMES,
    ApiError,
    list_filter,
    parse_json_value,
    query_int,
)

logger = logging.getLogger(__name__)

# What a finished action reports on the workflow page: a fixed code in the address, never text
# from the request (which would let a link put any words on the page).
NOTICES = {"signal_sent": "Signal sent.", "cancel_requested": "Cancellation requested.",
           "terminated": "Workflow terminated.", **ui_steering.NOTICES}

PAGE_EVENTS = 200
PAGE_RUNS = 50
MAX_FORM_BYTES = 1024 * 1024
_HERE = Path(__file__).parent

env = Environment(loader=FileSystemLoader(_HERE / "templates"),
                  autoescape=select_autoescape(default=True, default_for_string=True),
                  trim_blocks=True, lstrip_blocks=True)
env.filters.update(pretty=pretty, short=short, iso=iso, when=when, duration=format_duration,
                   href=workflow_href, clipped=first_clipped)


def _backend(request: Request) -> Backend:
    backend: Backend = request.app.state.backend
    return backend


def _keys(request: Request) -> Secrets:
    keys: Secrets = request.app.state.keys
    return keys


def _page_context(request: Request, context: dict[str, Any]) -> str | None:
    """Adds what every page needs; returns a new CSRF nonce to set as a cookie, if any."""
    nonce = request.cookies.get(CSRF_COOKIE)
    fresh = None
    if not nonce or len(nonce) < 32:
        nonce = fresh = new_nonce()
    context.update(csrf_field=CSRF_FIELD,
                   csrf_token=_keys(request).csrf_token(nonce, session_cookie(request)),
                   auth_enabled=request.app.state.api_token is not None,
                   statuses=[s.upper() for s in STATUS_NAMES])
    return fresh


def _html(request: Request, body: str, status: int, fresh_nonce: str | None) -> HTMLResponse:
    response = HTMLResponse(body, status_code=status)
    if fresh_nonce is not None:
        response.set_cookie(CSRF_COOKIE, fresh_nonce, httponly=True, samesite="strict",
                            path="/", secure=is_tls(request))
    return response


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    fresh = _page_context(request, context)
    return _html(request, env.get_template(template).render(**context), status, fresh)


async def render_page(request: Request, template: str, status: int = 200,
                      prepare: Callable[[], dict[str, Any]] | None = None,
                      **context: Any) -> HTMLResponse:
    """``render`` in a thread (with ``prepare``'s extra context built there too): decoding
    and pretty-printing a page of payloads must not stall the event loop."""
    fresh = _page_context(request, context)

    def build() -> str:
        if prepare is not None:
            context.update(prepare())
        return env.get_template(template).render(**context)

    return _html(request, await asyncio.to_thread(build), status, fresh)


def _error_page(request: Request, error: ApiError, back: str | None = None) -> HTMLResponse:
    return render(request, "error.html", status=error.status, error=error, back=back)


def ui_endpoint(fn: Callable[[Request], Awaitable[Response]]
                ) -> Callable[[Request], Awaitable[Response]]:
    """Every error of a page becomes an error page with the right status; a bug becomes a
    500 page that says so (and is logged)."""
    async def wrapper(request: Request) -> Response:
        try:
            return await fn(request)
        except Exception as error:
            mapped = map_error(error)
            if mapped is None:
                logger.exception("unexpected error in %s %s", request.method,
                                 request.url.path)
                mapped = ApiError(500, "internal", f"internal error: {type(error).__name__}")
            return _error_page(request, mapped)

    return wrapper


def _ui_path(request: Request) -> tuple[str, str | None]:
    raw: bytes = request.scope.get("raw_path") or request.url.path.encode()
    parts = raw[len(b"/workflows/"):].split(b"/")
    if not parts[0] or len(parts) > 2:
        raise ApiError(404, "not_found", "no such page")
    try:
        workflow_id = limits.check_reference("the workflow id in the address",
                                             segment_id(parts[0]))
    except UnicodeDecodeError:
        raise ApiError(400, "invalid_parameter", "the workflow id in the address is not UTF-8",
                       "workflow_id") from None
    except ValueError as error:
        raise ApiError(400, "invalid_parameter", str(error), "workflow_id") from None
    return workflow_id, parts[1].decode("latin-1") if len(parts) == 2 else None


# -- workflow list ----------------------------------------------------------------------------

@ui_endpoint
async def index(request: Request) -> Response:
    params = request.query_params
    flt = list_filter(params)
    offset = query_int(params, "offset", default=0, minimum=0, maximum=MAX_OFFSET)
    backend = _backend(request)
    reads = backend.reads
    query_text = (params.get("q") or "").strip()
    query_error = None
    rows: list[Any] = []
    counts: dict[str, int] = {}
    if query_text:
        # The list query language (search attributes included), on the store's own indexes.
        try:
            rows = await backend.client.store.list_workflows(query_text, PAGE_RUNS + 1, offset)
            counts = {"MATCHING": await backend.client.store.count_workflows(query_text)}
        except ValueError as error:
            query_error = str(error)
    else:
        rows = await reads.list_runs(flt, PAGE_RUNS + 1, offset)
        counts = await reads.count_by_status(ListFilter(
            workflow_type=flt.workflow_type, workflow_id_prefix=flt.workflow_id_prefix,
            task_queue=flt.task_queue, started_after=flt.started_after,
            started_before=flt.started_before))
    rows = await backend.with_lengths(rows[:PAGE_RUNS + 1])
    memos = await reads.memos([r.run_id for r in rows[:PAGE_RUNS]])
    costs = {run_id: run_extras.list_cost(memo) for run_id, memo in memos.items()}
    shown_costs = [c for c in costs.values() if c is not None]
    context: dict[str, Any] = dict(
                   rows=rows[:PAGE_RUNS], more=len(rows) > PAGE_RUNS, offset=offset,
                   counts=counts, total=sum(counts.values()), flt=flt,
                   query_text=query_text, query_error=query_error, costs=costs,
                   page_cost=round(sum(c.cost_usd for c in shown_costs), 6),
                   page_tokens=sum(c.total_tokens for c in shown_costs),
                   any_cost=bool(shown_costs),
                   params={k: v for k, v in params.items() if k not in ("offset", "fragment")},
                   query=urlencode({k: v for k, v in params.items()
                                    if k not in ("offset", "fragment")}),
                   now=when(time.time()))
    if params.get("fragment") == "rows":
        return await render_page(request, "list_rows.html", **context)
    return await render_page(request, "list.html", **context)


# -- one workflow -----------------------------------------------------------------------------

def _payload_href(row: ExecutionRow, run_id: str | None, **what: Any) -> str:
    base = workflow_href(row.workflow_id)
    return f"{base}/payload?{urlencode({'run_id': run_id or row.run_id, **what})}"


async def _timeline_page(backend: Backend, row: ExecutionRow, after: int,
                         events: list[HistoryEvent] | None = None
                         ) -> tuple[list[Any], int | None, int]:
    """One page of the run's timeline entries in Temporal's model (payloads clipped, each
    linking to its whole value), the page after event ``after``, and how many events the run
    has."""
    if events is None:
        events = await backend.temporal_events(row)
    page = [HistoryEvent(e.event_id, e.event_type, e.timestamp, clip_payloads(
        e.attributes, _payload_href(row, row.run_id, event_id=e.event_id)))
        for e in events[after:after + PAGE_EVENTS]]
    next_after = page[-1].event_id if page and page[-1].event_id < len(events) else None
    return (await asyncio.to_thread(Timeline(row.start_time, events).entries, page),
            next_after, len(events))


@ui_endpoint
async def workflow_page(request: Request) -> Response:
    workflow_id, action = _ui_path(request)
    if action == "payload":
        return await _payload(request, workflow_id)
    if action == "stream":
        return await sse_response(request, _backend(request).client.store, workflow_id,
                                  _run_id(request.query_params.get("run_id")))
    if action == "stack":
        return await _stack_page(request, workflow_id)
    if action is not None:
        raise ApiError(404, "not_found", "no such page")
    run_id = _run_id(request.query_params.get("run_id"))
    after = query_int(request.query_params, "after", default=0, minimum=0, maximum=MAX_OFFSET)
    backend = _backend(request)
    row = await backend.execution(workflow_id, run_id)
    fragment = request.query_params.get("fragment")
    if fragment == "status":
        row = await backend.with_length(row)
        return JSONResponse({"status": row.status.name, "history_length": row.history_length,
                             "run_id": row.run_id})
    all_events = await backend.temporal_events(row)
    entries, next_after, total_events = await _timeline_page(backend, row, after, all_events)
    # Temporal's count, as the timeline shows it (the store counts its compact rows).
    row = replace(row, history_length=total_events)
    if fragment == "events":
        return await render_page(request, "events.html", next_after=next_after, row=row,
                                 prepare=lambda: {"entries": entries})
    store = backend.client.store
    first = await store.get_history(row.run_id, 0, 1)
    started = first[0].attributes if first else {}
    pending = await store.list_pending_activities(row.run_id)
    inbox = await store.get_inbox(row.run_id) if row.status == ExecutionStatus.RUNNING else []
    children = await backend.with_lengths(await backend.reads.children(row.run_id))
    runs = await backend.with_lengths(await backend.reads.runs_of(row.workflow_id))
    links = await store.reset_links(row.run_id)
    notice = NOTICES.get(request.query_params.get("notice") or "")
    target = await store.resolve_stream(row.workflow_id, row.run_id)
    has_stream = target is not None and await store.stream_head(target.chain_id) > 0

    def prepare() -> dict[str, Any]:
        def shown(value: Any, part: str) -> Any:
            return decode_payloads(clip_payloads(value, _payload_href(row, run_id, part=part)))

        return dict(
            entries=entries,
            input=shown(started.get("input", []), "input"),
            result=shown(row.result, "result") if row.result is not None else None,
            failure=shown(row.failure, "failure"),
            pending=[pending_activity_json(clip_payloads(a, _payload_href(
                row, run_id, part="pending"))) for a in pending],
            inbox=[{"event_type": e.event_type, "time": iso(e.timestamp),
                    "attributes": shown(e.attributes, "inbox")} for e in inbox],
            **run_extras.run_context(row, all_events))

    return await render_page(
        request, "workflow.html", prepare=prepare, row=row, next_after=next_after, after=after,
        page_size=PAGE_EVENTS, last_page_after=max(0, total_events - PAGE_EVENTS),
        children=children, runs=runs, running=row.status == ExecutionStatus.RUNNING,
        has_stream=has_stream,
        duration=format_duration((row.close_time or time.time()) - row.start_time),
        notice=notice, links=links, self_href=workflow_href(row.workflow_id, run_id))


async def _stack_page(request: Request, workflow_id: str) -> Response:
    """Where is it waiting? The run's ``__stack_trace``, as a worker answers it."""
    run_id = _run_id(request.query_params.get("run_id"))
    backend = _backend(request)
    row = await backend.execution(workflow_id, run_id)
    try:
        trace, problem = await ui_steering.stack_trace(backend, workflow_id, row.run_id), None
    except Exception as error:
        mapped = map_error(error)
        if mapped is None:
            raise
        trace, problem = None, mapped.message
    return render(request, "stack.html", row=row, trace=trace, problem=problem,
                  self_href=workflow_href(row.workflow_id, run_id))


async def _payload(request: Request, workflow_id: str) -> Response:
    """The whole of a value a page shows clipped, as JSON."""
    params = request.query_params
    backend = _backend(request)
    row = await backend.execution(workflow_id, _run_id(params.get("run_id")))
    store = backend.client.store
    part = params.get("part")
    value: Any
    if params.get("event_id") is not None:
        event_id = query_int(params, "event_id", default=1, minimum=1, maximum=MAX_OFFSET)
        events = await backend.temporal_events(row, external=True)
        if event_id > len(events):
            raise ApiError(404, "not_found", f"run {row.run_id} has no event {event_id}")
        value = payload_values(events[event_id - 1].attributes)
    elif part == "input":
        first = await store.get_history(row.run_id, 0, 1)
        value = await backend.with_external_payloads(
            first[0].attributes.get("input", []) if first else [])
    elif part == "result":
        value = row.result
    elif part == "failure":
        value = row.failure
    elif part == "pending":
        value = await store.list_pending_activities(row.run_id)
    elif part == "inbox":
        value = [{"event_type": e.event_type, "timestamp": e.timestamp,
                  "attributes": e.attributes} for e in await store.get_inbox(row.run_id)]
    else:
        raise ApiError(400, "invalid_parameter", "give event_id=N or part=input, result, "
                       "failure, pending or inbox", "part")
    body = await asyncio.to_thread(lambda: json.dumps(
        decode_payloads(value), ensure_ascii=False, indent=1, default=str).encode())
    return Response(body, media_type="application/json")


async def workflow_action(request: Request) -> Response:
    try:
        workflow_id, action = _ui_path(request)
        form = await read_form(request)
    except ApiError as error:
        return _error_page(request, error)
    if not _keys(request).csrf_ok(request, form.get(CSRF_FIELD)):
        return _error_page(request, ApiError(
            403, "csrf", "the form's security token is missing or stale: reload the page and "
            "try again"))
    try:
        run_id = _run_id(form.get("run_id"))
    except ApiError as error:
        return _error_page(request, error)
    back = workflow_href(workflow_id, run_id)
    backend = _backend(request)
    if action in ui_steering.ACTIONS:
        try:
            target_id, target_run, notice = await ui_steering.steer(
                backend, workflow_id, run_id, action, form)
        except Exception as error:
            return _action_error(request, error, back)
        target = workflow_href(target_id, target_run)
        sep = "&" if "?" in target else "?"
        return RedirectResponse(f"{target}{sep}{urlencode({'notice': notice})}",
                                status_code=303)
    try:
        handle = backend.client.get_workflow_handle(workflow_id, run_id=run_id)
        await backend.open_execution(workflow_id, run_id)
        if action == "signal":
            name = form.get("name")
            if not isinstance(name, str) or not name.strip():
                raise ApiError(422, "validation_error", "give the signal a name", "name")
            args = _form_args(form.get("args"))
            await handle.signal(name.strip(), args=await backend.encoded(args))
            notice = "signal_sent"
        elif action == "cancel":
            await handle.cancel()
            notice = "cancel_requested"
        elif action == "terminate":
            reason = form.get("reason")
            await handle.terminate(reason=reason.strip() if isinstance(reason, str) and
                                   reason.strip() else "terminated from the web UI")
            notice = "terminated"
        else:
            raise ApiError(404, "not_found", f"no action {action!r}")
    except Exception as error:
        return _action_error(request, error, back)
    sep = "&" if "?" in back else "?"
    return RedirectResponse(f"{back}{sep}{urlencode({'notice': notice})}", status_code=303)


def _action_error(request: Request, error: Exception, back: str) -> Response:
    mapped = map_error(error)
    if mapped is None:
        logger.exception("unexpected error in %s %s", request.method, request.url.path)
        mapped = ApiError(500, "internal", f"internal error: {type(error).__name__}")
    return _error_page(request, mapped, back=back)


def _run_id(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return limits.check_reference("run id", value)
    except ValueError as error:
        raise ApiError(400, "invalid_parameter", str(error), "run_id") from None


async def read_form(request: Request) -> dict[str, str]:
    """The fields of a URL-encoded form (the only kind the UI's forms send); the last value of
    a repeated field wins."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        return {}
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            raise ApiError(413, "payload_too_large", "the form is too large")
        chunks.append(chunk)
    try:
        pairs = parse_qsl(b"".join(chunks).decode("latin-1"), keep_blank_values=True,
                          max_num_fields=50, encoding="utf-8", errors="replace")
    except ValueError:
        raise ApiError(400, "invalid_form", "the form has too many fields") from None
    return dict(pairs)


def _form_args(raw: Any) -> list[Any]:
    text = raw.strip() if isinstance(raw, str) else ""
    if not text:
        return []
    try:
        value = parse_json_value(text)
    except ApiError as error:
        raise ApiError(422, "validation_error",
                       f"arguments: {error.message}; strings need quotes, e.g. "
                       '"hello", and several arguments go in an array: ["a", 2]',
                       "args") from None
    # One JSON value is one argument; an array is the argument list.
    return value if isinstance(value, list) else [value]


# -- login ------------------------------------------------------------------------------------

def _safe_next(value: Any) -> str:
    # Only paths on this server: no scheme, no host, no protocol-relative //evil.example.
    if isinstance(value, str) and value.startswith("/") and not value.startswith(("//", "/\\")):
        return value
    return "/"


async def login_form(request: Request) -> Response:
    return render(request, "login.html", next=_safe_next(request.query_params.get("next")),
                  failed=False)


async def login(request: Request) -> Response:
    try:
        form = await read_form(request)
    except ApiError as error:
        return _error_page(request, error)
    next_path = _safe_next(form.get("next"))
    keys = _keys(request)
    if not keys.csrf_ok(request, form.get(CSRF_FIELD)):
        return render(request, "login.html", status=403, next=next_path, failed=True,
                      reason="The form's security token is missing or stale; try again.")
    expected = request.app.state.api_token
    if expected is None:
        return RedirectResponse(next_path, status_code=303)
    limiter = request.app.state.limiter
    client = client_address(request.scope)
    wait = limiter.retry_after(client)
    if wait is not None:
        refused = render(request, "login.html", status=429, next=next_path, failed=True,
                         reason=f"Too many wrong tokens; wait {wait:.0f} s and try again.")
        refused.headers["Retry-After"] = str(int(wait + 0.999))
        return refused
    token = form.get("token")
    if not isinstance(token, str) or not tokens_match(token.strip(), expected):
        limiter.fail(client)
        return render(request, "login.html", status=401, next=next_path, failed=True,
                      reason="That token is not the server's API token.")
    response = RedirectResponse(next_path, status_code=303)
    response.set_cookie(session_cookie_name(request), keys.new_session(),
                        max_age=SESSION_SECONDS, httponly=True, samesite="strict", path="/",
                        secure=is_tls(request))
    return response


async def logout(request: Request) -> Response:
    try:
        form = await read_form(request)
    except ApiError as error:
        return _error_page(request, error)
    if not _keys(request).csrf_ok(request, form.get(CSRF_FIELD)):
        return _error_page(request, ApiError(403, "csrf", "stale form; reload and try again"))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(session_cookie_name(request), path="/", secure=is_tls(request),
                           httponly=True, samesite="strict")
    return response


async def favicon(request: Request) -> Response:
    return RedirectResponse("/static/favicon.svg", status_code=301)


routes = [
    Route("/", index, methods=["GET"]),
    any_character_route(Route("/workflows/{rest:path}", workflow_page, methods=["GET"])),
    any_character_route(Route("/workflows/{rest:path}", workflow_action, methods=["POST"])),
    Route("/login", login_form, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/favicon.ico", favicon, methods=["GET"]),
]
