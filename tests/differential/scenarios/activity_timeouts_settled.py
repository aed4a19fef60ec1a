"""An activity's timeouts as the server settles them when it schedules the activity:
schedule-to-close capped by (or taken from) the run timeout, start-to-close and
schedule-to-start capped by (or taken from) schedule-to-close, the heartbeat timeout capped
by start-to-close. Compared in the history and in the activity's own info."""

from datetime import timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

SECOND = timedelta(seconds=1)
ASKED: list[dict[str, timedelta]] = [
    {"start_to_close_timeout": 10 * SECOND},
    {"schedule_to_close_timeout": 20 * SECOND},
    {"start_to_close_timeout": 30 * SECOND, "schedule_to_close_timeout": 20 * SECOND},
    {"schedule_to_start_timeout": 5 * SECOND, "schedule_to_close_timeout": 20 * SECOND},
    {"schedule_to_start_timeout": 50 * SECOND, "schedule_to_close_timeout": 20 * SECOND},
    {"start_to_close_timeout": 10 * SECOND, "heartbeat_timeout": 40 * SECOND},
    {"schedule_to_close_timeout": 20 * SECOND, "heartbeat_timeout": 40 * SECOND},
    {"schedule_to_close_timeout": 200 * SECOND},
    {"start_to_close_timeout": 300 * SECOND, "schedule_to_start_timeout": 5 * SECOND},
]


def _seconds(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()


@activity.defn
async def report(n: int) -> list[Any]:
    info = activity.info()
    return [n, _seconds(info.schedule_to_close_timeout), _seconds(info.start_to_close_timeout),
            _seconds(info.heartbeat_timeout)]


@workflow.defn
class Timeouts:
    @workflow.run
    async def run(self) -> list[Any]:
        return [await workflow.execute_activity(report, n, **asked)  # type: ignore[arg-type]
                for n, asked in enumerate(ASKED)]


WORKFLOWS = [Timeouts]
ACTIVITIES = [report]


async def run(client: Client, task_queue: str) -> object:
    observed = {}
    for run_timeout in (None, 100 * SECOND):
        handle = await client.start_workflow(
            Timeouts.run, id=f"{task_queue}-{_seconds(run_timeout)}", task_queue=task_queue,
            run_timeout=run_timeout)
        infos = await handle.result()
        recorded = []
        async for event in handle.fetch_history_events():
            if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                a = event.activity_task_scheduled_event_attributes
                recorded.append([a.schedule_to_close_timeout.seconds,
                                 a.schedule_to_start_timeout.seconds,
                                 a.start_to_close_timeout.seconds, a.heartbeat_timeout.seconds])
        observed[f"run timeout {_seconds(run_timeout)}"] = {"info": infos, "history": recorded}
    return observed
