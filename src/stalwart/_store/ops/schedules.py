"""Store operations on schedules and the scheduler lease.

The schedule's definition and state are JSON the engine owns. ``mutate_schedule`` reads (and,
where rows are locked, locks) the row, hands it to the engine's step together with a
transaction object that can start, cancel and terminate workflows, and writes back what the
step returns, all in one transaction: a due time is fired, and the schedule advanced past it,
together or not at all. The step runs on the driver's thread, inside the transaction.
"""

from __future__ import annotations

from typing import Any

from ..._model.events import EventType
from ..base import (
    ExecutionStatus,
    ScheduleRow,
    ScheduleRun,
    ScheduleStep,
    StartResult,
    StartWorkflowRequest,
)
from ..tx import Tx, dumps, loads
from .executions import add_external_event, start_workflow, terminate

_COLUMNS = ("schedule_id, schedule, info, memo, search_attributes, created_at, updated_at, "
            "next_action_at, version")
_LEASE = "scheduler"


def _runs(tx: Tx, schedule_id: str) -> list[ScheduleRun]:
    return [ScheduleRun(*r) for r in tx.all(
        "SELECT workflow_id, first_run_id, run_id FROM schedule_runs WHERE schedule_id = ? "
        "ORDER BY position", (schedule_id,))]


def _row(tx: Tx, r: Any) -> ScheduleRow:
    return ScheduleRow(schedule_id=r[0], schedule=loads(r[1]), info=loads(r[2]),
                       memo=loads(r[3]) if r[3] else None,
                       search_attributes=loads(r[4]) if r[4] else None, created_at=r[5],
                       updated_at=r[6], next_action_at=r[7], running=_runs(tx, r[0]),
                       version=r[8])


def _write_runs(tx: Tx, row: ScheduleRow) -> None:
    tx.run("DELETE FROM schedule_runs WHERE schedule_id = ?", (row.schedule_id,))
    runs = {r.first_run_id: r for r in row.running}  # the last of duplicates wins
    if runs:
        tx.many("INSERT INTO schedule_runs (schedule_id, workflow_id, first_run_id, run_id, "
                "position) VALUES (?, ?, ?, ?, ?)",
                [(row.schedule_id, r.workflow_id, r.first_run_id, r.run_id, position)
                 for position, r in enumerate(runs.values())])


def create_schedule(tx: Tx, row: ScheduleRow, now: float) -> bool:
    """Insert a new schedule; False if the id is taken."""
    inserted = tx.one(
        f"INSERT INTO schedules ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1) "
        "ON CONFLICT (schedule_id) DO NOTHING RETURNING schedule_id",
        (row.schedule_id, dumps(row.schedule), dumps(row.info),
         dumps(row.memo) if row.memo else None,
         dumps(row.search_attributes) if row.search_attributes else None,
         row.created_at, row.updated_at, row.next_action_at))
    if inserted is None:
        return False
    _write_runs(tx, row)
    tx.wake("schedule", row.schedule_id)
    return True


def get_schedule(tx: Tx, schedule_id: str) -> ScheduleRow | None:
    r = tx.one(f"SELECT {_COLUMNS} FROM schedules WHERE schedule_id = ?", (schedule_id,))
    return _row(tx, r) if r is not None else None


def list_schedules(tx: Tx, limit: int, offset: int) -> list[ScheduleRow]:
    rows = tx.all(f"SELECT {_COLUMNS} FROM schedules ORDER BY schedule_id LIMIT ? OFFSET ?",
                  (limit, offset))
    return [_row(tx, r) for r in rows]


def delete_schedule(tx: Tx, schedule_id: str) -> bool:
    deleted = tx.count("DELETE FROM schedules WHERE schedule_id = ?", (schedule_id,))
    tx.run("DELETE FROM schedule_runs WHERE schedule_id = ?", (schedule_id,))
    tx.wake("schedule", schedule_id)
    return deleted > 0


class _Txn:
    """The workflow operations a schedule step may use, on the step's own transaction."""

    def __init__(self, tx: Tx, now: float) -> None:
        self._tx = tx
        self._now = now

    def latest_run(self, workflow_id: str, first_run_id: str
                   ) -> tuple[str, ExecutionStatus] | None:
        r = self._tx.one(
            "SELECT run_id, status FROM executions WHERE workflow_id = ? AND first_run_id = ? "
            "ORDER BY start_time DESC, status ASC LIMIT 1", (workflow_id, first_run_id))
        return (r[0], ExecutionStatus(r[1])) if r is not None else None

    def start_workflow(self, request: StartWorkflowRequest) -> StartResult:
        # A savepoint of its own: a refused start must not undo the step's earlier work.
        self._tx.run("SAVEPOINT schedule_start")
        try:
            result = start_workflow(self._tx, request, self._now)
            self._tx.flush()  # a failed statement of the start is rolled back here, not later
        except BaseException:
            self._tx.run("ROLLBACK TO SAVEPOINT schedule_start")
            self._tx.run("RELEASE SAVEPOINT schedule_start")
            raise
        self._tx.run("RELEASE SAVEPOINT schedule_start")
        return result

    def terminate_workflow(self, workflow_id: str, run_id: str, reason: str,
                           identity: str) -> None:
        terminate(self._tx, workflow_id, run_id, reason, [], identity, self._now)

    def request_cancel_workflow(self, workflow_id: str, run_id: str, reason: str,
                                identity: str) -> None:
        add_external_event(self._tx, workflow_id, run_id,
                           EventType.WORKFLOW_EXECUTION_CANCEL_REQUESTED,
                           {"cause": reason, "identity": identity}, self._now)


def mutate_schedule(tx: Tx, schedule_id: str, step: ScheduleStep, now: float,
                    wake: bool) -> ScheduleRow | None:
    """Run ``step`` on the schedule inside this transaction; the row after it (None: no such
    schedule). Where rows are locked, the row lock makes two processes' scheduler steps on one
    schedule take turns."""
    r = tx.one(f"SELECT {_COLUMNS} FROM schedules WHERE schedule_id = ?"
               + tx.dialect.for_update, (schedule_id,))
    if r is None:
        return None
    row = _row(tx, r)
    new = step(row, _Txn(tx, now))
    if new is None:
        return row
    new.version = row.version + 1
    tx.run("UPDATE schedules SET schedule = ?, info = ?, memo = ?, search_attributes = ?, "
           "updated_at = ?, next_action_at = ?, version = ? WHERE schedule_id = ?",
           (dumps(new.schedule), dumps(new.info), dumps(new.memo) if new.memo else None,
            dumps(new.search_attributes) if new.search_attributes else None,
            new.updated_at, new.next_action_at, new.version, schedule_id))
    _write_runs(tx, new)
    if wake:
        tx.wake("schedule", schedule_id)
    return new


def due_schedules(tx: Tx, now: float, limit: int) -> list[str]:
    """Schedules with a time due, or with a started workflow that has closed since."""
    rows = tx.all(
        "SELECT schedule_id FROM schedules WHERE next_action_at <= ? "
        "UNION SELECT r.schedule_id FROM schedule_runs r JOIN executions e "
        "ON e.run_id = r.run_id WHERE e.status <> 1 LIMIT ?", (now, limit))
    return [r[0] for r in rows]


def next_schedule_time(tx: Tx) -> float | None:
    r = tx.one("SELECT MIN(next_action_at) FROM schedules WHERE next_action_at IS NOT NULL")
    return r[0] if r else None


def schedule_watch_runs(tx: Tx, limit: int) -> list[str]:
    return [r[0] for r in tx.all("SELECT run_id FROM schedule_runs LIMIT ?", (limit,))]


def get_scheduler_lease(tx: Tx) -> tuple[str, float] | None:
    r = tx.one("SELECT owner, expires_at FROM scheduler_lease WHERE name = ?", (_LEASE,))
    return (r[0], r[1]) if r is not None else None


def take_scheduler_lease(tx: Tx, owner: str, previous_owner: str | None,
                         expires_at: float) -> bool:
    """Compare-and-set: take (or renew) the lease if it is still held by ``previous_owner``."""
    if previous_owner is None:
        taken = tx.one("INSERT INTO scheduler_lease (name, owner, expires_at) VALUES (?, ?, ?) "
                       "ON CONFLICT (name) DO NOTHING RETURNING name",
                       (_LEASE, owner, expires_at))
    else:
        taken = tx.one("UPDATE scheduler_lease SET owner = ?, expires_at = ? WHERE name = ? "
                       "AND owner = ? RETURNING name",
                       (owner, expires_at, _LEASE, previous_owner))
    return taken is not None


def release_scheduler_lease(tx: Tx, owner: str) -> None:
    if tx.count("DELETE FROM scheduler_lease WHERE name = ? AND owner = ?", (_LEASE, owner)):
        tx.wake("schedule", "")
