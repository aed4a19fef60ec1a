"""describe().raw_description read as temporalio code reads it: the run's info and config,
and its pending activities (one started and heartbeating with details, one waiting for its
second attempt after a failure) with their state, attempts, heartbeat details, last failure
and retry interval."""

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.api.enums.v1 import PendingActivityState, WorkflowExecutionStatus
from temporalio.client import Client
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

from ._util import settle

RELEASE: dict[str, asyncio.Event] = {}


@activity.defn
async def beating(key: str) -> str:
    activity.heartbeat("halfway", 2)
    await RELEASE.setdefault(key, asyncio.Event()).wait()
    return "done"


@activity.defn
async def fails_first(key: str) -> str:
    if activity.info().attempt == 1:
        raise ApplicationError("not yet", type="NotReady")
    return "second time lucky"


@workflow.defn
class Busy:
    @workflow.run
    async def run(self, key: str) -> list[str]:
        return list(await asyncio.gather(
            workflow.execute_activity(beating, key, activity_id="a-beating",
                                      start_to_close_timeout=timedelta(minutes=5),
                                      heartbeat_timeout=timedelta(minutes=1)),
            workflow.execute_activity(fails_first, key, activity_id="b-retrying",
                                      schedule_to_close_timeout=timedelta(hours=1),
                                      retry_policy=RetryPolicy(
                                          initial_interval=timedelta(minutes=10),
                                          maximum_attempts=5))))


WORKFLOWS = [Busy]
ACTIVITIES = [beating, fails_first]


def _pending(p: Any, decode: Any) -> dict[str, Any]:
    return {"id": p.activity_id, "type": p.activity_type.name,
            "state": PendingActivityState.Name(p.state), "attempt": p.attempt,
            "maximum_attempts": p.maximum_attempts,
            "details": decode(p.heartbeat_details.payloads),
            "has_heartbeat_time": p.HasField("last_heartbeat_time"),
            "has_started_time": p.HasField("last_started_time"),
            "has_scheduled_time": p.HasField("scheduled_time"),
            "has_expiration_time": p.HasField("expiration_time"),
            "has_attempt_complete_time": p.HasField("last_attempt_complete_time"),
            "has_next_attempt_time": p.HasField("next_attempt_schedule_time"),
            # Stalwart jitters retry delays by up to 10 % (docs/concepts.md); Temporal's
            # server does not.
            "retry_interval_about": 540 <= p.current_retry_interval.seconds <= 660,
            "failure": [p.last_failure.message, p.last_failure.application_failure_info.type],
            "has_identity": bool(p.last_worker_identity)}


async def run(client: Client, task_queue: str) -> object:
    key = task_queue
    handle = await client.start_workflow(Busy.run, key, id=f"{task_queue}-busy",
                                         task_queue=task_queue, memo={"owner": "ann"})
    converter = client.data_converter.payload_converter

    def decode(payloads: Any) -> list[Any]:
        return converter.from_payloads(list(payloads))

    raw: Any = None
    for _ in range(400):  # until the heartbeat and the failed first attempt are recorded
        raw = (await handle.describe()).raw_description
        pending = {p.activity_id: p for p in raw.pending_activities}
        if len(pending) == 2 and pending["a-beating"].heartbeat_details.payloads and \
                pending["b-retrying"].attempt == 2:
            break
        await asyncio.sleep(0.05)
    await settle(handle)
    raw = (await handle.describe()).raw_description
    info, config = raw.workflow_execution_info, raw.execution_config
    observed = {
        "info": {"id": info.execution.workflow_id == handle.id,
                 "run": info.execution.run_id == handle.result_run_id,
                 "type": info.type.name, "task_queue": info.task_queue == task_queue,
                 "status": WorkflowExecutionStatus.Name(info.status),
                 "has_start": info.HasField("start_time"),
                 "has_close": info.HasField("close_time"),
                 "has_execution_time": info.HasField("execution_time"),
                 "history_length": info.history_length,
                 "first_run": info.first_run_id == handle.result_run_id,
                 "memo": {k: decode([v])[0] for k, v in info.memo.fields.items()},
                 "has_parent": info.HasField("parent_execution")},
        "config": {"task_queue": config.task_queue.name == task_queue,
                   "task_timeout": config.default_workflow_task_timeout.seconds,
                   "run_timeout": config.workflow_run_timeout.seconds},
        "pending": [_pending(p, decode) for p in sorted(raw.pending_activities,
                                                        key=lambda p: p.activity_id)],
        "children": len(raw.pending_children),
    }
    await handle.terminate("seen enough")
    RELEASE.setdefault(key, asyncio.Event()).set()
    return observed
