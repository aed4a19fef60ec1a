"""``start_workflow(start_delay=...)``: the run's history while it waits out its delay and
after. Temporal writes the first ``WorkflowTaskScheduled`` only when the delay ends (its time
is the start's plus the delay); a signal that arrives meanwhile is recorded at once and waits
for that task without bringing it forward; a run terminated during its delay never had a task
scheduled. ``describe().history_length`` counts what the history shows."""

import asyncio
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.client import Client

DELAY = 2.0


@workflow.defn
class Delayed:
    def __init__(self) -> None:
        self.got: list[str] = []

    @workflow.run
    async def run(self) -> list[str]:
        await workflow.wait_condition(lambda: len(self.got) >= 1)
        return self.got

    @workflow.signal
    def note(self, value: str) -> None:
        self.got.append(value)


WORKFLOWS = [Delayed]
ACTIVITIES: list[object] = []


def _events(history: Any) -> list[tuple[str, float]]:
    return [(e["eventType"].removeprefix("EVENT_TYPE_"),
             datetime.fromisoformat(e["eventTime"].replace("Z", "+00:00")).timestamp())
            for e in history.to_json_dict()["events"]]


async def _seen(handle: Any) -> dict[str, Any]:
    events = _events(await handle.fetch_history())
    return {"events": [t for t, _ in events],
            "history_length": (await handle.describe()).history_length}


async def run(client: Client, task_queue: str) -> object:
    observed: dict[str, Any] = {}
    delayed = await client.start_workflow(
        Delayed.run, id=f"{task_queue}-delayed", task_queue=task_queue,
        start_delay=timedelta(seconds=DELAY))
    observed["at_start"] = await _seen(delayed)
    await delayed.signal(Delayed.note, "during the delay")
    observed["after_signal"] = await _seen(delayed)
    observed["result"] = await delayed.result()
    events = _events(await delayed.fetch_history())
    started = events[0][1]
    scheduled = next(ts for t, ts in events if t == "WORKFLOW_TASK_SCHEDULED")
    # Timestamps have millisecond precision on Temporal.
    observed["first_task_scheduled_after_delay"] = scheduled - started >= DELAY - 0.01

    with_start = await client.start_workflow(
        Delayed.run, id=f"{task_queue}-with-start", task_queue=task_queue,
        start_delay=timedelta(seconds=DELAY), start_signal="note",
        start_signal_args=["with the start"])
    observed["signal_with_start"] = await _seen(with_start)
    observed["signal_with_start_result"] = await with_start.result()

    terminated = await client.start_workflow(
        Delayed.run, id=f"{task_queue}-terminated", task_queue=task_queue,
        start_delay=timedelta(hours=1))
    await terminated.signal(Delayed.note, "never read")
    await terminated.terminate("gone before the delay ended")
    observed["terminated"] = await _seen(terminated)
    await asyncio.sleep(0)
    return observed
