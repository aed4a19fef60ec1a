"""The UI's reset, fork and activity-steering actions, and the "Where is it waiting?" page.

Each action arrives as a POST from a form the page rendered (CSRF-checked by the caller) and
answers with where to go next: the new run after a reset or fork, else the same run.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from .._model import limits
from ..common import RetryPolicy
from .backend import Backend
from .validation import ApiError

# Actions that work on closed runs too (a reset or fork) or need the run open (activities).
ACTIONS = ("reset", "fork", "pause-activity", "unpause-activity", "reset-activity",
           "activity-options")

NOTICES = {
    "reset": "Workflow reset: this is the new run, carrying on from the chosen step.",
    "forked": "Forked: this is the new workflow, carrying on from the chosen step.",
    "activity_paused": "Activity paused: it is not retried until unpaused.",
    "activity_unpaused": "Activity unpaused.",
    "activity_reset": "Activity reset to attempt 1.",
    "activity_options": "Activity options updated; they apply from its next attempt.",
}

# How long the page waits for a worker to answer the stack-trace query.
STACK_QUERY_SECONDS = 5.0


def _text(form: dict[str, str], name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _event_id(form: dict[str, str]) -> int:
    text = _text(form, "event_id")
    if not text.isdigit() or not 0 < int(text) < 2**53:
        raise ApiError(422, "validation_error",
                       f"event_id={limits.shorten(text)!r} must be a workflow task's event id",
                       "event_id")
    return int(text)


def _positive(form: dict[str, str], name: str, *, integer: bool = False) -> float | None:
    text = _text(form, name)
    if not text:
        return None
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        raise ApiError(422, "validation_error",
                       f"{name}={limits.shorten(text)!r} is not a number", name) from None
    if not 0 <= value <= 10 * 365 * 86400:
        raise ApiError(422, "validation_error", f"{name}={value} is out of range", name)
    return value


async def steer(backend: Backend, workflow_id: str, run_id: str | None, action: str,
                form: dict[str, str]) -> tuple[str, str | None, str]:
    """Run one action; (workflow id, run id, notice) of the page to show next."""
    handle = backend.client.get_workflow_handle(workflow_id, run_id=run_id)
    identity = f"web UI ({backend.client.identity})"
    if action in ("reset", "fork"):
        reason = _text(form, "reason") or f"{action} from the web UI"
        exclude = ["Signal"] if form.get("reapply_signals") == "no" else []
        if action == "reset":
            new = await handle.reset(event_id=_event_id(form), reason=reason,
                                     reapply_exclude=exclude, identity=identity)
            return workflow_id, new.run_id, "reset"
        new_id = _text(form, "new_workflow_id")
        if not new_id:
            raise ApiError(422, "validation_error", "give the fork a new workflow id",
                           "new_workflow_id")
        limits.check_reference("new workflow id", new_id)
        new = await handle.fork(new_id, event_id=_event_id(form), reason=reason,
                                reapply_exclude=exclude, identity=identity)
        return new.id, new.run_id, "forked"
    activity_id = _text(form, "activity_id")
    if not activity_id:
        raise ApiError(422, "validation_error", "name the activity", "activity_id")
    if action == "pause-activity":
        await handle.pause_activity(activity_id, reason=_text(form, "reason"),
                                    identity=identity)
        notice = "activity_paused"
    elif action == "unpause-activity":
        await handle.unpause_activity(activity_id, identity=identity)
        notice = "activity_unpaused"
    elif action == "reset-activity":
        await handle.reset_activity(activity_id, keep_paused=form.get("keep_paused") == "on",
                                    identity=identity)
        notice = "activity_reset"
    else:
        await _update_options(handle, activity_id, form, identity)
        notice = "activity_options"
    return workflow_id, run_id, notice


async def _update_options(handle: Any, activity_id: str, form: dict[str, str],
                          identity: str) -> None:
    start_to_close = _positive(form, "start_to_close_seconds")
    attempts = _positive(form, "maximum_attempts", integer=True)
    retry = None
    if attempts is not None:
        current = next((a for a in (await handle.describe()).pending_activities
                        if a["activity_id"] == activity_id), None)
        policy = ((current or {}).get("options") or {}).get("retry_policy")
        base = RetryPolicy._from_json(policy) if policy else RetryPolicy()
        retry = RetryPolicy(initial_interval=base.initial_interval,
                            backoff_coefficient=base.backoff_coefficient,
                            maximum_interval=base.maximum_interval,
                            maximum_attempts=int(attempts),
                            non_retryable_error_types=base.non_retryable_error_types)
    await handle.update_activity_options(
        activity_id, retry_policy=retry, identity=identity,
        start_to_close_timeout=timedelta(seconds=start_to_close)
        if start_to_close is not None else None)


async def stack_trace(backend: Backend, workflow_id: str, run_id: str | None) -> str:
    handle = backend.client.get_workflow_handle(workflow_id, run_id=run_id)
    trace = await handle.query("__stack_trace",
                               rpc_timeout=timedelta(seconds=STACK_QUERY_SECONDS))
    return str(trace)
