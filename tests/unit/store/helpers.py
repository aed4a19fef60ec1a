"""Small builders for driving a store the way the engine does."""

from __future__ import annotations

import sqlite3
from typing import Any

from stalwart._engine.decisions import TaskContext, decide
from stalwart._model.events import Command, EventType, HistoryEvent
from stalwart._store.base import (
    CompletionResult,
    Decision,
    StartWorkflowRequest,
    Store,
    WorkflowTaskClaim,
    WorkflowTaskCompletion,
)
from stalwart._store.database import DatabaseStore
from stalwart.common import RetryPolicy
from stalwart.converter import DataConverter, _payload_to_json

T0 = 1_700_000_000.0
QUEUE = "tq"
WORKER = "worker-a"


def payload(value: Any) -> dict[str, Any]:
    return _payload_to_json(DataConverter.default.payload_converter.to_payload(value))


def start_request(workflow_id: str, *, run_id: str | None = None,
                  execution_timeout: float | None = None, **kwargs: Any) -> StartWorkflowRequest:
    return StartWorkflowRequest(
        workflow_id=workflow_id, workflow_type="Wf", task_queue=QUEUE, input=[payload("in")],
        run_id=run_id or f"run-{workflow_id}", random_seed=11,
        execution_timeout=execution_timeout, **kwargs)


def schedule(seq: int, *, start_to_close: float | None = 60.0, heartbeat: float | None = None,
             schedule_to_close: float | None = None, maximum_attempts: int = 0) -> Command:
    return Command(EventType.ACTIVITY_TASK_SCHEDULED, {
        "seq": seq, "activity_id": str(seq), "activity_type": "act", "task_queue": QUEUE,
        "input": [payload(seq)], "schedule_to_close_timeout": schedule_to_close,
        "schedule_to_start_timeout": None, "start_to_close_timeout": start_to_close,
        "heartbeat_timeout": heartbeat,
        "retry_policy": RetryPolicy(maximum_attempts=maximum_attempts)._to_json(),
        "cancellation_type": 0,
    })


def start_timer(seq: int, seconds: float) -> Command:
    return Command(EventType.TIMER_STARTED,
                   {"seq": seq, "timer_id": str(seq), "start_to_fire_timeout": seconds})


def complete_workflow(value: Any = "done") -> Command:
    return Command(EventType.WORKFLOW_EXECUTION_COMPLETED, {"result": payload(value)})


async def start(store: Store, workflow_id: str, now: float = T0, **kwargs: Any) -> str:
    result = await store.start_workflow(start_request(workflow_id, **kwargs), now)
    assert result.started
    return result.run_id


async def claim_one(store: Store, now: float, worker: str = WORKER,
                    lease_seconds: float = 10.0) -> WorkflowTaskClaim:
    claims = await store.claim_workflow_tasks(QUEUE, worker, now, lease_seconds, 1)
    assert len(claims) == 1, f"expected one workflow task, got {claims}"
    return claims[0]


def decided(claim: WorkflowTaskClaim, commands: list[Command], worker: str = WORKER, *,
            eager_activity_limit: int = 0, new_run_id: str = "run-next",
            new_run_seed: int = 0) -> list[Decision]:
    """The commands as the engine decides them."""
    return decide(commands, TaskContext(
        run_id=claim.run_id, workflow_id=claim.workflow_id, identity=worker, task_queue=QUEUE,
        eager_slots=eager_activity_limit, random_seed=lambda: new_run_seed,
        new_run_id=lambda: new_run_id))


async def complete(store: Store, claim: WorkflowTaskClaim, commands: list[Command],
                   now: float, worker: str = WORKER, *, eager_activity_limit: int = 0,
                   new_run_id: str = "run-next", new_run_seed: int = 0,
                   **kwargs: Any) -> CompletionResult:
    return await store.complete_workflow_task(WorkflowTaskCompletion(
        run_id=claim.run_id, worker_id=worker, identity=worker,
        inbox_max_id=claim.inbox_max_id, workflow_time=now,
        decisions=decided(claim, commands, worker, eager_activity_limit=eager_activity_limit,
                          new_run_id=new_run_id, new_run_seed=new_run_seed),
        **kwargs), now)


def event_ids(history: list[HistoryEvent]) -> list[int]:
    return [e.event_id for e in history]


def event_types(history: list[HistoryEvent]) -> list[str]:
    return [e.event_type for e in history]


async def count_rows(store: DatabaseStore, table: str, where: str = "1 = 1",
                     *args: Any) -> int:
    """Count committed rows (the store's reads never see a write in progress)."""
    rows = await store.fetch_sql(f"SELECT COUNT(*) FROM {table} WHERE {where}", args)
    return int(rows[0][0])


def count_file_rows(path: str, table: str, where: str = "1", *args: Any) -> int:
    """Count rows of a SQLite file on a connection of our own."""
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute(f"SELECT COUNT(*) FROM {table} WHERE {where}", args)
                   .fetchone()[0])
    finally:
        conn.close()
