"""Steering a pending activity from outside, as Temporal's ``activity pause|unpause|reset|
update-options`` do: by activity id, or every pending activity of a type.

A paused activity that is waiting (for its first attempt or a retry) is hidden from claiming:
its ``visible_at`` moves out of reach and the time it was due is kept in ``paused_visible_at``.
An attempt already running finishes; if it fails, its retry waits hidden until unpaused.
"""

from __future__ import annotations

from typing import Any

from ... import exceptions as exc
from ..tx import Tx, dumps, loads
from .executions import find_open_run, timeouts_deadline

# Later than any clock: a paused activity is never due.
HIDDEN_AT = 1.0e15

_COLUMNS = ("seq, activity_id, activity_type, lease_owner, visible_at, paused, "
            "paused_visible_at, options, scheduled_at, task_queue")


def paused_deadline(options: dict[str, Any], scheduled_at: float) -> float | None:
    """While paused and waiting only schedule-to-close runs (Temporal's pause does not stop
    it); schedule-to-start restarts when it is dispatched again."""
    timeout = options.get("schedule_to_close_timeout")
    return scheduled_at + timeout if timeout else None


def steer_activities(tx: Tx, workflow_id: str, run_id: str | None, activity_id: str | None,
                     activity_type: str | None, action: str, params: dict[str, Any],
                     now: float) -> list[dict[str, Any]]:
    """Apply ``action`` (pause, unpause, reset, update_options) to the matching pending
    activities of the workflow's open run; what each became. Raises if none matches."""
    target, _ = find_open_run(tx, workflow_id, run_id, lock=True)
    if activity_id is not None:
        rows = tx.all(f"SELECT {_COLUMNS} FROM activity_tasks WHERE run_id = ? AND "
                      "activity_id = ?" + tx.dialect.for_update, (target, activity_id))
    else:
        rows = tx.all(f"SELECT {_COLUMNS} FROM activity_tasks WHERE run_id = ? AND "
                      "activity_type = ?" + tx.dialect.for_update, (target, activity_type))
    if not rows:
        what = (f"activity id {activity_id!r}" if activity_id is not None
                else f"activity type {activity_type!r}")
        raise exc.RPCError(
            f"workflow {workflow_id!r} (run {target}) has no pending activity with {what}; "
            "`describe()` lists its pending activities", exc.RPCStatusCode.NOT_FOUND, b"")
    changed = []
    for row in rows:
        changed.append(_ACTIONS[action](tx, target, row, params, now))
    return changed


def _pause(tx: Tx, run_id: str, row: Any, params: dict[str, Any], now: float) -> dict[str, Any]:
    seq, activity_id, _, lease_owner, visible_at, paused = row[:6]
    info = dumps({"paused_at": now, "identity": params.get("identity") or "",
                  "reason": params.get("reason") or ""})
    if paused:
        return {"activity_id": activity_id, "state": "paused"}
    if lease_owner is None:
        tx.run("UPDATE activity_tasks SET paused = TRUE, pause_info = ?, "
               "paused_visible_at = ?, visible_at = ?, deadline_at = ? "
               "WHERE run_id = ? AND seq = ?",
               (info, visible_at, HIDDEN_AT, paused_deadline(loads(row[7]), row[8]),
                run_id, seq))
        return {"activity_id": activity_id, "state": "paused"}
    tx.run("UPDATE activity_tasks SET paused = TRUE, pause_info = ? WHERE run_id = ? AND "
           "seq = ?", (info, run_id, seq))
    return {"activity_id": activity_id, "state": "pause_requested"}


def _unpause(tx: Tx, run_id: str, row: Any, params: dict[str, Any],
             now: float) -> dict[str, Any]:
    seq, activity_id, _, lease_owner, _, paused, paused_visible_at = row[:7]
    if not paused:
        return {"activity_id": activity_id, "state": "running" if lease_owner else "scheduled"}
    if lease_owner is not None:
        tx.run("UPDATE activity_tasks SET paused = FALSE, pause_info = NULL WHERE run_id = ? "
               "AND seq = ?", (run_id, seq))
        return {"activity_id": activity_id, "state": "running"}
    # Due when it was due before the pause: at once if that time has passed.
    _release(tx, run_id, row, float(paused_visible_at or now), None)
    return {"activity_id": activity_id, "state": "scheduled"}


def _release(tx: Tx, run_id: str, row: Any, visible: float, attempt: int | None) -> None:
    seq, options, scheduled_at, task_queue = row[0], loads(row[7]), row[8], row[9]
    deadline = timeouts_deadline(options, scheduled_at, visible, None, None)
    tx.run("UPDATE activity_tasks SET paused = FALSE, pause_info = NULL, "
           "paused_visible_at = NULL, visible_at = ?, attempt_scheduled_at = ?, "
           "deadline_at = ?, attempt = COALESCE(?, attempt) WHERE run_id = ? AND seq = ?",
           (visible, visible, deadline, attempt, run_id, seq))
    tx.wake("activity_task", task_queue)
    tx.due(visible)
    tx.due(deadline)


def _reset(tx: Tx, run_id: str, row: Any, params: dict[str, Any], now: float) -> dict[str, Any]:
    seq, activity_id, _, lease_owner, _, paused = row[:6]
    keep_paused = bool(params.get("keep_paused")) and bool(paused)
    if params.get("reset_heartbeat"):
        tx.run("UPDATE activity_tasks SET heartbeat_details = NULL WHERE run_id = ? AND "
               "seq = ?", (run_id, seq))
    if lease_owner is not None:
        # The running attempt is left to finish; if it fails, the next attempt is attempt 1.
        tx.run("UPDATE activity_tasks SET reset_requested = TRUE, paused = ?, "
               "pause_info = CASE WHEN ? THEN pause_info ELSE NULL END "
               "WHERE run_id = ? AND seq = ?", (keep_paused, keep_paused, run_id, seq))
        return {"activity_id": activity_id, "state": "reset_requested"}
    if keep_paused:
        tx.run("UPDATE activity_tasks SET attempt = 1, paused_visible_at = ? WHERE "
               "run_id = ? AND seq = ?", (now, run_id, seq))
        return {"activity_id": activity_id, "state": "paused"}
    _release(tx, run_id, row, now, 1)
    return {"activity_id": activity_id, "state": "scheduled"}


_OPTION_KEYS = ("schedule_to_close_timeout", "schedule_to_start_timeout",
                "start_to_close_timeout", "heartbeat_timeout")


def _update_options(tx: Tx, run_id: str, row: Any, params: dict[str, Any],
                    now: float) -> dict[str, Any]:
    seq, activity_id, lease_owner, paused, scheduled_at = row[0], row[1], row[3], row[5], row[8]
    options = loads(row[7])
    for key in _OPTION_KEYS:
        if params.get(key) is not None:
            options[key] = params[key] or None
    if params.get("retry_policy") is not None:
        merged = dict(options.get("retry_policy") or {})
        merged.update({k: v for k, v in params["retry_policy"].items() if v is not None})
        options["retry_policy"] = merged
    task_queue = params.get("task_queue") or row[9]
    if lease_owner is not None:
        deadline = None  # the running attempt keeps the deadline it started with
        tx.run("UPDATE activity_tasks SET options = ?, task_queue = ? WHERE run_id = ? AND "
               "seq = ?", (dumps(options), task_queue, run_id, seq))
    else:
        attempt_at = tx.one("SELECT attempt_scheduled_at FROM activity_tasks WHERE "
                            "run_id = ? AND seq = ?", (run_id, seq))[0]
        deadline = paused_deadline(options, scheduled_at) if paused else \
            timeouts_deadline(options, scheduled_at, attempt_at, None, None)
        tx.run("UPDATE activity_tasks SET options = ?, task_queue = ?, deadline_at = ? "
               "WHERE run_id = ? AND seq = ?",
               (dumps(options), task_queue, deadline, run_id, seq))
        tx.wake("activity_task", task_queue)
        tx.due(deadline)
    return {"activity_id": activity_id, "options": options}


_ACTIONS = {"pause": _pause, "unpause": _unpause, "reset": _reset,
            "update_options": _update_options}
