"""What a claimed workflow task hands its worker: the run's row, its waiting input, its
admitted updates and (for a first task) its start event, read together with the claim."""

from __future__ import annotations

from typing import Any

from ..._model.events import HistoryEvent
from ..base import InboxEvent, WorkflowTaskClaim
from ..tx import Tx, loads
from . import payloads


def load_claims(tx: Tx, tasks: list[tuple[str, int]]) -> list[WorkflowTaskClaim]:
    """Build claims for workflow tasks this transaction just leased: (run_id, attempt)."""
    return ClaimReads(tx, [run_id for run_id, _ in tasks]).claims(tx, tasks)


class ClaimReads:
    """What a claimed workflow task hands its worker, read for a set of runs.

    The four reads go out together, before any of their rows are needed: one round trip where
    the driver pipelines, and none more if a statement sent before them (the claim itself)
    must be read first."""

    __slots__ = ("executions", "inbox", "run_ids", "starts", "updates")

    def __init__(self, tx: Tx, run_ids: list[str]) -> None:
        self.run_ids = run_ids
        among, params = tx.dialect.in_("run_id", run_ids)
        self.executions = tx.later(
            "SELECT run_id, workflow_id, workflow_type, task_queue, next_event_id "
            f"FROM executions WHERE {among} AND status = 1", params)
        self.inbox = tx.later("SELECT run_id, id, event_type, timestamp, attributes FROM inbox "
                              f"WHERE {among} ORDER BY run_id, id", params)
        self.updates = tx.later(f"SELECT run_id, update_id, name, input FROM updates WHERE "
                                f"{among} AND state = 0 ORDER BY created_at", params)
        # A run's first task needs only its start event: handed over with the claim instead
        # of making the worker read the history separately.
        among, params = tx.dialect.in_("h.run_id", run_ids)
        self.starts = tx.later(
            "SELECT h.run_id, h.event_id, h.event_type, h.timestamp, h.attributes FROM "
            f"history h JOIN executions e ON e.run_id = h.run_id WHERE {among} "
            "AND h.event_id = 1 AND e.next_event_id = 2", params)

    def claims(self, tx: Tx, tasks: list[tuple[str, int]]) -> list[WorkflowTaskClaim]:
        executions = {r[0]: r for r in self.executions.all()}
        gone = [run_id for run_id in self.run_ids if run_id not in executions]
        if gone:
            among, params = tx.dialect.in_("run_id", gone)
            tx.run(f"DELETE FROM workflow_tasks WHERE {among}", params)
        inboxes: dict[str, list[InboxEvent]] = {}
        for r in self.inbox.all():
            inboxes.setdefault(r[0], []).append(InboxEvent(r[1], r[2], r[3], loads(r[4])))
        updates: dict[str, list[dict[str, Any]]] = {}
        for u in self.updates.all():
            updates.setdefault(u[0], []).append(
                {"update_id": u[1], "name": u[2], "input": loads(u[3])})
        starts: dict[str, list[HistoryEvent]] = {}
        for r in self.starts.all():
            starts[r[0]] = [HistoryEvent(r[1], r[2], r[3],
                                         payloads.unpack_rows(tx, r[0], [r[4]])[0])]
        claims = []
        for run_id, attempt in tasks:
            row = executions.get(run_id)
            if row is None:
                continue
            claims.append(WorkflowTaskClaim(
                run_id=run_id, workflow_id=row[1], workflow_type=row[2], task_queue=row[3],
                attempt=attempt, history_length=row[4] - 1, inbox=inboxes.get(run_id, []),
                updates=updates.get(run_id, []), history=starts.get(run_id)))
        return claims


def claim_one_workflow_task(tx: Tx, run_id: str, worker_id: str, now: float,
                            lease_seconds: float) -> WorkflowTaskClaim | None:
    # The lease and the claim's reads go out together.
    leased = tx.later("UPDATE workflow_tasks SET lease_owner = ?, lease_expires_at = ?, "
                      "affinity = ? WHERE run_id = ? RETURNING attempt",
                      (worker_id, now + lease_seconds, worker_id, run_id))
    reads = ClaimReads(tx, [run_id])
    row = leased.one()
    if row is None:
        return None
    claims = reads.claims(tx, [(run_id, row[0])])
    return claims[0] if claims else None
