"""Workflow timeouts where a run starts: ``execution_timeout`` bounds the whole chain of runs,
``run_timeout`` each single run (a run continued-as-new gets a fresh one), and the server
fills in the run timeout from the execution timeout. Compared: what ``workflow.info()``
reports in every run, what the start events record, and which run times out."""

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.client import Client, WorkflowFailureError


def _seconds(value: timedelta | None) -> float | None:
    return value.total_seconds() if value is not None else None


def _timeouts() -> dict[str, Any]:
    info = workflow.info()
    return {"execution": _seconds(info.execution_timeout), "run": _seconds(info.run_timeout),
            "task": _seconds(info.task_timeout)}


@workflow.defn
class Reports:
    @workflow.run
    async def run(self, seen: list[dict[str, Any]]) -> list[dict[str, Any]]:
        seen = [*seen, _timeouts()]
        if len(seen) < 2:
            workflow.continue_as_new(seen)
        return seen


@workflow.defn
class Continues:
    """Each run waits ``wait`` seconds, then continues as new until ``runs`` have run."""

    @workflow.run
    async def run(self, runs: int, wait: float) -> int:
        await workflow.sleep(timedelta(seconds=wait))
        if runs > 1:
            workflow.continue_as_new(args=[runs - 1, wait])
        return runs


@workflow.defn
class Parent:
    @workflow.run
    async def run(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, options in (
                ("execution", {"execution_timeout": timedelta(hours=1)}),
                ("run", {"run_timeout": timedelta(minutes=30)}),
                ("both", {"execution_timeout": timedelta(hours=1),
                          "run_timeout": timedelta(minutes=30),
                          "task_timeout": timedelta(seconds=7)})):
            out[name] = await workflow.execute_child_workflow(
                Reports.run, [], id=f"{workflow.info().workflow_id}-{name}", **options)
        try:
            await workflow.execute_child_workflow(
                Continues.run, args=[1, 60.0], id=f"{workflow.info().workflow_id}-late",
                run_timeout=timedelta(seconds=1))
            out["late"] = "completed"
        except Exception as error:
            out["late"] = [type(error).__name__, type(error.__cause__).__name__]
        return out


WORKFLOWS = [Reports, Continues, Parent]
ACTIVITIES: list[object] = []

_COMBINATIONS: dict[str, dict[str, timedelta]] = {
    "none": {},
    "execution": {"execution_timeout": timedelta(hours=1)},
    "run": {"run_timeout": timedelta(minutes=30)},
    "both": {"execution_timeout": timedelta(hours=1), "run_timeout": timedelta(minutes=30)},
    "run_longer": {"execution_timeout": timedelta(hours=1), "run_timeout": timedelta(hours=2)},
    "task": {"task_timeout": timedelta(seconds=7)},
}


async def _started(client: Client, workflow_id: str) -> list[Any]:
    """The timeouts each run's WorkflowExecutionStarted event records."""
    out = []
    handle = client.get_workflow_handle(workflow_id)
    run_id: str | None = (await handle.describe()).run_id
    while run_id is not None:
        events = (await client.get_workflow_handle(workflow_id, run_id=run_id)
                  .fetch_history()).to_json_dict()["events"]
        attrs = events[0]["workflowExecutionStartedEventAttributes"]
        out.insert(0, [attrs.get("workflowExecutionTimeout"), attrs.get("workflowRunTimeout"),
                       attrs.get("workflowTaskTimeout")])
        run_id = attrs.get("continuedExecutionRunId")
    return out


async def _outcome(client: Client, workflow_id: str, task_queue: str, runs: int, wait: float,
                   **options: Any) -> Any:
    try:
        return await client.execute_workflow(Continues.run, args=[runs, wait], id=workflow_id,
                                             task_queue=task_queue, **options)
    except WorkflowFailureError as error:
        return [type(error.cause).__name__, len(await _started(client, workflow_id))]


async def run(client: Client, task_queue: str) -> object:
    out: dict[str, Any] = {}
    for name, options in _COMBINATIONS.items():
        workflow_id = f"{task_queue}-{name}"
        out[name] = await client.execute_workflow(Reports.run, [], id=workflow_id,
                                                  task_queue=task_queue, **options)
        out[f"{name}-started"] = await _started(client, workflow_id)
    out["children"] = await client.execute_workflow(Parent.run, id=f"{task_queue}-parent",
                                                    task_queue=task_queue)
    # Three runs of 1.5 s each: a 2.5 s run timeout lets every run finish (each run's is
    # fresh); a 2.5 s execution timeout ends the chain in its second run.
    out["per-run"] = await _outcome(client, f"{task_queue}-per-run", task_queue, 3, 1.5,
                                    run_timeout=timedelta(seconds=2.5))
    out["chain"] = await _outcome(client, f"{task_queue}-chain", task_queue, 3, 1.5,
                                  execution_timeout=timedelta(seconds=2.5))
    return out
