"""Schedules through the client as temporalio code drives them: create (paused), describe,
trigger, unpause, pause with a note, update, list, and delete; what describe() reports at
each step and the run a trigger starts."""

import asyncio
import re
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError


@workflow.defn
class Greet:
    @workflow.run
    async def run(self, name: str) -> str:
        return f"hello {name}"


WORKFLOWS = [Greet]
ACTIVITIES: list[object] = []


def _seconds(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()


def _describe(description: Any, task_queue: str) -> dict[str, Any]:
    schedule, info = description.schedule, description.info
    action = schedule.action
    return {
        "id": description.id.endswith("-sched"),
        "every": [_seconds(s.every) for s in schedule.spec.intervals],
        "offsets": [_seconds(s.offset) for s in schedule.spec.intervals],
        "cron": list(schedule.spec.cron_expressions),
        "calendars": len(schedule.spec.calendars),
        "paused": schedule.state.paused, "note": schedule.state.note,
        "limited": schedule.state.limited_actions,
        "remaining": schedule.state.remaining_actions,
        "action": type(action).__name__, "workflow": action.workflow,
        "action_id": action.id.endswith("-greet"),
        "task_queue": action.task_queue == task_queue,
        "overlap": schedule.policy.overlap.name,
        "catchup": _seconds(schedule.policy.catchup_window),
        "pause_on_failure": schedule.policy.pause_on_failure,
        "num_actions": info.num_actions,
        "missed": info.num_actions_missed_catchup_window,
        "skipped": info.num_actions_skipped_overlap,
        "running": len(info.running_actions),
        "recent": len(info.recent_actions),
        "next_times": len(info.next_action_times) > 0,
        "created": info.created_at is not None,
        "updated": info.last_updated_at is not None,
    }


async def run(client: Client, task_queue: str) -> object:
    schedule_id = f"{task_queue}-sched"
    handle = await client.create_schedule(schedule_id, Schedule(
        action=ScheduleActionStartWorkflow(Greet.run, "world", id=f"{task_queue}-greet",
                                           task_queue=task_queue),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(hours=1))]),
        state=ScheduleState(paused=True, note="made paused")))
    observed: dict[str, Any] = {"created": _describe(await handle.describe(), task_queue)}
    try:
        await client.create_schedule(schedule_id, Schedule(
            action=ScheduleActionStartWorkflow(Greet.run, "again", id=f"{task_queue}-greet",
                                               task_queue=task_queue),
            spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(hours=1))])))
        observed["duplicate"] = "created twice"
    except Exception as error:
        observed["duplicate"] = type(error).__name__

    await handle.trigger()
    recent: list[Any] = []
    for _ in range(400):
        recent = (await handle.describe()).info.recent_actions
        if recent:
            break
        await asyncio.sleep(0.05)
    started = recent[0].action
    run_handle = client.get_workflow_handle(started.workflow_id,
                                            run_id=started.first_execution_run_id)
    observed["triggered"] = {
        "result": await run_handle.result(),
        "id_shape": bool(re.fullmatch(re.escape(f"{task_queue}-greet-") + r".+",
                                      started.workflow_id)),
        "action_type": type(started).__name__,
    }
    observed["after_trigger"] = _describe(await handle.describe(), task_queue)

    await handle.unpause(note="go")
    unpaused = await handle.describe()
    observed["unpaused"] = [unpaused.schedule.state.paused, unpaused.schedule.state.note]
    await handle.pause(note="hold on")
    paused = await handle.describe()
    observed["paused"] = [paused.schedule.state.paused, paused.schedule.state.note]

    def change(input: ScheduleUpdateInput) -> ScheduleUpdate:
        schedule = input.description.schedule
        schedule.spec = ScheduleSpec(intervals=[ScheduleIntervalSpec(
            every=timedelta(hours=2), offset=timedelta(minutes=5))])
        schedule.policy = SchedulePolicy(overlap=ScheduleOverlapPolicy.BUFFER_ONE,
                                         pause_on_failure=True)
        return ScheduleUpdate(schedule=schedule)

    await handle.update(change)
    observed["updated"] = _describe(await handle.describe(), task_queue)

    listed: list[Any] = []
    for _ in range(400):  # visibility catches up on its own time on Temporal
        listed = [s async for s in await client.list_schedules()
                  if s.id == schedule_id]
        if listed:
            break
        await asyncio.sleep(0.05)
    item = listed[0]
    observed["listed"] = {"paused": item.schedule.state.paused if item.schedule else None,
                          "workflow": getattr(item.schedule.action, "workflow", None)
                          if item.schedule else None,
                          "recent": len(item.info.recent_actions) if item.info else None}

    await handle.delete()
    try:
        await handle.describe()
        observed["after_delete"] = "still there"
    except RPCError as error:
        observed["after_delete"] = error.status.name
    return observed
