"""The engine's behaviours on PostgreSQL, through the public API: the ``client`` fixture here
opens a fresh schema on a real server (see conftest.py)."""

from __future__ import annotations

import asyncio

import pytest

from stalwart import activity, workflow
from stalwart.client import Client, WorkflowExecutionStatus
from stalwart.exceptions import WorkflowFailureError
from stalwart.worker import Worker
from tests.helpers.postgres import collect_refuted_guesses
from tests.helpers.waiting import eventually

from . import workflows as w

ALL_WORKFLOWS = [w.Steps, w.Retrying, w.Mailbox, w.Child, w.Parent, w.Countdown, w.Sleeper,
                 w.Gated]
ALL_ACTIVITIES = [w.square, w.flaky, w.wait_for_gate]


def worker(client: Client, task_queue: str, **kwargs: object) -> Worker:
    return Worker(client, task_queue=task_queue, workflows=ALL_WORKFLOWS,
                  activities=ALL_ACTIVITIES, **kwargs)  # type: ignore[arg-type]


async def event_types(client: Client, workflow_id: str) -> list[str]:
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return [str(event.event_type) for event in history.events]


async def test_engine_activities_and_timer_complete_with_history(client: Client,
                                                                 task_queue: str) -> None:
    async with worker(client, task_queue):
        result = await client.execute_workflow(w.Steps.run, args=[6, 0.2], id="steps",
                                               task_queue=task_queue)
    assert result == w.expected_steps_result(6)
    events = await event_types(client, "steps")
    assert events[0] == "WorkflowExecutionStarted"
    assert events[-1] == "WorkflowExecutionCompleted"
    assert events.count("ActivityTaskCompleted") == 6
    assert events.count("TimerFired") == 1
    description = await client.get_workflow_handle("steps").describe()
    assert description.status == WorkflowExecutionStatus.COMPLETED


async def test_engine_activity_retries_until_it_works(client: Client, task_queue: str) -> None:
    key = f"retry-{task_queue}"
    async with worker(client, task_queue):
        result = await client.execute_workflow(w.Retrying.run, args=[key, 2], id=key,
                                               task_queue=task_queue)
    assert result == f"{key} worked on attempt 3"
    assert w.attempts.pop(key) == [1, 2, 3]
    events = await event_types(client, key)
    # Failed attempts are retried inside the store; history records only the outcome.
    assert events.count("ActivityTaskScheduled") == 1
    assert events.count("ActivityTaskCompleted") == 1


async def test_engine_signals_queries_and_updates(client: Client, task_queue: str) -> None:
    async with worker(client, task_queue):
        handle = await client.start_workflow(w.Mailbox.run, id="mailbox",
                                             task_queue=task_queue)
        await handle.signal(w.Mailbox.add, "first")
        await handle.signal(w.Mailbox.add, "second")

        async def counted_two() -> bool:
            return await handle.query(w.Mailbox.count) == 2

        await eventually(counted_two, what="the query to see both signals")
        assert await handle.execute_update(w.Mailbox.set_limit, 5) == 0
        assert await handle.execute_update(w.Mailbox.set_limit, 7) == 5
        await handle.signal(w.Mailbox.close)
        assert await handle.result() == ["first", "second", "limit=7"]


async def test_engine_child_workflows_return_to_parent(client: Client, task_queue: str) -> None:
    async with worker(client, task_queue):
        result = await client.execute_workflow(w.Parent.run, [1, 2, 3], id="parent",
                                               task_queue=task_queue)
    assert result == 1 + 4 + 9
    events = await event_types(client, "parent")
    assert events.count("ChildWorkflowExecutionCompleted") == 3
    child = await client.get_workflow_handle("parent-child-2").describe()
    assert child.status == WorkflowExecutionStatus.COMPLETED


async def test_engine_continue_as_new_result_follows_the_chain(client: Client,
                                                               task_queue: str) -> None:
    async with worker(client, task_queue):
        handle = await client.start_workflow(w.Countdown.run, args=[3, 0], id="countdown",
                                             task_queue=task_queue)
        assert await handle.result() == 3
    runs = [row async for row in client.list_workflows("WorkflowId = 'countdown'")]
    statuses = sorted(row.status.name for row in runs)
    assert statuses == ["COMPLETED", "CONTINUED_AS_NEW", "CONTINUED_AS_NEW",
                        "CONTINUED_AS_NEW"]


async def test_engine_terminate_and_cancel(client: Client, task_queue: str) -> None:
    async with worker(client, task_queue):
        doomed = await client.start_workflow(w.Sleeper.run, id="doomed", task_queue=task_queue)
        polite = await client.start_workflow(w.Sleeper.run, id="polite", task_queue=task_queue)

        async def both_sleeping() -> bool:
            return ("TimerStarted" in await event_types(client, "doomed")
                    and "TimerStarted" in await event_types(client, "polite"))

        await eventually(both_sleeping, what="both workflows waiting on their timer")
        await doomed.terminate(reason="stop now")
        await polite.cancel()
        with pytest.raises(WorkflowFailureError):
            await doomed.result()
        assert await polite.result() == "cleaned up after cancel"
    assert (await doomed.describe()).status == WorkflowExecutionStatus.TERMINATED
    assert (await polite.describe()).status == WorkflowExecutionStatus.COMPLETED


_ran_on: list[str] = []


async def _both_workers_busy() -> None:
    async def both() -> bool:
        return {"A", "B"} <= set(_ran_on)

    await eventually(both, timeout=20, what="an activity running on each worker")


@activity.defn(name="share")
async def share_on_a(n: int) -> str:
    _ran_on.append("A")
    await _both_workers_busy()
    return f"A:{n}"


@activity.defn(name="share")
async def share_on_b(n: int) -> str:
    _ran_on.append("B")
    await _both_workers_busy()
    return f"B:{n}"


@workflow.defn
class Share:
    @workflow.run
    async def run(self, n: int) -> str:
        result: str = await workflow.execute_activity("share", n, result_type=str,
                                                      start_to_close_timeout=w.ACTIVITY_TIMEOUT)
        return result


async def test_engine_two_workers_in_one_process_share_a_queue(client: Client,
                                                               task_queue: str) -> None:
    _ran_on.clear()
    worker_a = Worker(client, task_queue=task_queue, workflows=[Share], activities=[share_on_a],
                      max_concurrent_activities=1, identity="A")
    worker_b = Worker(client, task_queue=task_queue, workflows=[Share], activities=[share_on_b],
                      max_concurrent_activities=1, identity="B")
    async with worker_a, worker_b:
        handles = [await client.start_workflow(Share.run, n, id=f"share-{n}",
                                               task_queue=task_queue) for n in range(2)]
        results = await asyncio.gather(*(handle.result() for handle in handles))
    assert sorted(result[0] for result in results) == ["A", "B"]


async def test_engine_list_and_count_workflows_by_query(client: Client, task_queue: str) -> None:
    async with worker(client, task_queue):
        for n in range(3):
            await client.execute_workflow(w.Steps.run, args=[1, 0], id=f"listed-{n}",
                                          task_queue=task_queue)
        await client.start_workflow(w.Sleeper.run, id="listed-open", task_queue=task_queue)
        completed = [row.id async for row in client.list_workflows(
            "WorkflowId STARTS_WITH 'listed-' AND ExecutionStatus = 'Completed'")]
        assert sorted(completed) == ["listed-0", "listed-1", "listed-2"]
        assert (await client.count_workflows("WorkflowType = 'Sleeper'")).count == 1
        await client.get_workflow_handle("listed-open").terminate()


async def test_engine_signals_during_a_chain_of_steps_are_each_recorded_once(
        client: Client, task_queue: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Signals arriving while a run's activities follow one another refute the store's guess
    that nothing else waits for the run (``Tx.assume_none``): each such step is rolled back
    and committed again reading first. Every result and every signal is in history once."""
    refuted = collect_refuted_guesses(monkeypatch)
    steps, signals = 120, 40
    async with Worker(client, task_queue=task_queue, workflows=[w.SignalledSteps],
                      activities=[w.square]):
        handle = await client.start_workflow(w.SignalledSteps.run, args=[steps, signals],
                                             id="signalled", task_queue=task_queue)
        for n in range(signals):
            await handle.signal(w.SignalledSteps.nudge, n)
        total, received = await handle.result()
    assert total == w.expected_steps_result(steps)
    assert received == list(range(signals))
    events = await event_types(client, "signalled")
    assert events.count("ActivityTaskCompleted") == steps
    assert events.count("ActivityTaskScheduled") == steps
    assert events.count("WorkflowExecutionSignaled") == signals
    assert refuted, "no signal met a step in flight: the refuted path was not exercised"
