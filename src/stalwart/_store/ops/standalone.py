"""Store operations on activities started from a client ("standalone" activities).

A standalone activity is a row of ``standalone_activities`` (the durable record: status,
options, outcome) plus, while it is pending, one ``activity_tasks`` row with the same
``run_id`` and ``seq`` 0. Workers claim, heartbeat, retry and time out that task row with the
very operations they use for a workflow's activities; when the attempt that ends the activity
reports, ``tasks.py`` hands the outcome here instead of to a workflow's inbox.
"""

from __future__ import annotations

from typing import Any

from ... import exceptions as exc
from ..._model.events import EventType
from ..._model.list_filter import Comparison, ListQuery
from ..base import DEFAULT_PRIORITY
from ..tx import Tx, dumps, loads
from . import payloads
from .activity_steering import _ACTIONS, _COLUMNS
from .executions import timeouts_deadline
from .visibility import _Compiler, _timestamp

SEQ = 0  # the one activity task of a standalone activity
_CANCELED = "Activity canceled"

RUNNING, COMPLETED, FAILED, CANCELED, TERMINATED, TIMED_OUT, PAUSED = 1, 2, 3, 4, 5, 6, 7

# temporalio's ActivityIDReusePolicy / ActivityIDConflictPolicy values.
_ALLOW_DUPLICATE_FAILED_ONLY, _REJECT_DUPLICATE = 2, 3
_USE_EXISTING = 2
_REUSE_NAMES = {1: "ALLOW_DUPLICATE", 2: "ALLOW_DUPLICATE_FAILED_ONLY", 3: "REJECT_DUPLICATE"}

COLUMNS = ("s.run_id, s.activity_id, s.activity_type, s.task_queue, s.status, s.schedule_time, "
           "s.execution_time, s.close_time, s.options, s.input, s.search_attributes, "
           "s.attempt, s.result, s.failure, s.last_failure, s.heartbeat_details, "
           "s.last_started_time, s.last_heartbeat_time, s.last_worker, s.canceled_reason, "
           "t.attempt, t.lease_owner, t.started_at, t.heartbeat_at, t.heartbeat_details, "
           "t.last_failure, t.visible_at, t.cancel_requested, t.paused, s.heartbeat_count, "
           "t.heartbeat_count")


def start(tx: Tx, request: dict[str, Any], now: float) -> tuple[str, bool]:
    """Start (or, by the conflict policy, find) the activity; ``(run_id, started)``."""
    activity_id = request["activity_id"]
    tx.lock_name(f"stalwart-activity-id:{activity_id}")
    running = tx.one("SELECT run_id, activity_type FROM standalone_activities WHERE "
                     "activity_id = ? AND status = ?", (activity_id, RUNNING))
    if running is not None:
        if request["id_conflict_policy"] == _USE_EXISTING:
            return str(running[0]), False
        raise exc.ActivityAlreadyStartedError(activity_id, str(running[1]),
                                              run_id=str(running[0]))
    last = tx.one("SELECT run_id, status, activity_type FROM standalone_activities WHERE "
                  "activity_id = ? ORDER BY schedule_time DESC LIMIT 1", (activity_id,))
    reuse = request["id_reuse_policy"]
    if last is not None and (reuse == _REJECT_DUPLICATE or (
            reuse == _ALLOW_DUPLICATE_FAILED_ONLY and last[1] == COMPLETED)):
        raise exc.ActivityAlreadyStartedError(activity_id, str(last[2]), run_id=str(last[0]))
    run_id = request["run_id"]
    options = request["options"]
    visible_at = now + (options.get("start_delay") or 0.0)
    packed = payloads.pack(tx, run_id, request["input"])
    tx.run("INSERT INTO standalone_activities (run_id, activity_id, activity_type, task_queue, "
           "status, schedule_time, execution_time, options, original_options, input, "
           "search_attributes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
           (run_id, activity_id, request["activity_type"], request["task_queue"], RUNNING,
            now, visible_at, dumps(options),
            dumps({**options, "task_queue": request["task_queue"]}), packed,
            dumps(request["search_attributes"])))
    deadline = timeouts_deadline(options, now, visible_at, None, None)
    tx.run("INSERT INTO activity_tasks (run_id, seq, task_queue, workflow_id, workflow_type, "
           "activity_type, activity_id, input, options, attempt, scheduled_at, "
           "attempt_scheduled_at, visible_at, deadline_at, priority) "
           "VALUES (?, ?, ?, '', '', ?, ?, ?, ?, 1, ?, ?, ?, ?, ?)",
           (run_id, SEQ, request["task_queue"], request["activity_type"], activity_id, packed,
            dumps(options), now, visible_at, visible_at, deadline,
            options.get("priority") or DEFAULT_PRIORITY))
    tx.wake("activity_task", request["task_queue"])
    tx.due(visible_at)
    tx.due(deadline)
    return run_id, True


def is_standalone(tx: Tx, run_id: str) -> bool:
    """Lock the record of a running standalone activity; False if there is none."""
    return tx.one("SELECT 1 FROM standalone_activities WHERE run_id = ? AND status = ?"
                  + tx.dialect.for_update, (run_id, RUNNING)) is not None


def close(tx: Tx, run_id: str, status: int, now: float, *, result: Any = None,
          failure: dict[str, Any] | None = None, identity: str | None = None,
          reason: str | None = None) -> None:
    """Close a running activity: keep what its task row knew, then drop the task row."""
    task = tx.one("SELECT attempt, started_at, heartbeat_at, heartbeat_details, last_failure, "
                  "heartbeat_count FROM activity_tasks WHERE run_id = ? AND seq = ?",
                  (run_id, SEQ))
    tx.run("DELETE FROM activity_tasks WHERE run_id = ? AND seq = ?", (run_id, SEQ))
    columns = ("status = ?, close_time = ?, result = ?, failure = ?, "
               "canceled_reason = COALESCE(?, canceled_reason), "
               "last_worker = COALESCE(?, last_worker)")
    params: list[Any] = [status, now, dumps(result) if result is not None else None,
                         dumps(failure) if failure is not None else None, reason, identity]
    if task is not None:
        columns += (", attempt = ?, last_started_time = COALESCE(?, last_started_time), "
                    "last_heartbeat_time = ?, heartbeat_details = ?, last_failure = ?, "
                    "heartbeat_count = ?")
        params += [task[0], task[1], task[2], task[3],
                   dumps(failure) if failure is not None else task[4], task[5]]
    tx.run(f"UPDATE standalone_activities SET {columns} WHERE run_id = ?", (*params, run_id))
    tx.wake("standalone_activity", run_id)


def close_failed(tx: Tx, run_id: str, event_type: str, failure: dict[str, Any],
                 identity: str, now: float) -> None:
    """The last attempt failed, timed out or acknowledged a cancel."""
    status = {str(EventType.ACTIVITY_TASK_TIMED_OUT): TIMED_OUT,
              str(EventType.ACTIVITY_TASK_CANCELED): CANCELED}.get(str(event_type), FAILED)
    # The activity's own error, as Temporal reports a standalone outcome: not wrapped in the
    # ActivityError a workflow would see.
    if failure.get("activity_failure_info") is not None and failure.get("cause"):
        failure = failure["cause"]
    if status == CANCELED:
        # Temporal's wording for the outcome of a cancelled standalone activity.
        failure = {**failure, "message": _CANCELED}
    close(tx, run_id, status, now, failure=failure, identity=identity)


def _target(tx: Tx, activity_id: str, run_id: str | None, lock: bool = True) -> Any:
    """The record's ``(run_id, status)``, locked for a write unless ``lock`` is False."""
    locking = tx.dialect.for_update if lock else ""
    if run_id is not None:
        row = tx.one("SELECT run_id, status FROM standalone_activities WHERE run_id = ? AND "
                     "activity_id = ?" + locking, (run_id, activity_id))
    else:
        row = tx.one("SELECT run_id, status FROM standalone_activities WHERE activity_id = ? "
                     "ORDER BY schedule_time DESC LIMIT 1" + locking, (activity_id,))
    if row is None:
        raise exc.RPCError(f"activity {activity_id!r}"
                           + (f" run {run_id!r}" if run_id else "") + " not found",
                           exc.RPCStatusCode.NOT_FOUND)
    return row


def request_cancel(tx: Tx, activity_id: str, run_id: str | None, reason: str | None,
                   now: float) -> None:
    """A pending attempt is cancelled at once; a running one learns of it from its next
    heartbeat, as in Temporal; a closed activity is left as it is."""
    target, status = _target(tx, activity_id, run_id)
    if status != RUNNING:
        return
    task = tx.one("SELECT lease_owner FROM activity_tasks WHERE run_id = ? AND seq = ?"
                  + tx.dialect.for_update, (target, SEQ))
    if task is None or task[0] is None:
        close(tx, target, CANCELED, now, reason=reason, failure={
            "message": _CANCELED, "source": "Stalwart",
            "canceled_failure_info": {}})
        return
    tx.run("UPDATE activity_tasks SET cancel_requested = TRUE WHERE run_id = ? AND seq = ?",
           (target, SEQ))
    tx.run("UPDATE standalone_activities SET canceled_reason = ? WHERE run_id = ?",
           (reason or "", target))


def terminate(tx: Tx, activity_id: str, run_id: str | None, reason: str | None,
              now: float) -> None:
    target, status = _target(tx, activity_id, run_id)
    if status != RUNNING:
        raise exc.RPCError(f"activity {activity_id!r} is already closed",
                           exc.RPCStatusCode.FAILED_PRECONDITION)
    close(tx, target, TERMINATED, now, failure={
        "message": reason or "Activity terminated", "source": "Stalwart",
        "terminated_failure_info": {}})


def steer(tx: Tx, activity_id: str, run_id: str | None, action: str, params: dict[str, Any],
          now: float) -> dict[str, Any]:
    """Pause or unpause the pending activity with the operations that steer a workflow's
    activities (``activity_steering.py``)."""
    target, status = _target(tx, activity_id, run_id)
    row = tx.one(f"SELECT {_COLUMNS} FROM activity_tasks WHERE run_id = ? AND seq = ?"
                 + tx.dialect.for_update, (target, SEQ))
    if status != RUNNING or row is None:
        raise exc.RPCError(f"activity {activity_id!r} is closed; only a running activity can "
                           f"be steered ({action})", exc.RPCStatusCode.FAILED_PRECONDITION)
    result = _ACTIONS[action](tx, target, row, params, now)
    delay = params.get("delay")
    if action == "unpause" and delay and row[3] is None:
        # Unpaused with jitter: dispatched at a moment the client drew within it.
        tx.run("UPDATE activity_tasks SET visible_at = ?, attempt_scheduled_at = ? "
               "WHERE run_id = ? AND seq = ? AND lease_owner IS NULL AND NOT paused",
               (now + delay, now + delay, target, SEQ))
        tx.due(now + delay)
    return result


_UPDATABLE = ("task_queue", "schedule_to_close_timeout", "schedule_to_start_timeout",
              "start_to_close_timeout", "heartbeat_timeout", "start_delay", "retry_policy",
              "priority")


def update_options(tx: Tx, activity_id: str, run_id: str | None,
                   changes: dict[str, Any] | None, now: float) -> dict[str, Any]:
    """Set (a value) or clear (None) options of a running activity, or with ``changes``
    None restore the options it started with; the options now in force. A running attempt
    keeps the deadline it started with; the next attempt uses the new options."""
    target, status = _target(tx, activity_id, run_id)
    row = tx.one(f"SELECT {_COLUMNS}, attempt, attempt_scheduled_at FROM activity_tasks "
                 "WHERE run_id = ? AND seq = ?" + tx.dialect.for_update, (target, SEQ))
    if status != RUNNING or row is None:
        raise exc.RPCError(f"activity {activity_id!r} is closed; its options can no longer "
                           "change", exc.RPCStatusCode.FAILED_PRECONDITION)
    record = tx.one("SELECT options, original_options, task_queue, schedule_time FROM "
                    "standalone_activities WHERE run_id = ?", (target,))
    if changes is None:
        options = loads(record[1])
        task_queue = options.pop("task_queue")
    else:
        options = loads(record[0])
        task_queue = changes.pop("task_queue", None)
        for key, value in changes.items():
            if value is None:
                options.pop(key, None)
            else:
                options[key] = value
    if not options.get("start_to_close_timeout") and \
            not options.get("schedule_to_close_timeout"):
        raise ValueError("update_options would leave neither start_to_close_timeout nor "
                         "schedule_to_close_timeout set; keep one of them")
    task_queue = task_queue or row[9]
    leased, paused, attempt = row[3] is not None, bool(row[5]), row[10]
    deadline: float | None = None
    visible = row[4]
    if not leased:
        if attempt == 1 and not paused:
            # Not dispatched yet: a new start delay counts from the schedule time.
            visible = record[3] + (options.get("start_delay") or 0.0)
        deadline = timeouts_deadline(options, row[8], row[11], None, None)
    tx.run("UPDATE activity_tasks SET options = ?, task_queue = ?, priority = ?, "
           "visible_at = ?, deadline_at = COALESCE(?, deadline_at) WHERE run_id = ? AND seq = ?",
           (dumps(options), task_queue, options.get("priority") or DEFAULT_PRIORITY, visible,
            deadline, target, SEQ))
    tx.run("UPDATE standalone_activities SET options = ?, task_queue = ? WHERE run_id = ?",
           (dumps(options), task_queue, target))
    tx.wake("activity_task", task_queue)
    tx.due(visible)
    tx.due(deadline)
    return {**options, "task_queue": task_queue}


def describe(tx: Tx, activity_id: str, run_id: str | None) -> dict[str, Any]:
    target, _ = _target(tx, activity_id, run_id, lock=False)
    row = tx.one(f"SELECT {COLUMNS} FROM standalone_activities s LEFT JOIN activity_tasks t "
                 "ON t.run_id = s.run_id AND t.seq = 0 WHERE s.run_id = ?", (target,))
    return row_to_dict(tx, row, with_input=True)


def outcome(tx: Tx, run_id: str) -> tuple[int, Any, Any] | None:
    """``(status, result, failure)`` once the activity closed, else None."""
    row = tx.one("SELECT status, result, failure FROM standalone_activities WHERE run_id = ?",
                 (run_id,))
    if row is None:
        raise exc.RPCError(f"activity run {run_id!r} not found", exc.RPCStatusCode.NOT_FOUND)
    if row[0] == RUNNING:
        return None
    return int(row[0]), loads(row[1]) if row[1] else None, loads(row[2]) if row[2] else None


def resolve_run(tx: Tx, activity_id: str, run_id: str | None) -> str:
    return str(_target(tx, activity_id, run_id, lock=False)[0])


def row_to_dict(tx: Tx, r: Any, with_input: bool = False) -> dict[str, Any]:
    running = r[4] == RUNNING and r[20] is not None
    return {
        "run_id": r[0], "activity_id": r[1], "activity_type": r[2], "task_queue": r[3],
        # Paused and waiting is Temporal's PAUSED; a running attempt asked to pause is RUNNING.
        "status": PAUSED if running and r[28] and not r[21] else r[4],
        "schedule_time": r[5], "execution_time": r[6], "close_time": r[7],
        "options": loads(r[8]),
        "input": payloads.unpack_rows(tx, r[0], [r[9]])[0] if with_input else None,
        "search_attributes": loads(r[10]),
        "attempt": r[20] if running else r[11],
        "result": loads(r[12]) if r[12] else None, "failure": loads(r[13]) if r[13] else None,
        "last_failure": loads(r[25]) if running and r[25] else
        (loads(r[14]) if r[14] else None),
        "heartbeat_details": loads(r[24]) if running and r[24] else
        (loads(r[15]) if r[15] else None),
        "last_started_time": r[22] if running and r[22] else r[16],
        "last_heartbeat_time": r[23] if running and r[23] else r[17],
        "last_worker": r[21] if running and r[21] else r[18],
        "canceled_reason": r[19], "heartbeat_count": r[30] if running else r[29],
        "state": None if r[4] != RUNNING else (
            "cancel_requested" if running and r[27] else
            ("pause_requested" if r[21] else "paused") if running and r[28] else
            "started" if running and r[21] else "scheduled"),
        "next_attempt_time": r[26] if running and not r[21] and not r[28] else None,
    }


class _ActivityCompiler(_Compiler):
    """Temporal's list filter over standalone activities: their own built-in fields."""

    COLUMNS = {
        "ActivityId": "s.activity_id", "ActivityType": "s.activity_type",
        "TaskQueue": "s.task_queue", "RunId": "s.run_id", "ActivityRunId": "s.run_id",
        "ExecutionStatus": "s.status", "StartTime": "s.schedule_time",
        "ScheduleTime": "s.schedule_time", "ExecutionTime": "s.execution_time",
        "CloseTime": "s.close_time",
        # Fields of a workflow's activities, which no activity started from a client has (as
        # on Temporal, a filter on them matches nothing rather than failing).
        "WorkflowId": "CAST(NULL AS TEXT)", "WorkflowType": "CAST(NULL AS TEXT)",
    }
    STATUS = {"running": RUNNING, "completed": COMPLETED, "failed": FAILED,
              "canceled": CANCELED, "cancelled": CANCELED, "terminated": TERMINATED,
              "timedout": TIMED_OUT, "timed_out": TIMED_OUT}

    def compile(self, node: Any) -> str:
        if isinstance(node, Comparison):
            column = self.COLUMNS.get(node.field)
            if column is None:
                raise self.error(node.position, f"unknown field {node.field!r} for activities; "
                                 f"known fields: {', '.join(sorted(self.COLUMNS))}")
            values = [self._convert(node, v) for v in node.values]
            return self.condition(column, node, values)
        return super().compile(node)

    def _convert(self, node: Comparison, value: Any) -> Any:
        if node.field.endswith("Time"):
            return _timestamp(self, node, value)
        if node.field == "ExecutionStatus" and not isinstance(value, int):
            status = self.STATUS.get(str(value).replace(" ", "").lower())
            if status is None:
                raise self.error(node.position, f"unknown ExecutionStatus {value!r}; use one of "
                                 "Running, Completed, Failed, Canceled, Terminated, TimedOut")
            return status
        return value

    def order(self, order_by: list[tuple[str, bool]]) -> str:
        parts = []
        for name, descending in order_by:
            column = self.COLUMNS.get(name)
            if column is None:
                raise self.error(0, f"ORDER BY {name}: order by one of "
                                 f"{', '.join(sorted(self.COLUMNS))}")
            parts.append(f"{column} {'DESC' if descending else 'ASC'}")
        return "ORDER BY " + ", ".join([*parts, "s.schedule_time DESC", "s.run_id"])


def _where(tx: Tx, query_text: str, query: ListQuery) -> tuple[_ActivityCompiler, str]:
    compiler = _ActivityCompiler(tx, query_text)
    where = f"WHERE {compiler.compile(query.where)}" if query.where is not None else ""
    return compiler, where


def list_activities(tx: Tx, query_text: str, query: ListQuery, limit: int,
                    offset: int) -> list[dict[str, Any]]:
    compiler, where = _where(tx, query_text, query)
    order = compiler.order(query.order_by)
    rows = tx.all(f"SELECT {COLUMNS} FROM standalone_activities s LEFT JOIN activity_tasks t "
                  f"ON t.run_id = s.run_id AND t.seq = 0 {where} {order} LIMIT ? OFFSET ?",
                  (*compiler.params, limit, offset))
    return [row_to_dict(tx, r) for r in rows]


def count_activities(tx: Tx, query_text: str, query: ListQuery) -> int:
    compiler, where = _where(tx, query_text, query)
    row = tx.one(f"SELECT COUNT(*) FROM standalone_activities s {where}", compiler.params)
    return int(row[0])


def delete_closed(tx: Tx, closed_before: float, limit: int) -> int:
    """Retention: forget up to ``limit`` activities closed before ``closed_before``."""
    rows = tx.all(
        "DELETE FROM standalone_activities WHERE run_id IN (SELECT run_id FROM "
        "standalone_activities WHERE status <> ? AND close_time < ? ORDER BY close_time "
        f"LIMIT ?{tx.dialect.skip_locked}) RETURNING run_id", (RUNNING, closed_before, limit))
    run_ids = [r[0] for r in rows]
    if run_ids:
        payloads.delete_runs(tx, run_ids)
    return len(run_ids)
