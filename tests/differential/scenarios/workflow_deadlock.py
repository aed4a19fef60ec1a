"""Workflow code that holds its thread (a live worker, not a dead one) past temporalio's
deadlock detector (2 s) but within the task timeout: the worker fails the workflow task with
"[TMPRL1101] Potential deadlock detected" (``WorkflowTaskFailed``, an ``_DeadlockError``
application failure), and the task's retry, on a fresh replay, completes the run. (Held past
a task timeout shorter than that: ``workflow_task_timeout``.)"""

import threading
import time

from temporalio import workflow
from temporalio.client import Client

# The first attempt holds its thread; the retry does not (the flag lives outside the
# workflow, so the replay after the failed task is not held again).
HELD: set[str] = set()
_LOCK = threading.Lock()


@workflow.defn
class Stuck:
    @workflow.run
    async def run(self, hold: float) -> str:
        with _LOCK:
            first = workflow.info().workflow_id not in HELD
            HELD.add(workflow.info().workflow_id)
        if first and not workflow.unsafe.is_replaying():  # a Replayer is not held either
            with workflow.unsafe.sandbox_unrestricted():
                time.sleep(hold)  # noqa: ASYNC251 - holding the thread is the point
        return "done"


WORKFLOWS = [Stuck]
ACTIVITIES: list[object] = []


async def run(client: Client, task_queue: str) -> object:
    HELD.clear()
    handle = await client.start_workflow(Stuck.run, 2.5, id=f"{task_queue}-stuck",
                                         task_queue=task_queue)
    result = await handle.result()
    events = (await handle.fetch_history()).to_json_dict()["events"]
    failed = [e["workflowTaskFailedEventAttributes"] for e in events
              if e["eventType"] == "EVENT_TYPE_WORKFLOW_TASK_FAILED"]
    return {"result": result, "failures": [
        [f.get("cause"), f["failure"].get("message"),
         f["failure"].get("applicationFailureInfo", {}).get("type")] for f in failed]}
