"""JSON API for operating runs: the approval inbox and a run's tokens and cost.

``GET /api/inbox`` lists waiting human steps; ``POST /api/inbox/decisions`` decides one
(``{"workflow_id", "step_id", "approved", "by", "reason"?, "answer"?, "run_id"?}``); ``GET
/api/workflows/{id}/usage`` is the run's usage per run, model and step.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .._model.temporal_history import to_temporal
from ..agents import inbox
from .api import api_endpoint, backend_of, json_body, run_id_param
from .backend import Backend
from .run_extras import usage_of
from .validation import MAX_WAIT_SECONDS, ApiError, query_text


@api_endpoint
async def inbox_list(request: Request) -> Response:
    if request.method not in ("GET", "HEAD"):
        raise ApiError(405, "method_not_allowed", f"{request.method} is not allowed here",
                       headers={"Allow": "GET, HEAD"})
    items = await inbox.list_inbox(backend_of(request).client,
                                   workflow_type=query_text(request.query_params,
                                                            "workflow_type"))
    return JSONResponse({"items": [item.to_json() for item in items]})


@api_endpoint
async def inbox_decision(request: Request) -> Response:
    body = await json_body(request)
    workflow_id = body.required_text("workflow_id")
    step_id = body.required_text("step_id")
    run_id = body.text("run_id")
    approved = body._get("approved")
    if not isinstance(approved, bool):
        raise ApiError(422, "validation_error", "'approved' must be true or false", "approved")
    by = inbox.check_identity(body._get("by"))
    # Characters, as the schema counts them (four UTF-8 bytes at most each).
    reason = body.text("reason", limit=4 * inbox.MAX_REASON_CHARS) or ""
    answer: Any = body._get("answer")
    timeout = body.number("timeout", default=30.0, minimum=0, maximum=MAX_WAIT_SECONDS)
    body.done()
    outcome = await inbox.decide(backend_of(request).client, workflow_id, run_id or None,
                                 step_id, approved=approved, by=f"{by} (API)", reason=reason,
                                 answer=answer, timeout=timeout or 30.0)
    return JSONResponse(outcome)


async def usage(request: Request, workflow_id: str) -> Response:
    """``GET /api/workflows/{id}/usage``."""
    backend = backend_of(request)
    row = await backend.execution(workflow_id, run_id_param(request))
    events = await _events(backend, row.run_id)
    data = await asyncio.to_thread(usage_of, row, events)
    return JSONResponse({"workflow_id": row.workflow_id, "run_id": row.run_id,
                         "workflow_type": row.workflow_type, **data})


async def _events(backend: Backend, run_id: str) -> list[Any]:
    store = backend.client.store
    stored = await store.get_history(run_id)
    return await asyncio.to_thread(to_temporal, stored, run_id=run_id,
                                   namespace=backend.client.namespace)


@api_endpoint
async def inbox_decisions(request: Request) -> Response:
    # One route for every method, so a 405 lists exactly what the address takes.
    if request.method != "POST":
        raise ApiError(405, "method_not_allowed", f"{request.method} is not allowed here",
                       headers={"Allow": "POST"})
    return await inbox_decision(request)


_ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]

routes = [
    Route("/api/inbox", inbox_list, methods=_ALL_METHODS),
    Route("/api/inbox/decisions", inbox_decisions, methods=_ALL_METHODS),
]
