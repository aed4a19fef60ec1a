"""The approval inbox: every running workflow waiting for a person, and deciding for it.

Runs publish their waiting steps with :class:`stalwart.agents.HumanSteps` (the indexed search
attribute ``StalwartAwaitingHuman`` and the memo ``stalwart.human_steps``), so listing the
inbox is one indexed visibility query however many runs the store holds. Used by the web UI,
the JSON API and the CLI; it knows nothing of HTTP.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from .._model import limits
from .._model.list_filter import ListFilterError
from ..client import Client, WorkflowExecution
from ..exceptions import WorkflowUpdateFailedError
from .human import AWAITING_HUMAN, HUMAN_STEPS_MEMO

__all__ = ["INBOX_QUERY", "InboxError", "InboxItem", "decide", "list_inbox", "waiting_step"]

INBOX_QUERY = f"ExecutionStatus = 'Running' AND {AWAITING_HUMAN.name} = true"
MAX_INBOX_RUNS = 1000
MAX_NAME_CHARS = 200
MAX_REASON_CHARS = 2000


class InboxError(ValueError):
    """A decision that cannot be taken; ``status`` is the HTTP status the server answers."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


@dataclass
class InboxItem:
    """One waiting step of one run."""

    workflow_id: str
    run_id: str
    workflow_type: str
    task_queue: str
    step_id: str
    kind: str
    asks: str
    details: Any
    handler: str
    handler_kind: str
    since: str
    until: str | None
    default: bool | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def overdue(self) -> bool:
        if not self.until:
            return False
        try:
            return datetime.fromisoformat(self.until) < datetime.now(UTC)
        except ValueError:
            return False


def _items(execution: WorkflowExecution, steps: Any) -> list[InboxItem]:
    items = []
    for step in steps if isinstance(steps, list) else []:
        if not isinstance(step, dict) or not isinstance(step.get("id"), str):
            continue
        items.append(InboxItem(
            execution.id, execution.run_id, execution.workflow_type, execution.task_queue,
            step["id"], str(step.get("kind") or "approval"), str(step.get("asks") or ""),
            step.get("details"), str(step.get("handler") or "decide"),
            str(step.get("handler_kind") or "update"), str(step.get("since") or ""),
            step.get("until") if isinstance(step.get("until"), str) else None,
            step.get("default") if isinstance(step.get("default"), bool) else None))
    return items


async def list_inbox(client: Client, *, workflow_type: str | None = None,
                     limit: int = MAX_INBOX_RUNS) -> list[InboxItem]:
    """Every waiting step, oldest first."""
    items: list[InboxItem] = []
    try:
        executions = [e async for e in client.list_workflows(INBOX_QUERY, limit=limit)]
    except ListFilterError as error:
        # A store where no run ever published a step does not know the attribute yet.
        if f"unknown field {AWAITING_HUMAN.name!r}" in str(error):
            return []
        raise
    for execution in executions:
        if workflow_type and execution.workflow_type != workflow_type:
            continue
        try:
            steps = await execution.memo_value(HUMAN_STEPS_MEMO, None)
        except Exception:  # a memo this server cannot decode (a codec it lacks)
            continue
        items.extend(_items(execution, steps))
    items.sort(key=lambda item: (item.since, item.workflow_id, item.step_id))
    return items


async def waiting_step(client: Client, workflow_id: str, run_id: str | None,
                       step_id: str) -> InboxItem:
    """The waiting step ``step_id`` of a run, or a 404/409 that says what is waiting."""
    handle = client.get_workflow_handle(workflow_id, run_id=run_id)
    description = await handle.describe()
    if description.status is None or description.status.name != "RUNNING":
        raise InboxError(409, "workflow_closed", f"workflow {workflow_id!r} is not running")
    items = _items(description, await description.memo_value(HUMAN_STEPS_MEMO, None))
    for item in items:
        if item.step_id == step_id:
            return item
    waiting = ", ".join(repr(i.step_id) for i in items) or "none"
    raise InboxError(409, "not_waiting", f"workflow {workflow_id!r} has no step {step_id!r} "
                   f"waiting for a decision (waiting: {waiting}); it may have been decided "
                   "already or timed out")


def check_identity(value: Any, field: str = "by") -> str:
    if not isinstance(value, str) or not value.strip():
        raise InboxError(422, "validation_error", f"'{field}' is required: the name of the "
                       "person deciding, recorded in the workflow's history", field)
    name: str = value.strip()
    if len(name) > MAX_NAME_CHARS:
        raise InboxError(422, "validation_error", f"'{field}' must be a name of at most "
                         f"{MAX_NAME_CHARS} characters", field)
    try:
        # The rule of every name: no control characters (nor bidi overrides), not blank.
        limits.check_name(f"'{field}'", name)
    except ValueError as error:
        raise InboxError(422, "validation_error", str(error), field) from None
    return name


async def decide(client: Client, workflow_id: str, run_id: str | None, step_id: str, *,
                 approved: bool, by: str, reason: str = "", answer: Any = None,
                 timeout: float = 30.0) -> dict[str, Any]:
    """Send the decision to the step's handler; returns what the workflow answered.

    The decision (with ``by``) is the handler's argument, so it is recorded in the history.
    """
    if len(reason) > MAX_REASON_CHARS:
        raise InboxError(422, "validation_error", f"'reason' is longer than {MAX_REASON_CHARS} "
                       "characters", "reason")
    if answer is not None:
        limits.check_value("answer", answer)
    item = await waiting_step(client, workflow_id, run_id, step_id)
    decision = {"call_id": step_id, "approved": approved, "by": by, "reason": reason,
                "answer": answer}
    handle = client.get_workflow_handle(workflow_id, run_id=item.run_id)
    outcome: Any = None
    if item.handler_kind == "signal":
        await handle.signal(item.handler, decision)
    else:
        try:
            outcome = await asyncio.wait_for(handle.execute_update(item.handler, decision),
                                             timeout)
        except TimeoutError:
            raise InboxError(504, "timeout", f"the workflow did not take the decision within "
                           f"{timeout:g} s: is a worker polling its task queue "
                           f"{item.task_queue!r}?") from None
        except WorkflowUpdateFailedError as error:
            raise InboxError(409, "decision_refused",
                           f"the workflow refused the decision: {error.cause or error}") from None
    return {"workflow_id": workflow_id, "run_id": item.run_id, "step_id": step_id,
            "approved": approved, "by": by, "outcome": outcome}
