"""UI pages for operating runs: the approval inbox, schedules, starting a workflow, and the
query/update forms of the run page. Every form carries the CSRF token and every page sits
behind the same authentication as the rest of the UI (``security.py``)."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from .._model import limits
from ..agents import inbox
from ..common import WorkflowIDReusePolicy
from .backend import map_error
from .payloads import when
from .timeline import workflow_href
from .ui import (
    _backend,
    _error_page,
    _form_args,
    _keys,
    _run_id,
    read_form,
    render_page,
    ui_endpoint,
)
from .validation import MAX_TIMEOUT_SECONDS, ApiError, query_text

REVIEWER_COOKIE = "stalwart_reviewer"
INBOX_NOTICES = {"approved": "Approved: the decision is recorded in the run's history.",
                 "rejected": "Rejected: the decision is recorded in the run's history.",
                 "triggered": "Schedule triggered.", "paused": "Schedule paused.",
                 "unpaused": "Schedule unpaused."}


async def _checked_form(request: Request) -> dict[str, str]:
    form = await read_form(request)
    if not _keys(request).csrf_ok(request, form.get("csrf_token")):
        raise ApiError(403, "csrf", "the form's security token is missing or stale: reload the "
                       "page and try again")
    return form


def _reference(form: dict[str, str], field: str, what: str) -> str:
    try:
        return limits.check_reference(what, form.get(field, "").strip())
    except ValueError as error:
        raise ApiError(422, "validation_error", str(error), field) from None


# -- inbox ------------------------------------------------------------------------------------

@ui_endpoint
async def inbox_page(request: Request) -> Response:
    workflow_type = query_text(request.query_params, "workflow_type")
    items = await inbox.list_inbox(_backend(request).client, workflow_type=workflow_type)
    return await render_page(
        request, "inbox.html", items=items, workflow_type=workflow_type or "",
        reviewer=request.cookies.get(REVIEWER_COOKIE, ""), now=when(time.time()),
        notice=INBOX_NOTICES.get(request.query_params.get("notice") or ""))


async def inbox_decide(request: Request) -> Response:
    try:
        form = await _checked_form(request)
        workflow_id = _reference(form, "workflow_id", "workflow id")
        step_id = _reference(form, "step_id", "step id")
        run_id = _run_id(form.get("run_id"))
        name = inbox.check_identity(form.get("by"), "by")
        choice = form.get("decision")
        if choice not in ("approve", "reject"):
            raise ApiError(422, "validation_error", "choose approve or reject", "decision")
        answer_text = (form.get("answer") or "").strip()
        answer: Any = None
        if answer_text:
            # JSON when it parses (a number, an object), else the text itself.
            try:
                answer = limits.check_json_text("answer", answer_text)
            except ValueError:
                answer = answer_text
        await inbox.decide(_backend(request).client, workflow_id, run_id, step_id,
                           approved=choice == "approve", by=f"{name} (web UI)",
                           reason=(form.get("reason") or "").strip(), answer=answer)
    except Exception as error:
        mapped = map_error(error)
        if mapped is None:
            raise
        return _error_page(request, mapped, back="/inbox")
    response = RedirectResponse(
        "/inbox?" + urlencode({"notice": "approved" if choice == "approve" else "rejected"}),
        status_code=303)
    response.set_cookie(REVIEWER_COOKIE, name, max_age=365 * 24 * 3600, httponly=True,
                        samesite="strict", path="/", secure=request.url.scheme == "https")
    return response


# -- query and update forms of the run page ---------------------------------------------------

async def run_handler(request: Request) -> Response:
    """POST ``/handlers``: run a query or an update and show its answer."""
    back = "/"
    try:
        form = await _checked_form(request)
        workflow_id = _reference(form, "workflow_id", "workflow id")
        run_id = _run_id(form.get("run_id"))
        back = workflow_href(workflow_id, run_id)
        kind = form.get("kind")
        name = (form.get("name") or "").strip()
        if kind not in ("query", "update"):
            raise ApiError(422, "validation_error", "kind must be query or update", "kind")
        if not name:
            raise ApiError(422, "validation_error", f"give the {kind} a name", "name")
        backend = _backend(request)
        args = await backend.encoded(_form_args(form.get("args")))
        await backend.execution(workflow_id, run_id)
        handle = backend.client.get_workflow_handle(workflow_id, run_id=run_id)
        if kind == "query":
            value = await handle.query(name, args=args, rpc_timeout=timedelta(seconds=10))
        else:
            await backend.open_execution(workflow_id, run_id)
            value = await _within(handle.execute_update(name, args=args), 30.0, name)
    except Exception as error:
        mapped = map_error(error)
        if mapped is None:
            raise
        return _error_page(request, mapped, back=back)
    return await render_page(request, "handler_result.html", kind=kind, name=name,
                             value=value, back=back, workflow_id=workflow_id)


async def _within(awaitable: Any, seconds: float, name: str) -> Any:
    try:
        return await asyncio.wait_for(awaitable, seconds)
    except TimeoutError:
        raise ApiError(504, "timeout", f"update {name!r} did not complete within {seconds:g} s: "
                       "is a worker polling the workflow's task queue?") from None


# -- start ------------------------------------------------------------------------------------

@ui_endpoint
async def start_page(request: Request) -> Response:
    return await render_page(request, "start.html", form={})


async def start_submit(request: Request) -> Response:
    form: dict[str, str] = {}
    try:
        form = await _checked_form(request)
        workflow_type = _reference(form, "workflow_type", "workflow type")
        task_queue = _reference(form, "task_queue", "task queue")
        workflow_id = _reference(form, "workflow_id", "workflow id")
        timeout_text = (form.get("execution_timeout") or "").strip()
        timeout = None
        if timeout_text:
            try:
                timeout = float(timeout_text)
            except ValueError:
                timeout = -1.0
            if not 0 < timeout <= MAX_TIMEOUT_SECONDS:
                raise ApiError(422, "validation_error", "execution timeout: a number of "
                               f"seconds above 0 and at most {MAX_TIMEOUT_SECONDS:.0f}",
                               "execution_timeout")
        backend = _backend(request)
        handle = await backend.client.start_workflow(
            workflow_type, args=await backend.encoded(_form_args(form.get("args"))),
            id=workflow_id, task_queue=task_queue,
            execution_timeout=timedelta(seconds=timeout) if timeout else None,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE)
    except Exception as error:
        mapped = map_error(error)
        if mapped is None:
            raise
        return await render_page(request, "start.html", status=mapped.status, form=form,
                                 error=mapped.message)
    return RedirectResponse(workflow_href(handle.id, handle.result_run_id), status_code=303)


# -- schedules --------------------------------------------------------------------------------

@ui_endpoint
async def schedules_page(request: Request) -> Response:
    client = _backend(request).client
    schedules = [entry async for entry in await client.list_schedules()]
    schedules.sort(key=lambda entry: entry.id)
    return await render_page(request, "schedules.html", schedules=schedules,
                             notice=INBOX_NOTICES.get(request.query_params.get("notice") or ""))


@ui_endpoint
async def schedule_page(request: Request) -> Response:
    schedule_id = request.query_params.get("id") or ""
    try:
        schedule_id = limits.check_reference("schedule id", schedule_id)
    except ValueError as error:
        raise ApiError(400, "invalid_parameter", str(error), "id") from None
    client = _backend(request).client
    try:
        description = await client.get_schedule_handle(schedule_id).describe()
    except Exception as error:
        if "not found" in str(error).lower() or type(error).__name__ == "RPCError":
            raise ApiError(404, "not_found", f"schedule {schedule_id!r} not found") from None
        raise
    return await render_page(request, "schedule.html", d=description,
                             notice=INBOX_NOTICES.get(request.query_params.get("notice") or ""))


async def schedule_action(request: Request) -> Response:
    back = "/schedules"
    try:
        form = await _checked_form(request)
        schedule_id = _reference(form, "id", "schedule id")
        back = "/schedules/view?" + urlencode({"id": schedule_id})
        action = form.get("action")
        handle = _backend(request).client.get_schedule_handle(schedule_id)
        note = (form.get("note") or "").strip() or "from the web UI"
        if action == "pause":
            await handle.pause(note=note)
        elif action == "unpause":
            await handle.unpause(note=note)
        elif action == "trigger":
            await handle.trigger()
        else:
            raise ApiError(422, "validation_error", "action must be pause, unpause or trigger",
                           "action")
    except Exception as error:
        mapped = map_error(error)
        if mapped is None:
            if "not found" in str(error).lower():
                mapped = ApiError(404, "not_found", str(error))
            else:
                raise
        return _error_page(request, mapped, back=back)
    notice = {"pause": "paused", "unpause": "unpaused", "trigger": "triggered"}[action]
    return RedirectResponse(f"{back}&{urlencode({'notice': notice})}", status_code=303)


routes = [
    Route("/inbox", inbox_page, methods=["GET"]),
    Route("/inbox/decide", inbox_decide, methods=["POST"]),
    Route("/handlers", run_handler, methods=["POST"]),
    Route("/start", start_page, methods=["GET"]),
    Route("/start", start_submit, methods=["POST"]),
    Route("/schedules", schedules_page, methods=["GET"]),
    Route("/schedules/view", schedule_page, methods=["GET"]),
    Route("/schedules/action", schedule_action, methods=["POST"]),
]
