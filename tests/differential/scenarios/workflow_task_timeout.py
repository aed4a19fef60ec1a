"""A workflow task not completed within the run's task timeout: the workflow's code holds its
thread past ``task_timeout`` on the task's first attempt. Temporal times the task out
(``WorkflowTaskTimedOut``, START_TO_CLOSE), refuses the late completion and schedules the task
again; its second attempt completes and the run goes on."""

import threading
import time
from datetime import timedelta

from temporalio import workflow
from temporalio.client import Client

# The task's first attempt holds its thread; the retry does not (the flag lives outside the
# workflow, so the replay that follows a timed-out task is not held again).
HELD: set[str] = set()
_LOCK = threading.Lock()


@workflow.defn
class Slow:
    @workflow.run
    async def run(self, hold: float) -> str:
        with _LOCK:
            first = workflow.info().workflow_id not in HELD
            HELD.add(workflow.info().workflow_id)
        if first:
            # Past the task timeout, short of temporalio's deadlock detector (2 s).
            with workflow.unsafe.sandbox_unrestricted():
                time.sleep(hold)  # noqa: ASYNC251 - holding the thread is the point
        await workflow.sleep(timedelta(milliseconds=10))
        return "done"


WORKFLOWS = [Slow]
ACTIVITIES: list[object] = []


async def run(client: Client, task_queue: str) -> object:
    HELD.clear()
    handle = await client.start_workflow(Slow.run, 1.5, id=f"{task_queue}-slow",
                                         task_queue=task_queue,
                                         task_timeout=timedelta(seconds=1))
    result = await handle.result()
    events = (await handle.fetch_history()).to_json_dict()["events"]
    timed_out = [e["workflowTaskTimedOutEventAttributes"] for e in events
                 if e["eventType"] == "EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT"]
    return {"result": result, "timeouts": [t.get("timeoutType") for t in timed_out],
            "references": [int(t["startedEventId"]) - int(t["scheduledEventId"])
                           for t in timed_out]}
