"""The OpenAPI 3.1 description of the JSON API, served at ``/api/openapi.json``.

Written by hand next to the handlers (no framework generates it), and checked by the tests,
which drive every operation it lists with valid and malformed requests.
"""

from __future__ import annotations

from typing import Any

from ..common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from .validation import (
    MAX_HISTORY_LIMIT,
    MAX_LIST_LIMIT,
    MAX_NAME_CHARS,
    MAX_OFFSET,
    MAX_REASON_CHARS,
    MAX_TIMEOUT_SECONDS,
    MAX_WAIT_SECONDS,
    STATUS_NAMES,
)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _error_responses(*statuses: int) -> dict[str, Any]:
    text = {400: "Malformed request (bad JSON or query parameter)", 401: "Missing or wrong token",
            403: "Refused host or cross-origin request", 404: "No such workflow or run",
            409: "Conflict: already started, or the run is closed",
            413: "Body too large", 415: "Body is not application/json",
            422: "Well-formed but invalid body, or a failed query/update",
            503: "The store cannot be used", 504: "No worker answered in time"}
    return {str(s): {"description": text[s], "content": {"application/json": {
        "schema": _ref("Error")}}} for s in statuses}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _body(schema_name: str, required: bool = True) -> dict[str, Any]:
    return {"required": required,
            "content": {"application/json": {"schema": _ref(schema_name)}}}


# Names hold no control characters (nor line/paragraph separators or bidi overrides). Their
# length limit is 1,000 UTF-8 bytes, which JSON Schema cannot say: maxLength counts characters.
_CONTROLS = "\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069"
_PRINTABLE = f"[^{_CONTROLS}]"
# Not blank: at least one character that is neither a control nor white space.
_NAME_PATTERN = f"^{_PRINTABLE}*[^\\s{_CONTROLS}]{_PRINTABLE}*$"
_NAME_NOTE = "At most 1,000 UTF-8 bytes, not blank, no control characters."
_FILTER = {"type": "string", "maxLength": MAX_NAME_CHARS, "pattern": f"^{_PRINTABLE}*$"}

_TIME = {"anyOf": [{"type": "string", "format": "date-time"},
                   {"type": "string", "pattern": "^-?[0-9]{1,10}(\\.[0-9]{1,6})?$"},
                   {"type": "string", "maxLength": 0}]}

_WORKFLOW_ID = {"name": "workflow_id", "in": "path", "required": True,
                "description": "Workflow id, percent-encoded ('/' as %2F; the ids '.' and "
                               "'..' as '~.' and '~..'). " + _NAME_NOTE,
                "schema": {"type": "string", "minLength": 1, "maxLength": MAX_NAME_CHARS,
                           "pattern": _NAME_PATTERN}}
_RUN_ID = {"name": "run_id", "in": "query", "required": False,
           "description": "A specific run (default: the latest run of the id).",
           "schema": _FILTER}

_FILTERS = [
    {"name": "status", "in": "query",
     "description": "One status, case-insensitive; empty (as the UI's form sends) means any.",
     "schema": {"type": "string", "enum": ["", *STATUS_NAMES]}},
    {"name": "workflow_type", "in": "query", "schema": _FILTER},
    {"name": "id_prefix", "in": "query", "description": "Workflow ids starting with this.",
     "schema": _FILTER},
    {"name": "task_queue", "in": "query", "schema": _FILTER},
    {"name": "started_after", "in": "query",
     "description": "ISO 8601 time (UTC unless an offset is given) or Unix seconds; inclusive.",
     "schema": _TIME},
    {"name": "started_before", "in": "query",
     "description": "ISO 8601 time or Unix seconds; exclusive.", "schema": _TIME},
]

# Line breaks and tabs allowed, other control characters (and bidi overrides) not.
_REASON_PATTERN = ("^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f"
                   "\\u202a-\\u202e\\u2066-\\u2069]*$")
_NAME = {"type": "string", "minLength": 1, "maxLength": MAX_NAME_CHARS,
         "pattern": _NAME_PATTERN, "description": _NAME_NOTE}


def _timeout(description: str) -> dict[str, Any]:
    return {"type": ["number", "null"], "exclusiveMinimum": 0, "maximum": MAX_TIMEOUT_SECONDS,
            "description": description}


_ARGS = {"type": ["array", "null"], "items": {},
         "description": "Arguments, as JSON values (each at most 2 MB, or the server's "
                        "STALWART_MAX_PAYLOAD_BYTES; no NaN or infinities, which JSON "
                        "does not have anyway)."}


def openapi_document() -> dict[str, Any]:
    workflow_ops: dict[str, Any] = {}
    for action, schema, summary, ok in (
        ("signal", "SignalRequest", "Send a signal", "202"),
        ("query", "QueryRequest", "Run a query handler on a worker", "200"),
        ("update", "UpdateRequest", "Send an update and wait for its result", "200"),
        ("cancel", "CancelRequest", "Request cancellation", "202"),
        ("terminate", "TerminateRequest", "Terminate at once", "200"),
    ):
        errors = [400, 401, 403, 404, 409, 413, 415, 422, 503]
        if action in ("query", "update"):
            errors.append(504)
        if action == "query":
            errors.remove(409)
        workflow_ops[f"/api/workflows/{{workflow_id}}/{action}"] = {"post": {
            "operationId": f"{action}Workflow", "summary": summary,
            "parameters": [_WORKFLOW_ID, _RUN_ID], "requestBody": _body(schema),
            "responses": {ok: _json(_ref("ActionResult"), "Done"), **_error_responses(*errors)},
        }}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Stalwart dev server API", "version": "1",
                 "description": "Start, steer and inspect workflows in a Stalwart store. "
                                "With --api-token, send 'Authorization: Bearer <token>'."},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": _schemas(),
        },
        "security": [{}, {"bearer": []}],
        "paths": {
            "/api/workflows": {
                "get": {
                    "operationId": "listWorkflows", "summary": "List runs, newest first",
                    "parameters": [*_FILTERS,
                                   {"name": "limit", "in": "query", "schema": {
                                       "type": "integer", "minimum": 1,
                                       "maximum": MAX_LIST_LIMIT, "default": 50}},
                                   {"name": "offset", "in": "query", "schema": {
                                       "type": "integer", "minimum": 0, "maximum": MAX_OFFSET,
                                       "default": 0}}],
                    "responses": {"200": _json(_ref("WorkflowList"), "A page of runs"),
                                  **_error_responses(400, 401, 403, 503)},
                },
                "post": {
                    "operationId": "startWorkflow", "summary": "Start a workflow",
                    "requestBody": _body("StartRequest"),
                    "responses": {"201": _json(_ref("Started"), "Started"),
                                  **_error_responses(400, 401, 403, 409, 413, 415, 422, 503)},
                },
            },
            "/api/workflow-count": {"get": {
                "operationId": "countWorkflows", "summary": "Count runs matching the filters",
                "parameters": _FILTERS,
                "responses": {"200": _json({"type": "object", "required": ["count"],
                                            "properties": {"count": {"type": "integer"}}},
                                           "The count"),
                              **_error_responses(400, 401, 403, 503)},
            }},
            "/api/workflows/{workflow_id}": {"get": {
                "operationId": "describeWorkflow",
                "summary": "Status, input, result, pending activities and inbox of a run",
                "parameters": [_WORKFLOW_ID, _RUN_ID],
                "responses": {"200": _json(_ref("Description"), "The run"),
                              **_error_responses(400, 401, 403, 404, 503)},
            }},
            "/api/workflows/{workflow_id}/history": {"get": {
                "operationId": "getHistory",
                "summary": "A page of the run's events, in Temporal's event model",
                "parameters": [_WORKFLOW_ID, _RUN_ID,
                               {"name": "after", "in": "query", "description":
                                "Return events with an id above this (0 = from the start).",
                                "schema": {"type": "integer", "minimum": 0,
                                           "maximum": MAX_OFFSET, "default": 0}},
                               {"name": "limit", "in": "query", "schema": {
                                   "type": "integer", "minimum": 1,
                                   "maximum": MAX_HISTORY_LIMIT, "default": 100}}],
                "responses": {"200": _json(_ref("HistoryPage"), "Events in order"),
                              **_error_responses(400, 401, 403, 404, 503)},
            }},
            "/api/workflows/{workflow_id}/usage": {"get": {
                "operationId": "getUsage",
                "summary": "Tokens and estimated cost of a run: totals, per model, per step",
                "parameters": [_WORKFLOW_ID, _RUN_ID],
                "responses": {"200": _json(_ref("Usage"), "The run's usage"),
                              **_error_responses(400, 401, 403, 404, 503)},
            }},
            "/api/inbox": {"get": {
                "operationId": "listInbox",
                "summary": "Steps of running workflows waiting for a person, oldest first",
                "parameters": [{"name": "workflow_type", "in": "query", "schema": _FILTER}],
                "responses": {"200": _json(_ref("Inbox"), "Waiting steps"),
                              **_error_responses(400, 401, 403, 503)},
            }},
            "/api/inbox/decisions": {"post": {
                "operationId": "decide",
                "summary": "Approve or reject a waiting step; recorded in the run's history "
                           "with 'by'",
                "requestBody": _body("DecisionRequest"),
                "responses": {"200": _json(_ref("ActionResult"), "The workflow took it"),
                              **_error_responses(400, 401, 403, 404, 409, 413, 415, 422, 503,
                                                 504)},
            }},
            **workflow_ops,
        },
    }


def _schemas() -> dict[str, Any]:
    time = {"type": ["string", "null"], "format": "date-time"}
    summary_props = {
        "workflow_id": {"type": "string"}, "run_id": {"type": "string"},
        "workflow_type": {"type": "string"}, "task_queue": {"type": "string"},
        "status": {"type": "string", "enum": [s.upper() for s in STATUS_NAMES]},
        "start_time": time, "close_time": time, "history_length": {"type": "integer"},
        "parent_workflow_id": {"type": ["string", "null"]},
        "parent_run_id": {"type": ["string", "null"]},
    }
    return {
        "Error": {"type": "object", "required": ["error"], "properties": {"error": {
            "type": "object", "required": ["code", "message"], "properties": {
                "code": {"type": "string"}, "message": {"type": "string"},
                "field": {"type": "string", "description": "The offending field or parameter"},
            }}}},
        "WorkflowSummary": {"type": "object", "properties": summary_props},
        "WorkflowList": {"type": "object", "required": ["workflows"], "properties": {
            "workflows": {"type": "array", "items": _ref("WorkflowSummary")},
            "next_offset": {"type": ["integer", "null"]}}},
        "PendingActivity": {"type": "object", "properties": {
            "seq": {"type": "integer"}, "activity_id": {"type": "string"},
            "activity_type": {"type": "string"}, "attempt": {"type": "integer"},
            "state": {"type": "string", "enum": ["scheduled", "started"]},
            "scheduled_at": time, "started_at": time, "last_heartbeat_at": time,
            "next_attempt_at": time, "cancel_requested": {"type": "boolean"},
            "worker_id": {"type": ["string", "null"]},
            "last_failure": {"type": ["object", "null"]}}},
        "Description": {"type": "object", "properties": {
            **summary_props,
            "first_execution_run_id": {"type": "string"},
            "continued_from_run_id": {"type": ["string", "null"]},
            "continued_as_new_run_id": {"type": ["string", "null"]},
            "input": {"type": "array"}, "result": {}, "failure": {"type": ["object", "null"]},
            "pending_activities": {"type": "array", "items": _ref("PendingActivity")},
            "pending_events": {"type": "array", "items": {"type": "object"}},
            "memo": {"type": "object", "description": "The memo, decoded; 'stalwart.usage' "
                     "holds an agent's tokens and cost"}}},
        "Event": {"type": "object", "properties": {
            "event_id": {"type": "integer"}, "event_type": {"type": "string"},
            "timestamp": time, "attributes": {"type": "object"}}},
        "HistoryPage": {"type": "object", "properties": {
            "workflow_id": {"type": "string"}, "run_id": {"type": "string"},
            "history_length": {"type": "integer"},
            "events": {"type": "array", "items": _ref("Event")},
            "next_after": {"type": ["integer", "null"],
                           "description": "Pass as ?after= for the next page; null at the end"}}},
        # Optional fields may also be null, which means the same as leaving them out.
        "StartRequest": {
            "type": "object", "additionalProperties": False,
            "required": ["workflow_type", "task_queue", "workflow_id"],
            "properties": {
                "workflow_type": _NAME, "task_queue": _NAME, "workflow_id": _NAME,
                "args": _ARGS,
                "execution_timeout": _timeout("Seconds the whole chain of runs may take"),
                "run_timeout": _timeout("Seconds each single run may take"),
                "task_timeout": _timeout("Seconds each workflow task may take (default 10)"),
                "id_reuse_policy": {"type": ["string", "null"],
                                    "enum": [*(p.name for p in WorkflowIDReusePolicy), None]},
                "id_conflict_policy": {"type": ["string", "null"], "enum": [
                    *(p.name for p in WorkflowIDConflictPolicy), None]},
            }},
        "Started": {"type": "object", "properties": {"workflow_id": {"type": "string"},
                                                     "run_id": {"type": "string"}}},
        "SignalRequest": {"type": "object", "additionalProperties": False,
                          "required": ["name"], "properties": {"name": _NAME, "args": _ARGS}},
        "QueryRequest": {"type": "object", "additionalProperties": False, "required": ["name"],
                         "properties": {"name": _NAME, "args": _ARGS, "timeout": {
                             "type": ["number", "null"], "exclusiveMinimum": 0,
                             "maximum": MAX_WAIT_SECONDS, "default": 10}}},
        "UpdateRequest": {"type": "object", "additionalProperties": False, "required": ["name"],
                          "properties": {"name": _NAME, "args": _ARGS,
                                         "update_id": {**_NAME, "type": ["string", "null"]},
                                         "timeout": {"type": ["number", "null"],
                                                     "exclusiveMinimum": 0,
                                                     "maximum": MAX_WAIT_SECONDS,
                                                     "default": 30}}},
        "CancelRequest": {"type": "object", "additionalProperties": False, "properties": {}},
        "TerminateRequest": {"type": "object", "additionalProperties": False, "properties": {
            "reason": {"type": ["string", "null"], "maxLength": MAX_REASON_CHARS,
                       "pattern": _REASON_PATTERN,
                       "description": "At most 10,000 UTF-8 bytes; line breaks and tabs "
                                      "allowed, other control characters not."}}},
        "ActionResult": {"type": "object", "description": "What was done; 'result' for "
                         "queries and updates."},
        "Usage": {"type": "object", "properties": {
            "source": {"type": "string", "enum": ["memo", "history", "none"]},
            "total": {"type": "object", "description": "Run totals and 'by_model'"},
            "total_tokens": {"type": "integer"},
            "steps": {"type": "array", "items": {"type": "object"}},
            "budget": {"type": ["object", "null"]}}},
        "InboxItem": {"type": "object", "properties": {
            "workflow_id": {"type": "string"}, "run_id": {"type": "string"},
            "workflow_type": {"type": "string"}, "task_queue": {"type": "string"},
            "step_id": {"type": "string"},
            "kind": {"type": "string", "description": "approval, question or budget"},
            "asks": {"type": "string"}, "details": {},
            "handler": {"type": "string"},
            "handler_kind": {"type": "string", "enum": ["update", "signal"]},
            "since": {"type": "string"}, "until": {"type": ["string", "null"]},
            "default": {"type": ["boolean", "null"]}}},
        "Inbox": {"type": "object", "required": ["items"], "properties": {
            "items": {"type": "array", "items": _ref("InboxItem")}}},
        "DecisionRequest": {
            "type": "object", "additionalProperties": False,
            "required": ["workflow_id", "step_id", "approved", "by"],
            "properties": {
                "workflow_id": _NAME, "step_id": _NAME,
                "run_id": {**_NAME, "type": ["string", "null"]},
                "approved": {"type": "boolean"},
                "by": {"type": "string", "minLength": 1, "maxLength": 200,
                       "pattern": _NAME_PATTERN,
                       "description": "Who decides; recorded with the decision."},
                "reason": {"type": ["string", "null"], "maxLength": 2000,
                           "pattern": _REASON_PATTERN},
                "answer": {"description": "Any JSON value (e.g. a new budget)."},
                "timeout": {"type": ["number", "null"], "exclusiveMinimum": 0,
                            "maximum": MAX_WAIT_SECONDS, "default": 30}}},
    }
