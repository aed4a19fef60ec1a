"""Store operations of workflow streams: appending items, voiding a failed attempt's items,
reading from an offset, and finding which log a reader follows.

A log belongs to a continue-as-new chain (its first run's id): offsets count up across the
runs of the chain, so a reader that follows a session through continue-as-new resumes with
the same offsets. Offsets are handed out from ``workflow_stream_heads`` with one upsert that
holds the head's row until the commit, so concurrent publishers (PostgreSQL) get disjoint,
gap-free ranges in commit order. Every append wakes ``("stream", chain_id)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ... import exceptions as exc
from ..base import ExecutionStatus, StreamPublish
from ..tx import Tx

ITEM = "item"
ATTEMPT_FAILED = "attempt_failed"


@dataclass(frozen=True)
class StreamTarget:
    """The log a reader of a workflow follows, and whether anything may still be added."""

    chain_id: str
    workflow_id: str
    run_id: str  # the latest run of the chain
    open: bool  # some run of the chain is still running


ITEM_COLUMNS = ("item_offset, topic, data, workflow_id, run_id, producer, activity_id, "
                "attempt, kind, failed, published_at")


def _allocate(tx: Tx, chain_id: str, count: int) -> int:
    """The first of ``count`` fresh offsets of the chain's log."""
    row = tx.one(
        "INSERT INTO workflow_stream_heads (chain_id, next_offset) VALUES (?, ?) "
        "ON CONFLICT (chain_id) DO UPDATE SET next_offset = "
        "workflow_stream_heads.next_offset + excluded.next_offset RETURNING next_offset",
        (chain_id, count))
    return int(row[0]) - count


def _insert(tx: Tx, chain_id: str, workflow_id: str, run_id: str,
            items: list[tuple[StreamPublish, str, bool]], now: float) -> list[int]:
    first = _allocate(tx, chain_id, len(items))
    tx.many(
        "INSERT INTO workflow_stream_items (chain_id, item_offset, workflow_id, run_id, topic, "
        "data, producer, producer_seq, activity_id, activity_seq, attempt, kind, failed, "
        "published_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(chain_id, first + i, workflow_id, run_id, item.topic, item.data, item.producer,
          item.producer_seq, item.activity_id, item.activity_seq, item.attempt, kind, failed,
          now) for i, (item, kind, failed) in enumerate(items)])
    tx.wake("stream", chain_id)
    return [first + i for i in range(len(items))]


def publish(tx: Tx, run_id: str, items: list[StreamPublish], now: float) -> list[int]:
    """Append ``items`` to the log of ``run_id``'s chain; their offsets.

    A workflow's items whose ``producer_seq`` is already recorded (a replay publishing again)
    are skipped. An activity's items from an attempt that is no longer the current one (a
    worker that lost its lease and goes on) are stored already marked failed.

    Raises:
        KeyError: no run ``run_id`` (never started, or deleted by retention).
        WorkflowNotFoundError: a client's items for a run that has closed.
    """
    row = tx.one("SELECT workflow_id, first_run_id, status FROM executions WHERE run_id = ?",
                 (run_id,))
    if row is None:
        raise KeyError(run_id)
    workflow_id, chain_id, status = row
    if int(status) != ExecutionStatus.RUNNING and any(i.producer == "client" for i in items):
        # Workflow code and activities may still be finishing; a client is too late.
        raise exc.WorkflowNotFoundError(
            f"workflow {workflow_id!r} run {run_id} is already closed "
            f"({ExecutionStatus(int(status)).name.lower()}); its stream takes no more items "
            "from clients")
    fresh = list(items)
    if any(item.producer == "workflow" for item in fresh):
        last = tx.one("SELECT MAX(producer_seq) FROM workflow_stream_items WHERE run_id = ? "
                      "AND producer = 'workflow'", (run_id,))
        recorded = int(last[0]) if last is not None and last[0] is not None else 0
        fresh = [item for item in fresh if item.producer != "workflow"
                 or (item.producer_seq or 0) > recorded]
    if not fresh:
        return []
    current: dict[int, int | None] = {}
    rows: list[tuple[StreamPublish, str, bool]] = []
    for item in fresh:
        stale = False
        if item.activity_seq is not None and item.attempt is not None:
            if item.activity_seq not in current:
                task = tx.one("SELECT attempt FROM activity_tasks WHERE run_id = ? AND seq = ?",
                              (run_id, item.activity_seq))
                current[item.activity_seq] = int(task[0]) if task is not None else None
            now_attempt = current[item.activity_seq]
            stale = now_attempt is not None and now_attempt != item.attempt
        rows.append((item, ITEM, stale))
    return _insert(tx, chain_id, workflow_id, run_id, rows, now)


def mark_attempt_failed(tx: Tx, run_id: str, activity_seq: int, attempt: int,
                        now: float) -> None:
    """The attempt failed (to be retried, or for good): mark what it published, and append one
    ``attempt_failed`` marker per topic it published to, so live readers learn it too."""
    topics = tx.all("SELECT DISTINCT topic, workflow_id, chain_id FROM workflow_stream_items "
                    "WHERE run_id = ? AND activity_seq = ? AND attempt = ? AND kind = 'item'",
                    (run_id, activity_seq, attempt))
    if not topics:
        return
    tx.run("UPDATE workflow_stream_items SET failed = TRUE WHERE run_id = ? AND "
           "activity_seq = ? AND attempt = ?", (run_id, activity_seq, attempt))
    activity = tx.one("SELECT activity_id FROM workflow_stream_items WHERE run_id = ? AND "
                      "activity_seq = ? AND attempt = ? LIMIT 1", (run_id, activity_seq, attempt))
    markers = [(StreamPublish(topic=topic, data=None, producer="activity",
                              activity_id=activity[0] if activity else None,
                              activity_seq=activity_seq, attempt=attempt),
                ATTEMPT_FAILED, True) for topic, _, _ in sorted(topics)]
    _insert(tx, topics[0][2], topics[0][1], run_id, markers, now)


def resolve(tx: Tx, workflow_id: str, run_id: str | None) -> StreamTarget | None:
    """The log of ``run_id``'s chain (or of the workflow id's latest run's chain)."""
    if run_id is not None:
        row = tx.one("SELECT workflow_id, first_run_id FROM executions WHERE run_id = ?",
                     (run_id,))
        if row is None or row[0] != workflow_id:
            return None
        chain_id = row[1]
    else:
        row = tx.one("SELECT first_run_id FROM executions WHERE workflow_id = ? "
                     "ORDER BY start_time DESC LIMIT 1", (workflow_id,))
        if row is None:
            return None
        chain_id = row[0]
    latest = tx.one("SELECT run_id, status FROM executions WHERE workflow_id = ? AND "
                    "first_run_id = ? ORDER BY start_time DESC LIMIT 1", (workflow_id, chain_id))
    return StreamTarget(chain_id=chain_id, workflow_id=workflow_id, run_id=latest[0],
                        open=int(latest[1]) == ExecutionStatus.RUNNING)


def run_open(tx: Tx, run_id: str) -> bool:
    row = tx.one("SELECT status FROM executions WHERE run_id = ?", (run_id,))
    return row is not None and int(row[0]) == ExecutionStatus.RUNNING


def read(tx: Tx, chain_id: str, from_offset: int, topics: list[str] | None,
         run_id: str | None, limit: int) -> list[Any]:
    """Up to ``limit`` items at or after ``from_offset``, in offset order."""
    sql = (f"SELECT {ITEM_COLUMNS} FROM workflow_stream_items WHERE chain_id = ? "
           "AND item_offset >= ?")
    params: list[Any] = [chain_id, from_offset]
    if topics:
        clause, values = tx.dialect.in_("topic", topics)
        sql += " AND " + clause
        params.extend(values)
    if run_id is not None:
        sql += " AND run_id = ?"
        params.append(run_id)
    sql += " ORDER BY item_offset LIMIT ?"
    params.append(limit)
    return tx.all(sql, params)


def head(tx: Tx, chain_id: str) -> int:
    """The offset the next item of the log will get."""
    row = tx.one("SELECT next_offset FROM workflow_stream_heads WHERE chain_id = ?",
                 (chain_id,))
    return int(row[0]) if row is not None else 0


def delete_runs(tx: Tx, run_ids: list[str]) -> None:
    """Retention: a deleted run's items go with it; a chain's head goes with its last run."""
    among, params = tx.dialect.in_("run_id", run_ids)
    tx.run(f"DELETE FROM workflow_stream_items WHERE {among}", params)
    chains, chain_params = tx.dialect.in_("chain_id", run_ids)
    tx.run(f"DELETE FROM workflow_stream_heads WHERE {chains} AND NOT EXISTS (SELECT 1 FROM "
           "executions e WHERE e.first_run_id = workflow_stream_heads.chain_id)", chain_params)
