"""The deterministic workflow API on a real worker: durable timers, time/random/uuid that stay
the same on replay, ``workflow.info()`` and continue-as-new."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from stalwart import activity, workflow
from stalwart.client import Client, WorkflowExecutionStatus
from stalwart.worker import Worker

from ._support import ACTIVITY_TIMEOUT, event_types, wait_for_event

# (workflow id, is_replaying) each time a workflow's first activation ran: proves replay.
_starts: list[tuple[str, bool]] = []


# What each workflow's first (not replayed) execution passed to the activity.
_remembered: dict[str, list[str]] = {}


@activity.defn
async def remember(values: list[str]) -> None:
    _remembered[activity.info().workflow_id] = values


@workflow.defn
class WorkflowSleepWorkflow:
    @workflow.run
    async def run(self) -> str:
        await workflow.sleep(timedelta(seconds=0.1))
        return "slept"


@workflow.defn
class AsyncioSleepWorkflow:
    @workflow.run
    async def run(self) -> str:
        await asyncio.sleep(0.1)
        return "slept"


@workflow.defn
class DeterministicValuesWorkflow:
    def __init__(self) -> None:
        self.go = False

    @workflow.signal
    def proceed(self) -> None:
        self.go = True

    @workflow.run
    async def run(self) -> list[str]:
        _starts.append((workflow.info().workflow_id, workflow.unsafe.is_replaying()))
        values = [workflow.now().isoformat(), str(workflow.random().random()),
                  str(workflow.uuid4()), str(workflow.random().randint(0, 10**9))]
        await workflow.execute_activity(remember, values,
                                        start_to_close_timeout=ACTIVITY_TIMEOUT)
        await workflow.wait_condition(lambda: self.go)
        return values


@workflow.defn
class InfoWorkflow:
    @workflow.run
    async def run(self, marker: str) -> dict[str, object]:
        info = workflow.info()
        return {
            "marker": marker, "workflow_id": info.workflow_id, "run_id": info.run_id,
            "workflow_type": info.workflow_type, "task_queue": info.task_queue,
            "namespace": info.namespace, "attempt": info.attempt,
            "first_execution_run_id": info.first_execution_run_id,
            "continued_run_id": info.continued_run_id,
            "execution_timeout": info.execution_timeout.total_seconds()
            if info.execution_timeout else None,
            "history_length": info.get_current_history_length(),
            "start_time_matches_now": info.start_time <= workflow.now(),
            "in_workflow": workflow.in_workflow(),
        }


@workflow.defn
class CountdownWorkflow:
    @workflow.run
    async def run(self, remaining: int, seen_runs: list[list[str]]) -> list[list[str]]:
        info = workflow.info()
        seen_runs = [*seen_runs, [info.run_id, info.continued_run_id or "",
                                  info.first_execution_run_id]]
        if remaining > 0:
            workflow.continue_as_new(args=[remaining - 1, seen_runs])
        return seen_runs


# -- timers ------------------------------------------------------------------------------------


async def test_workflow_sleep_records_a_durable_timer(client: Client, task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[WorkflowSleepWorkflow]):
        handle = await client.start_workflow(WorkflowSleepWorkflow.run, id="wf-sleep",
                                             task_queue=task_queue)
        assert await handle.result() == "slept"
    types = await event_types(handle)
    assert types.index("TimerStarted") < types.index("TimerFired")
    history = await handle.fetch_history()
    started = next(e for e in history.events if e.event_type == "TimerStarted")
    assert started.attributes["startToFireTimeout"] == "0.100s"


async def test_workflow_asyncio_sleep_records_a_durable_timer(client: Client,
                                                              task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[AsyncioSleepWorkflow]):
        handle = await client.start_workflow(AsyncioSleepWorkflow.run, id="asyncio-sleep",
                                             task_queue=task_queue)
        assert await handle.result() == "slept"
    types = await event_types(handle)
    assert types.index("TimerStarted") < types.index("TimerFired")


# -- determinism across replay -----------------------------------------------------------------


async def test_workflow_values_stable_when_evicted_from_a_small_cache(client: Client,
                                                                      task_queue: str) -> None:
    _starts.clear()
    async with Worker(client, task_queue=task_queue, workflows=[DeterministicValuesWorkflow],
                      activities=[remember], max_cached_workflows=1):
        first = await client.start_workflow(DeterministicValuesWorkflow.run, id="values-a",
                                            task_queue=task_queue)
        await wait_for_event(first, "ActivityTaskCompleted")
        # The second run takes the only cache slot, so the first must be rebuilt by replay.
        second = await client.start_workflow(DeterministicValuesWorkflow.run, id="values-b",
                                             task_queue=task_queue)
        await wait_for_event(second, "ActivityTaskCompleted")
        await first.signal(DeterministicValuesWorkflow.proceed)
        first_result = await first.result()
        await second.signal(DeterministicValuesWorkflow.proceed)
        second_result = await second.result()
    assert ("values-a", True) in _starts
    assert first_result == _remembered.pop("values-a")
    assert second_result == _remembered.pop("values-b")
    assert first_result != second_result


async def test_workflow_values_stable_with_no_cache(client: Client, task_queue: str) -> None:
    # max_cached_workflows=0, as in temporalio: every task after the first replays the run.
    _starts.clear()
    async with Worker(client, task_queue=task_queue, workflows=[DeterministicValuesWorkflow],
                      activities=[remember], max_cached_workflows=0):
        handle = await client.start_workflow(DeterministicValuesWorkflow.run, id="no-cache",
                                             task_queue=task_queue)
        await wait_for_event(handle, "ActivityTaskCompleted")
        await handle.signal(DeterministicValuesWorkflow.proceed)
        result = await handle.result()
    assert ("no-cache", True) in _starts
    assert result == _remembered.pop("no-cache")


async def test_workflow_values_stable_after_worker_restart(client: Client,
                                                           task_queue: str) -> None:
    _starts.clear()
    async with Worker(client, task_queue=task_queue, workflows=[DeterministicValuesWorkflow],
                      activities=[remember]):
        handle = await client.start_workflow(DeterministicValuesWorkflow.run,
                                             id="values-restart", task_queue=task_queue)
        await wait_for_event(handle, "ActivityTaskCompleted")
    await handle.signal(DeterministicValuesWorkflow.proceed)
    async with Worker(client, task_queue=task_queue, workflows=[DeterministicValuesWorkflow],
                      activities=[remember]):
        result = await handle.result()
    assert _starts == [("values-restart", False), ("values-restart", True)]
    assert result == _remembered.pop("values-restart")


# -- info ----------------------------------------------------------------------------------------


async def test_workflow_info_describes_the_execution(client: Client, task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[InfoWorkflow]):
        handle = await client.start_workflow(InfoWorkflow.run, "m", id="info-wf",
                                             task_queue=task_queue,
                                             execution_timeout=timedelta(minutes=5))
        info = await handle.result()
    assert info == {
        "marker": "m", "workflow_id": "info-wf", "run_id": handle.result_run_id,
        "workflow_type": "InfoWorkflow", "task_queue": task_queue, "namespace": "default",
        "attempt": 1, "first_execution_run_id": handle.result_run_id, "continued_run_id": None,
        "execution_timeout": 300.0, "history_length": info["history_length"],
        "start_time_matches_now": True, "in_workflow": True,
    }
    assert isinstance(info["history_length"], int) and info["history_length"] >= 1


# -- continue-as-new -------------------------------------------------------------------------


async def test_workflow_continue_as_new_result_follows_the_chain(client: Client,
                                                                 task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[CountdownWorkflow]):
        handle = await client.start_workflow(CountdownWorkflow.run, args=[2, []],
                                             id="countdown", task_queue=task_queue)
        seen = await handle.result()
    runs = [run_id for run_id, _, _ in seen]
    assert len(set(runs)) == 3
    assert runs[0] == handle.result_run_id
    # Each run knows the run it continued and the first run of the chain.
    assert [continued for _, continued, _ in seen] == ["", runs[0], runs[1]]
    assert {first for _, _, first in seen} == {runs[0]}
    first = await client.get_workflow_handle("countdown", run_id=runs[0]).describe()
    assert first.status == WorkflowExecutionStatus.CONTINUED_AS_NEW
    assert first.continued_as_new_run_id == runs[1]
    last = await client.get_workflow_handle("countdown").describe()
    assert last.run_id == runs[2]
    assert last.status == WorkflowExecutionStatus.COMPLETED
    assert last.first_execution_run_id == runs[0]
    assert (await event_types(client.get_workflow_handle("countdown", run_id=runs[0])))[-1] \
        == "WorkflowExecutionContinuedAsNew"
