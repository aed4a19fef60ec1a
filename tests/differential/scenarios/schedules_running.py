"""A schedule that fires on its own: every second, limited to two actions, then a backfill
of a past window; how many actions it took, what it has left, the runs it started (their
results and the search attributes that name the schedule)."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleBackfill,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    ScheduleSpec,
    ScheduleState,
)


@workflow.defn
class Tick:
    @workflow.run
    async def run(self, n: int) -> int:
        return n + 1


WORKFLOWS = [Tick]
ACTIVITIES: list[object] = []


async def _until(handle: Any, done: Any) -> Any:
    description = None
    for _ in range(600):
        description = await handle.describe()
        if done(description):
            return description
        await asyncio.sleep(0.05)
    return description


async def run(client: Client, task_queue: str) -> object:
    handle = await client.create_schedule(f"{task_queue}-ticks", Schedule(
        action=ScheduleActionStartWorkflow(Tick.run, 41, id=f"{task_queue}-tick",
                                           task_queue=task_queue),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(seconds=1))]),
        state=ScheduleState(limited_actions=True, remaining_actions=2)))
    described = await _until(handle, lambda d: d.info.num_actions >= 2 and
                             not d.info.running_actions)
    results = []
    attributes = []
    for action in described.info.recent_actions:
        run_handle = client.get_workflow_handle(action.action.workflow_id,
                                                run_id=action.action.first_execution_run_id)
        results.append(await run_handle.result())
        run_description = await run_handle.describe()
        attributes.append(sorted(k for k in run_description.search_attributes
                                 if k.startswith("TemporalScheduled")))
    observed: dict[str, Any] = {
        "num_actions": described.info.num_actions,
        "remaining": described.schedule.state.remaining_actions,
        "limited": described.schedule.state.limited_actions,
        "recent": len(described.info.recent_actions),
        "results": results, "attributes": attributes,
        "scheduled_before_actual": all(a.scheduled_at <= a.started_at
                                       for a in described.info.recent_actions),
    }
    await handle.delete()

    backfilled = await client.create_schedule(f"{task_queue}-backfill", Schedule(
        action=ScheduleActionStartWorkflow(Tick.run, 1, id=f"{task_queue}-filled",
                                           task_queue=task_queue),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(minutes=1))]),
        state=ScheduleState(paused=True)))
    end = datetime.now(UTC).replace(second=30, microsecond=0) - timedelta(hours=1)
    await backfilled.backfill(ScheduleBackfill(
        start_at=end - timedelta(minutes=3), end_at=end,
        overlap=ScheduleOverlapPolicy.ALLOW_ALL))
    filled = await _until(backfilled, lambda d: d.info.num_actions >= 3 and
                          not d.info.running_actions)
    observed["backfill"] = {"num_actions": filled.info.num_actions,
                            "paused": filled.schedule.state.paused,
                            "minutes": sorted(int((end - a.scheduled_at).total_seconds() // 60)
                                              for a in filled.info.recent_actions)}
    await backfilled.delete()
    return observed
