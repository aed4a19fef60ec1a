"""A workflow task that fails (a bug: not an ApplicationError) and succeeds when retried: the
failure is recorded once, the run goes on."""

from temporalio import workflow
from temporalio.client import Client

# Two failing attempts: a worker may try a new run's first task once before the start commits
# (Stalwart's eager start) and retry it through the store; either way the failure is recorded.
_failures_left = {"count": 2}


@workflow.defn
class Flaky:
    @workflow.run
    async def run(self) -> str:
        if _failures_left["count"] > 0 and not workflow.unsafe.is_replaying():
            # Stands in for a bug fixed by a redeploy: the first attempt fails, the retry runs.
            _failures_left["count"] -= 1
            raise RuntimeError("a bug in the workflow code")
        return "recovered"


WORKFLOWS = [Flaky]
ACTIVITIES: list[object] = []

KNOWN_DIFFERENCES = {
    "attributes:<tq>-flaky#0": (
        'Temporal counts every failed attempt of a workflow task in the next '
        "WorkflowTaskScheduled's attempt; Stalwart records a streak of failures once and "
        'counts it as one'
    ),
}


async def run(client: Client, task_queue: str) -> object:
    return await client.execute_workflow(Flaky.run, id=f"{task_queue}-flaky",
                                         task_queue=task_queue)
