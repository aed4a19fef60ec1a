"""Reset, fork and activity steering on a ``WorkflowHandle`` (Stalwart additions).

``temporalio`` reaches these only through the raw service (``ResetWorkflowExecution``,
``PauseActivity``, ``UnpauseActivity``, ``ResetActivity``, ``UpdateActivityOptions``); Stalwart
offers them as methods with the semantics of ``temporal workflow reset`` and
``temporal activity pause|unpause|reset|update-options``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from . import exceptions as exc
from ._model.temporal_history.points import ResetPoint, reset_points
from ._store.base import ExecutionStatus
from ._store.ops.reset import ResetRequest
from .common import RetryPolicy

if TYPE_CHECKING:
    from .client import Client, WorkflowHandle

RESET_TYPES = ("FirstWorkflowTask", "LastWorkflowTask", "LastContinuedAsNew")
REAPPLY_TYPES = ("AllEligible", "Signal", "None")
REAPPLY_EXCLUDE_TYPES = ("All", "Signal", "Update")


def _check_choice(field: str, value: str, choices: Sequence[str]) -> str:
    for choice in choices:
        if value.lower() == choice.lower():
            return choice
    raise ValueError(f"{field}={value!r} is not one of {', '.join(choices)}")


async def choose_point(client: Client, workflow_id: str, run_id: str | None,
                       event_id: int | None, reset_type: str | None
                       ) -> tuple[str, ResetPoint]:
    """(base run id, point) for ``event_id`` (Temporal's numbering) or ``reset_type``."""
    if (event_id is None) == (reset_type is None):
        raise ValueError("give exactly one of event_id (a workflow task event id from "
                         "fetch_history()) and reset_type (FirstWorkflowTask, "
                         "LastWorkflowTask or LastContinuedAsNew)")
    kind = _check_choice("reset_type", reset_type, RESET_TYPES) if reset_type else None
    row = await client.store.get_execution(workflow_id, run_id)
    if row is None:
        raise exc.WorkflowNotFoundError(
            f"workflow {workflow_id!r}" + (f" run {run_id!r}" if run_id else "") + " not found")
    if kind == "LastContinuedAsNew" and row.continued_run_id is None:
        raise ValueError(f"run {row.run_id} of workflow {workflow_id!r} did not start by "
                         "continue-as-new; reset_type=LastContinuedAsNew needs one that did")
    events = await client.store.get_history(row.run_id)
    points = reset_points(events, run_id=row.run_id)
    completed = [p for p in points if p.completed]
    if event_id is not None:
        found = next((p for p in points if p.matches(event_id)), None)
        if found is None:
            ids = ", ".join(str(p.finish_event_id) for p in points) or "none yet"
            raise ValueError(
                f"event_id={event_id} is not a workflow task of run {row.run_id}; reset to "
                f"a WorkflowTaskStarted/Completed/Failed event id (completed tasks: {ids})")
        return row.run_id, found
    if not completed:
        raise ValueError(f"run {row.run_id} of workflow {workflow_id!r} has no completed "
                         "workflow task to reset to yet")
    return row.run_id, completed[-1] if kind == "LastWorkflowTask" else completed[0]


def reapply_flags(reapply_type: str, reapply_exclude: Sequence[str]) -> tuple[bool, bool]:
    """(signals, updates) to reapply, from Temporal's reapply type and exclude types."""
    kind = _check_choice("reapply_type", reapply_type, REAPPLY_TYPES)
    excluded = {_check_choice("reapply_exclude", e, REAPPLY_EXCLUDE_TYPES)
                for e in reapply_exclude}
    signals = kind in ("AllEligible", "Signal") and not excluded & {"All", "Signal"}
    updates = kind == "AllEligible" and not excluded & {"All", "Update"}
    return signals, updates


async def reset_or_fork(handle: WorkflowHandle[Any, Any], *, fork_workflow_id: str | None,
                        event_id: int | None, reset_type: str | None, reason: str,
                        reapply_type: str, reapply_exclude: Sequence[str],
                        identity: str | None) -> WorkflowHandle[Any, Any]:
    client = handle._client
    if fork_workflow_id is not None and not fork_workflow_id.strip():
        raise ValueError("new_workflow_id must not be empty: name the forked workflow")
    if fork_workflow_id == handle.id:
        raise ValueError(f"new_workflow_id={fork_workflow_id!r} is the workflow's own id; a "
                         "fork needs a new id (use reset() to replace the run instead)")
    base_run, point = await choose_point(client, handle.id, handle.run_id, event_id,
                                         reset_type)
    signals, updates = reapply_flags(reapply_type, reapply_exclude)
    new_run_id = str(uuid.uuid4())
    await client.store.reset_workflow(ResetRequest(
        workflow_id=handle.id, base_run_id=base_run, point=point.stored_event_id,
        new_run_id=new_run_id, reason=reason, identity=identity or client.identity,
        reapply_signals=signals, reapply_updates=updates, fork_workflow_id=fork_workflow_id),
        client._clock.now())
    new_id = fork_workflow_id or handle.id
    return client.get_workflow_handle(new_id, run_id=new_run_id,
                                      result_type=handle._result_type)


def _seconds(field: str, value: timedelta | None) -> float | None:
    if value is None:
        return None
    if not isinstance(value, timedelta) or value.total_seconds() < 0:
        raise ValueError(f"{field}={value!r} must be a non-negative timedelta "
                         "(timedelta(0) removes the timeout)")
    return value.total_seconds()


async def steer(handle: WorkflowHandle[Any, Any], action: str, activity_id: str | None,
                activity_type: str | None, params: dict[str, Any]) -> list[dict[str, Any]]:
    if (activity_id is None) == (activity_type is None):
        raise ValueError("give exactly one of activity_id and activity_type (every pending "
                         "activity of that type)")
    client = handle._client
    params.setdefault("identity", client.identity)
    row = await client.store.get_execution(handle.id, handle.run_id)
    if row is not None and row.status != ExecutionStatus.RUNNING:
        raise exc.RPCError(f"workflow {handle.id!r} run {row.run_id} is closed "
                           f"({row.status.name.lower()}); its activities are no longer "
                           "pending", exc.RPCStatusCode.NOT_FOUND)
    return await client.store.steer_activities(handle.id, handle.run_id, activity_id,
                                               activity_type, action, params,
                                               client._clock.now())


def option_changes(*, schedule_to_close_timeout: timedelta | None,
                   schedule_to_start_timeout: timedelta | None,
                   start_to_close_timeout: timedelta | None,
                   heartbeat_timeout: timedelta | None, retry_policy: RetryPolicy | None,
                   task_queue: str | None) -> dict[str, Any]:
    changes: dict[str, Any] = {
        "schedule_to_close_timeout": _seconds("schedule_to_close_timeout",
                                              schedule_to_close_timeout),
        "schedule_to_start_timeout": _seconds("schedule_to_start_timeout",
                                              schedule_to_start_timeout),
        "start_to_close_timeout": _seconds("start_to_close_timeout", start_to_close_timeout),
        "heartbeat_timeout": _seconds("heartbeat_timeout", heartbeat_timeout),
        "task_queue": task_queue,
    }
    if retry_policy is not None:
        retry_policy._validate()
        changes["retry_policy"] = retry_policy._to_json()
    if all(v is None for v in changes.values()):
        raise ValueError("update_activity_options() needs at least one option to change "
                         "(a timeout, retry_policy or task_queue)")
    return changes


class WorkflowSteering:
    """The reset, fork and activity-steering methods of ``WorkflowHandle``."""

    _client: Client
    _id: str
    _run_id: str | None

    async def reset(self, *, event_id: int | None = None, reset_type: str | None = None,
                    reason: str = "", reapply_type: str = "AllEligible",
                    reapply_exclude: Sequence[str] = (),
                    identity: str | None = None) -> WorkflowHandle[Any, Any]:
        """Reset the workflow to a workflow task, as ``temporal workflow reset`` does
        (Stalwart addition). Give ``event_id`` (the id of a ``WorkflowTaskStarted``,
        ``WorkflowTaskCompleted`` or ``WorkflowTaskFailed`` event of this run, as
        ``fetch_history()`` shows) or ``reset_type`` (``FirstWorkflowTask``,
        ``LastWorkflowTask``, ``LastContinuedAsNew``). The open run is terminated with
        ``reason``; a new run carries on from that task, reusing every result recorded
        before it. Signals and updates after the point are reapplied unless
        ``reapply_type="None"``/``"Signal"`` or ``reapply_exclude`` (``Signal``,
        ``Update``, ``All``) says otherwise. Returns a handle on the new run."""
        return await reset_or_fork(self, fork_workflow_id=None,  # type: ignore[arg-type]
                                   event_id=event_id, reset_type=reset_type, reason=reason,
                                   reapply_type=reapply_type, reapply_exclude=reapply_exclude,
                                   identity=identity)

    async def fork(self, new_workflow_id: str, *, event_id: int | None = None,
                   reset_type: str | None = None, reason: str = "",
                   reapply_type: str = "AllEligible", reapply_exclude: Sequence[str] = (),
                   identity: str | None = None) -> WorkflowHandle[Any, Any]:
        """Like ``reset()``, into a new workflow ``new_workflow_id``, leaving this workflow
        untouched (Stalwart addition): try another path from the same step. The fork's
        first run names this run as its base (``describe().base_run_id``)."""
        return await reset_or_fork(self, fork_workflow_id=new_workflow_id,  # type: ignore
                                   event_id=event_id, reset_type=reset_type, reason=reason,
                                   reapply_type=reapply_type, reapply_exclude=reapply_exclude,
                                   identity=identity)

    async def pause_activity(self, activity_id: str | None = None, *,
                             activity_type: str | None = None, reason: str = "",
                             identity: str | None = None) -> list[dict[str, Any]]:
        """Pause a pending activity (Stalwart addition; Temporal's ``PauseActivity``): it is
        not dispatched or retried until unpaused. A running attempt finishes; if it fails,
        its retry waits for the unpause (a final failure still reaches the workflow)."""
        return await steer(self, "pause", activity_id, activity_type,  # type: ignore
                           {"reason": reason, "identity": identity})

    async def unpause_activity(self, activity_id: str | None = None, *,
                               activity_type: str | None = None,
                               identity: str | None = None) -> list[dict[str, Any]]:
        """Let a paused activity run again: at once if its retry time has passed, else at
        that time (Temporal's ``UnpauseActivity``)."""
        return await steer(self, "unpause", activity_id, activity_type,  # type: ignore
                           {"identity": identity})

    async def reset_activity(self, activity_id: str | None = None, *,
                             activity_type: str | None = None, keep_paused: bool = False,
                             reset_heartbeat: bool = False,
                             identity: str | None = None) -> list[dict[str, Any]]:
        """Start a pending activity over from attempt 1 (Temporal's ``ResetActivity``): at
        once if it waits for a retry, after the running attempt fails otherwise. Unpauses it
        unless ``keep_paused``; ``reset_heartbeat`` clears its heartbeat details."""
        return await steer(self, "reset", activity_id, activity_type,  # type: ignore
                           {"keep_paused": keep_paused, "reset_heartbeat": reset_heartbeat,
                            "identity": identity})

    async def update_activity_options(
            self, activity_id: str | None = None, *, activity_type: str | None = None,
            schedule_to_close_timeout: timedelta | None = None,
            schedule_to_start_timeout: timedelta | None = None,
            start_to_close_timeout: timedelta | None = None,
            heartbeat_timeout: timedelta | None = None,
            retry_policy: RetryPolicy | None = None, task_queue: str | None = None,
            identity: str | None = None) -> list[dict[str, Any]]:
        """Change a pending activity's options (Temporal's ``UpdateActivityOptions``): the
        given ones only; they govern its next attempt (a running attempt keeps the
        timeouts it started with). ``timedelta(0)`` removes a timeout."""
        changes = option_changes(
            schedule_to_close_timeout=schedule_to_close_timeout,
            schedule_to_start_timeout=schedule_to_start_timeout,
            start_to_close_timeout=start_to_close_timeout,
            heartbeat_timeout=heartbeat_timeout, retry_policy=retry_policy,
            task_queue=task_queue)
        changes["identity"] = identity
        return await steer(self, "update_options", activity_id,  # type: ignore[arg-type]
                           activity_type, changes)
