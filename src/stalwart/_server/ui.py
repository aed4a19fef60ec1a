"""The web UI: server-rendered pages (Jinja2, autoescaped) with a little JavaScript for
auto-refresh, paging through long histories, and confirmations.

Every value that comes from a workflow (ids, payloads, failure messages) reaches the page only
through Jinja's autoescaping; no template marks workflow data as safe.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote_to_bytes, urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from .._model.temporal_history import to_temporal
from .._store.base import ExecutionRow, ExecutionStatus
from .backend import Backend, map_error, pending_activity_json
from .payloads import decode_payloads, iso, pretty, short, when
from .readmodel import ListFilter
from .security import CSRF_COOKIE, CSRF_FIELD, TOKEN_COOKIE, csrf_ok, new_csrf_token, tokens_match
from .timeline import Timeline, format_duration, workflow_href
from .validation import (
    MAX_OFFSET,
    MAX_REASON_CHARS,
    STATUS_NAMES,
    ApiError,
    list_filter,
    query_int,
)

PAGE_EVENTS = 200
PAGE_RUNS = 50
MAX_FORM_BYTES = 1024 * 1024
_HERE = Path(__file__).parent

env = Environment(loader=FileSystemLoader(_HERE / "templates"),
                  autoescape=select_autoescape(default=True, default_for_string=True),
                  trim_blocks=True, lstrip_blocks=True)
env.filters.update(pretty=pretty, short=short, iso=iso, when=when, duration=format_duration,
                   href=workflow_href)


def _backend(request: Request) -> Backend:
    backend: Backend = request.app.state.backend
    return backend


def _csrf(request: Request) -> tuple[str, bool]:
    token = request.cookies.get(CSRF_COOKIE)
    if token and len(token) >= 32:
        return token, False
    return new_csrf_token(), True


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    token, fresh = _csrf(request)
    context.update(csrf_field=CSRF_FIELD, csrf_token=token,
                   auth_enabled=request.app.state.api_token is not None,
                   statuses=[s.upper() for s in STATUS_NAMES])
    response = HTMLResponse(env.get_template(template).render(**context), status_code=status)
    if fresh:
        response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict", path="/")
    return response


def _error_page(request: Request, error: ApiError) -> HTMLResponse:
    return render(request, "error.html", status=error.status, error=error)


def _ui_path(request: Request) -> tuple[str, str | None]:
    raw: bytes = request.scope.get("raw_path") or request.url.path.encode()
    parts = raw[len(b"/workflows/"):].split(b"/")
    if not parts[0] or len(parts) > 2:
        raise ApiError(404, "not_found", "no such page")
    try:
        workflow_id = unquote_to_bytes(parts[0]).decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "invalid_parameter", "the workflow id in the address is not UTF-8",
                       "workflow_id") from None
    return workflow_id, parts[1].decode("latin-1") if len(parts) == 2 else None


# -- workflow list ----------------------------------------------------------------------------

async def index(request: Request) -> Response:
    params = request.query_params
    try:
        flt = list_filter(params)
        offset = query_int(params, "offset", default=0, minimum=0, maximum=MAX_OFFSET)
    except ApiError as error:
        return _error_page(request, error)
    reads = _backend(request).reads
    rows = await reads.list_runs(flt, PAGE_RUNS + 1, offset)
    counts = await reads.count_by_status(ListFilter(
        workflow_type=flt.workflow_type, workflow_id_prefix=flt.workflow_id_prefix,
        task_queue=flt.task_queue, started_after=flt.started_after,
        started_before=flt.started_before))
    context: dict[str, Any] = dict(rows=rows[:PAGE_RUNS], more=len(rows) > PAGE_RUNS, offset=offset,
                   counts=counts, total=sum(counts.values()), flt=flt,
                   params={k: v for k, v in params.items() if k not in ("offset", "fragment")},
                   query=urlencode({k: v for k, v in params.items()
                                    if k not in ("offset", "fragment")}),
                   now=when(time.time()))
    if params.get("fragment") == "rows":
        return render(request, "list_rows.html", **context)
    return render(request, "list.html", **context)


# -- one workflow -----------------------------------------------------------------------------

async def _timeline_page(backend: Backend, row: ExecutionRow, after: int
                         ) -> tuple[list[Any], int | None, int]:
    """One page of the run's events in Temporal's model, the page after event ``after``, and
    how many events the run has."""
    store = backend.client.store
    stored = await store.get_history(row.run_id)
    if row.status == ExecutionStatus.RUNNING:
        stored += [e.as_history_event() for e in await store.get_inbox(row.run_id)]
    events = to_temporal(stored, run_id=row.run_id, namespace=backend.client.namespace)
    page = events[after:after + PAGE_EVENTS]
    entries = Timeline(row.start_time, events).entries(page)
    next_after = page[-1].event_id if page and page[-1].event_id < len(events) else None
    return entries, next_after, len(events)


async def workflow_page(request: Request) -> Response:
    try:
        workflow_id, action = _ui_path(request)
        if action is not None:
            raise ApiError(404, "not_found", "no such page")
        run_id = request.query_params.get("run_id") or None
        after = query_int(request.query_params, "after", default=0, minimum=0,
                          maximum=MAX_OFFSET)
        backend = _backend(request)
        row = await backend.execution(workflow_id, run_id)
    except Exception as error:
        mapped = map_error(error)
        if mapped is None:
            raise
        return _error_page(request, mapped)
    fragment = request.query_params.get("fragment")
    if fragment == "status":
        return JSONResponse({"status": row.status.name, "history_length": row.history_length,
                             "run_id": row.run_id})
    entries, next_after, total_events = await _timeline_page(backend, row, after)
    if fragment == "events":
        return render(request, "events.html", entries=entries, next_after=next_after,
                      row=row)
    store = backend.client.store
    first = await store.get_history(row.run_id, 0, 1)
    started = first[0].attributes if first else {}
    pending = [pending_activity_json(a) for a in await store.list_pending_activities(row.run_id)]
    inbox = await store.get_inbox(row.run_id) if row.status == ExecutionStatus.RUNNING else []
    children = await backend.reads.children(row.run_id)
    runs = await backend.reads.runs_of(row.workflow_id)
    return render(
        request, "workflow.html", row=row, entries=entries, next_after=next_after, after=after,
        page_size=PAGE_EVENTS, last_page_after=max(0, total_events - PAGE_EVENTS),
        input=decode_payloads(started.get("input", [])),
        result=decode_payloads(row.result) if row.result is not None else None,
        failure=decode_payloads(row.failure), pending=pending,
        inbox=[{"event_type": e.event_type, "time": iso(e.timestamp),
                "attributes": decode_payloads(e.attributes)} for e in inbox],
        children=children, runs=runs, running=row.status == ExecutionStatus.RUNNING,
        duration=format_duration((row.close_time or time.time())
                                 - row.start_time),
        notice=request.query_params.get("notice"), error=request.query_params.get("error"),
        self_href=workflow_href(row.workflow_id, run_id))


async def workflow_action(request: Request) -> Response:
    try:
        workflow_id, action = _ui_path(request)
    except ApiError as error:
        return _error_page(request, error)
    try:
        form = await read_form(request)
    except ApiError as error:
        return _error_page(request, error)
    if not csrf_ok(request, form.get(CSRF_FIELD)):
        return _error_page(request, ApiError(
            403, "csrf", "the form's security token is missing or stale: reload the page and "
            "try again"))
    run_field = form.get("run_id")
    run_id = run_field if isinstance(run_field, str) and run_field else None
    back = workflow_href(workflow_id, run_id)
    backend = _backend(request)
    handle = backend.client.get_workflow_handle(workflow_id, run_id=run_id)
    try:
        await backend.open_execution(workflow_id, run_id)
        if action == "signal":
            name = form.get("name")
            if not isinstance(name, str) or not name.strip():
                raise ApiError(422, "validation_error", "give the signal a name", "name")
            args = _form_args(form.get("args"))
            await handle.signal(name.strip(), args=args)
            notice = f"Signal {name.strip()!r} sent."
        elif action == "cancel":
            await handle.cancel()
            notice = "Cancellation requested."
        elif action == "terminate":
            reason = form.get("reason")
            reason_text = reason[:MAX_REASON_CHARS] if isinstance(reason, str) else ""
            await handle.terminate(reason=reason_text or "terminated from the web UI")
            notice = "Workflow terminated."
        else:
            raise ApiError(404, "not_found", f"no action {action!r}")
    except Exception as error:
        mapped = map_error(error)
        if mapped is None:
            raise
        sep = "&" if "?" in back else "?"
        return RedirectResponse(f"{back}{sep}{urlencode({'error': mapped.message})}",
                                status_code=303)
    sep = "&" if "?" in back else "?"
    return RedirectResponse(f"{back}{sep}{urlencode({'notice': notice})}", status_code=303)


async def read_form(request: Request) -> dict[str, str]:
    """The fields of a URL-encoded form (the only kind the UI's forms send); the last value of
    a repeated field wins."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        return {}
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise ApiError(413, "payload_too_large", "the form is too large")
    try:
        pairs = parse_qsl(body.decode("latin-1"), keep_blank_values=True, max_num_fields=50,
                          encoding="utf-8", errors="replace")
    except ValueError:
        raise ApiError(400, "invalid_form", "the form has too many fields") from None
    return dict(pairs)


def _form_args(raw: Any) -> list[Any]:
    text = raw.strip() if isinstance(raw, str) else ""
    if not text:
        return []
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise ApiError(422, "validation_error",
                       f"arguments are not valid JSON ({error}); strings need quotes, e.g. "
                       '"hello", and several arguments go in an array: ["a", 2]',
                       "args") from None
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ApiError(422, "validation_error", "arguments hold invalid Unicode",
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
    if not csrf_ok(request, form.get(CSRF_FIELD)):
        return render(request, "login.html", status=403, next=next_path, failed=True,
                      reason="The form's security token is missing or stale; try again.")
    expected = request.app.state.api_token
    token = form.get("token")
    if expected is None:
        return RedirectResponse(next_path, status_code=303)
    if not isinstance(token, str) or not tokens_match(token.strip(), expected):
        return render(request, "login.html", status=401, next=next_path, failed=True,
                      reason="That token is not the server's API token.")
    response = RedirectResponse(next_path, status_code=303)
    response.set_cookie(TOKEN_COOKIE, token.strip(), httponly=True, samesite="strict", path="/")
    return response


async def logout(request: Request) -> Response:
    try:
        form = await read_form(request)
    except ApiError as error:
        return _error_page(request, error)
    if not csrf_ok(request, form.get(CSRF_FIELD)):
        return _error_page(request, ApiError(403, "csrf", "stale form; reload and try again"))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(TOKEN_COOKIE, path="/")
    return response


async def favicon(request: Request) -> Response:
    return RedirectResponse("/static/favicon.svg", status_code=301)


routes = [
    Route("/", index, methods=["GET"]),
    Route("/workflows/{rest:path}", workflow_page, methods=["GET"]),
    Route("/workflows/{rest:path}", workflow_action, methods=["POST"]),
    Route("/login", login_form, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/favicon.ico", favicon, methods=["GET"]),
]
