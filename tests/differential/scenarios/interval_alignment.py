"""Where "every N" intervals count from: a schedule's `every=7s, offset=2s` and a cron
workflow's "@every 7s" (describe().execution_time is the start plus the first backoff).

Observed on Temporal: schedules are epoch-aligned (and list their next times while paused);
a cron workflow's "@every" is not: its first run is due exactly 7 s after its start
(Temporal's cron library steps from a time, not from the epoch)."""

import itertools
from datetime import timedelta

from temporalio import workflow
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleIntervalSpec,
    ScheduleSpec,
    ScheduleState,
)


@workflow.defn
class Ticks:
    @workflow.run
    async def run(self) -> str:
        return "tick"


WORKFLOWS = [Ticks]
ACTIVITIES: list[object] = []


async def run(client: Client, task_queue: str) -> object:
    observed: dict[str, object] = {}
    handle = await client.create_schedule(
        f"{task_queue}-every", Schedule(
            action=ScheduleActionStartWorkflow(Ticks.run, id=f"{task_queue}-tick",
                                               task_queue=task_queue),
            spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(
                every=timedelta(seconds=7), offset=timedelta(seconds=2))]),
            state=ScheduleState(paused=True)))
    times = (await handle.describe()).info.next_action_times
    seconds = [t.timestamp() for t in times]
    observed["schedule_times"] = len(seconds)
    observed["schedule_epoch_aligned"] = all(s % 7 == 2 for s in seconds)
    observed["schedule_gaps"] = sorted({b - a for a, b in itertools.pairwise(seconds)})
    await handle.delete()

    cron = await client.start_workflow(Ticks.run, id=f"{task_queue}-cron-every",
                                       task_queue=task_queue, cron_schedule="@every 7s")
    described = await cron.describe()
    start = described.start_time.timestamp()
    due = described.execution_time.timestamp() if described.execution_time else None
    observed["cron_due_epoch_aligned"] = due is not None and due % 7 == 0
    observed["cron_due_after"] = None if due is None else round(due - start, 3)
    await cron.terminate("done looking")
    return observed
