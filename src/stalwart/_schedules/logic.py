"""What a schedule does when it is looked at: pure steps over its stored row.

Every step runs inside the store's write transaction (``Store.mutate_schedule``), so reading
the schedule, starting workflows and advancing the schedule past the times it handled commit
together. The steps follow Temporal's scheduler: due times go to a buffer, and the overlap
policy decides, against the workflows the schedule started that are still open, which buffered
starts run now, which wait, and which are dropped.
"""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from .. import exceptions as exc
from .._model import search_attributes as _sa
from .._model.temporal_history import seed_for_run
from .._store.base import (
    ExecutionStatus,
    ScheduleRow,
    ScheduleRun,
    ScheduleTxn,
    StartWorkflowRequest,
)
from ..common import RetryPolicy
from .codec import DEFAULT_CATCHUP, spec_from_json
from .spec import CompiledSpec, workflow_id_for
from .types import ScheduleOverlapPolicy

IDENTITY = "stalwart-scheduler"
RECENT_ACTIONS = 10
# Due times handled in one transaction; more are taken by the next step, at once.
MAX_TIMES_PER_STEP = 1000
MAX_BACKFILL_TIMES = 10_000
_FAILED = (ExecutionStatus.FAILED, ExecutionStatus.TIMED_OUT)

SCHEDULED_BY_ID = _sa.SearchAttributeKey.for_keyword("TemporalScheduledById")
SCHEDULED_START_TIME = _sa.SearchAttributeKey.for_datetime("TemporalScheduledStartTime")


def initial_info(now: float) -> dict[str, Any]:
    return {"watermark": now, "num_actions": 0, "missed_catchup": 0, "overlap_skipped": 0,
            "recent": [], "buffer": [], "cancel_requested": []}


def compiled(row: ScheduleRow) -> CompiledSpec:
    return CompiledSpec(spec_from_json(row.schedule["spec"]))


def _start_entry(nominal: float, actual: float, overlap: int | None,
                 manual: bool) -> dict[str, Any]:
    return {"nominal": nominal, "actual": actual, "overlap": overlap, "manual": manual}


class _Step:
    """One look at one schedule: a private copy of its row, changed in place."""

    def __init__(self, row: ScheduleRow, txn: ScheduleTxn, now: float) -> None:
        self.row = ScheduleRow(
            schedule_id=row.schedule_id, schedule=copy.deepcopy(row.schedule),
            info=copy.deepcopy(row.info), memo=row.memo,
            search_attributes=row.search_attributes, created_at=row.created_at,
            updated_at=row.updated_at, next_action_at=row.next_action_at,
            running=[ScheduleRun(r.workflow_id, r.first_run_id, r.run_id)
                     for r in row.running], version=row.version)
        self.txn = txn
        self.now = now
        self.spec = compiled(self.row)

    @property
    def info(self) -> dict[str, Any]:
        return self.row.info

    @property
    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = self.row.schedule["state"]
        return state

    def run(self, extra: list[dict[str, Any]] | None = None) -> ScheduleRow:
        self.refresh_running()
        self.collect_due()
        self.info["buffer"].extend(extra or [])
        self.process_buffer()
        self.row.next_action_at = self.next_action_at()
        return self.row

    def refresh_running(self) -> None:
        """Drop the started workflows that closed; pause on a failure if the policy says so."""
        still_open: list[ScheduleRun] = []
        for run in self.row.running:
            latest = self.txn.latest_run(run.workflow_id, run.first_run_id)
            if latest is None:
                continue
            run_id, status = latest
            if status == ExecutionStatus.RUNNING:
                still_open.append(ScheduleRun(run.workflow_id, run.first_run_id, run_id))
            elif status in _FAILED and self.row.schedule["policy"]["pause_on_failure"]:
                self.state["paused"] = True
                self.state["note"] = (f"Schedule paused due to workflow failure: "
                                      f"{run.workflow_id} ({status.name.lower()})")
        self.row.running = still_open
        open_ids = {r.run_id for r in still_open}
        self.info["cancel_requested"] = [r for r in self.info["cancel_requested"]
                                         if r in open_ids]

    def collect_due(self) -> None:
        """Move the times that fell due since the last look into the buffer (or count them
        as missed, when older than the catch-up window)."""
        if self.state["paused"]:
            return
        window = self.row.schedule["policy"]["catchup_window"] or \
            DEFAULT_CATCHUP.total_seconds()
        watermark = self.info["watermark"]
        for _ in range(MAX_TIMES_PER_STEP):
            nominal = self.spec.next_nominal(watermark)
            if nominal is None:
                break
            actual = self.spec.actual(self.row.schedule_id, nominal)
            if actual > self.now:
                break
            watermark = nominal
            if self.now - actual > window:
                self.info["missed_catchup"] += 1
                continue
            if self.state["limited_actions"]:
                if self.state["remaining_actions"] <= 0:
                    continue
                self.state["remaining_actions"] -= 1
            self.info["buffer"].append(_start_entry(nominal, actual, None, False))
        self.info["watermark"] = watermark

    def process_buffer(self) -> None:
        default = self.row.schedule["policy"]["overlap"]
        buffer: list[dict[str, Any]] = self.info["buffer"]
        kept: list[dict[str, Any]] = []
        for entry in buffer:
            overlap = entry["overlap"] or default
            if overlap == ScheduleOverlapPolicy.ALLOW_ALL or not self.row.running:
                self.start(entry)
            elif overlap == ScheduleOverlapPolicy.SKIP:
                self.info["overlap_skipped"] += 1
            elif overlap == ScheduleOverlapPolicy.BUFFER_ONE:
                if kept:
                    self.info["overlap_skipped"] += 1
                else:
                    kept.append(entry)
            elif overlap == ScheduleOverlapPolicy.BUFFER_ALL:
                kept.append(entry)
            elif overlap == ScheduleOverlapPolicy.TERMINATE_OTHER:
                for run in self.row.running:
                    self.txn.terminate_workflow(
                        run.workflow_id, run.run_id,
                        f"terminated by schedule {self.row.schedule_id} "
                        "(overlap policy TERMINATE_OTHER)", IDENTITY)
                self.row.running = []
                self.start(entry)
            else:  # CANCEL_OTHER: start once the cancelled runs have closed
                for run in self.row.running:
                    if run.run_id not in self.info["cancel_requested"]:
                        self.txn.request_cancel_workflow(
                            run.workflow_id, run.run_id,
                            f"cancelled by schedule {self.row.schedule_id} "
                            "(overlap policy CANCEL_OTHER)", IDENTITY)
                        self.info["cancel_requested"].append(run.run_id)
                # A newer cancelling start replaces one still waiting.
                kept = [e for e in kept if (e["overlap"] or default) not in (
                    ScheduleOverlapPolicy.CANCEL_OTHER,
                    ScheduleOverlapPolicy.TERMINATE_OTHER)] + [entry]
        self.info["buffer"] = kept

    def start(self, entry: dict[str, Any]) -> None:
        action = self.row.schedule["action"]
        nominal = entry["nominal"]
        workflow_id = workflow_id_for(action["id"], nominal)
        search = dict(action.get("search_attributes") or {})
        search.update(_sa.to_store(_sa.TypedSearchAttributes([
            _sa.SearchAttributePair(SCHEDULED_BY_ID, self.row.schedule_id),
            _sa.SearchAttributePair(SCHEDULED_START_TIME,
                                    datetime.fromtimestamp(nominal, UTC))])))
        run_id = str(uuid.uuid4())
        request = StartWorkflowRequest(
            workflow_id=workflow_id, workflow_type=action["workflow"],
            task_queue=action["task_queue"], input=action["args"], run_id=run_id,
            random_seed=seed_for_run(run_id),
            execution_timeout=action["execution_timeout"], run_timeout=action["run_timeout"],
            task_timeout=action["task_timeout"],
            identity=IDENTITY, search_attributes=search, memo=action.get("memo"),
            header=action.get("header"), retry_policy=_settled(action.get("retry_policy")),
            priority=(action.get("priority") or {}).get("priority_key"),
            user_metadata=_user_metadata(action))
        try:
            result = self.txn.start_workflow(request)
        except exc.WorkflowAlreadyStartedError:
            # The same scheduled second was started already (a trigger in the same second
            # as a due time); Temporal's ids cannot tell them apart either.
            self.info["overlap_skipped"] += 1
            return
        self.row.running.append(ScheduleRun(workflow_id, result.run_id, result.run_id))
        self.info["num_actions"] += 1
        recent: list[dict[str, Any]] = self.info["recent"]
        recent.append({"scheduled_at": entry["actual"], "started_at": self.now,
                       "workflow_id": workflow_id, "run_id": result.run_id})
        del recent[:-RECENT_ACTIONS]

    def next_action_at(self) -> float | None:
        if self.state["paused"]:
            return None
        if self.state["limited_actions"] and self.state["remaining_actions"] <= 0:
            return None
        nominal = self.spec.next_nominal(self.info["watermark"])
        return self.spec.actual(self.row.schedule_id, nominal) if nominal is not None \
            else None


# -- the steps the scheduler and the handle run ----------------------------------------------
def tick(row: ScheduleRow, txn: ScheduleTxn, now: float) -> ScheduleRow:
    """The scheduler's look: fire what is due, follow closed runs."""
    return _Step(row, txn, now).run()


def trigger(row: ScheduleRow, txn: ScheduleTxn, now: float, overlap: int | None
            ) -> ScheduleRow:
    return _Step(row, txn, now).run([_start_entry(now, now, overlap, True)])


def backfill(row: ScheduleRow, txn: ScheduleTxn, now: float,
             periods: list[tuple[float, float, int | None]]) -> ScheduleRow:
    step = _Step(row, txn, now)
    entries: list[dict[str, Any]] = []
    for start, end, overlap in periods:
        after = start - 1e-6  # the period's start is itself a candidate
        while True:
            nominal = step.spec.next_nominal(after)
            if nominal is None or nominal > end:
                break
            entries.append(_start_entry(nominal, step.spec.actual(row.schedule_id, nominal),
                                        overlap, True))
            if len(entries) > MAX_BACKFILL_TIMES:
                raise ValueError(f"backfill covers more than {MAX_BACKFILL_TIMES} times; "
                                 "split it into shorter periods")
            after = nominal
    step.row.updated_at = now
    return step.run(entries)


def pause(row: ScheduleRow, txn: ScheduleTxn, now: float, note: str) -> ScheduleRow:
    step = _Step(row, txn, now)
    step.run()  # times already due still fire
    step.state["paused"] = True
    step.state["note"] = note
    step.row.updated_at = now
    step.row.next_action_at = None
    return step.row


def unpause(row: ScheduleRow, txn: ScheduleTxn, now: float, note: str) -> ScheduleRow:
    step = _Step(row, txn, now)
    step.state["paused"] = False
    step.state["note"] = note
    # Times that passed while paused are not caught up.
    step.info["watermark"] = max(step.info["watermark"], now)
    step.row.updated_at = now
    return step.run()


def update(row: ScheduleRow, txn: ScheduleTxn, now: float, schedule: dict[str, Any],
           search_attributes: dict[str, Any] | None) -> ScheduleRow:
    fired = _Step(row, txn, now).run()  # what was due under the old definition fires first
    fired.schedule = schedule
    if search_attributes is not None:
        fired.search_attributes = search_attributes or None
    # The new spec takes effect from now on; it does not catch up on its own past.
    fired.info["watermark"] = max(fired.info["watermark"], now)
    fired.updated_at = now
    step = _Step(fired, txn, now)
    return step.run()


def next_times(row: ScheduleRow, count: int) -> list[float]:
    """The spec's next times; listed while paused too, as Temporal does."""
    state = row.schedule["state"]
    if state["limited_actions"]:
        count = min(count, state["remaining_actions"])
    return [actual for _, actual in
            compiled(row).times(row.schedule_id, row.info["watermark"], count)]


def as_datetime(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


def catchup_seconds(window: timedelta | None) -> float:
    return (window or DEFAULT_CATCHUP).total_seconds()


def _settled(policy: dict[str, Any] | None) -> dict[str, Any] | None:
    """A stored action's retry policy as a start records it (maximum interval filled in)."""
    return RetryPolicy._from_json(policy)._to_settled_json() if policy else None


def _user_metadata(action: dict[str, Any]) -> dict[str, str] | None:
    metadata = {"summary": action.get("static_summary"),
                "details": action.get("static_details")}
    return {k: v for k, v in metadata.items() if v is not None} or None
