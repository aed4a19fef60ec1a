"""Reset and fork: a new run from a workflow task of an old one, reusing what was recorded
before it, reapplying signals after it; a fork leaves the original alone."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import Any

import pytest

from stalwart import activity, workflow
from stalwart.client import Client, WorkflowExecutionStatus, WorkflowHandle
from stalwart.worker import Worker
from tests.helpers.waiting import eventually

from ._support import ACTIVITY_TIMEOUT, RESULT_TIMEOUT, wait_for_event

# Executions of ``step`` per test (keyed by a token in the argument), so a test can tell a
# reused result from a re-executed one.
EXECUTED: Counter[str] = Counter()


@activity.defn
async def step(token: str, name: str) -> str:
    EXECUTED[f"{token}:{name}"] += 1
    return name.upper()


@workflow.defn
class Steps:
    def __init__(self) -> None:
        self.notes: list[str] = []

    @workflow.run
    async def run(self, token: str, wanted: int) -> list[str]:
        done = [await workflow.execute_activity(step, args=[token, name],
                                                start_to_close_timeout=ACTIVITY_TIMEOUT)
                for name in ("a", "b", "c")]
        await workflow.wait_condition(lambda: len(self.notes) >= wanted)
        return done + self.notes

    @workflow.signal
    def note(self, text: str) -> None:
        self.notes.append(text)

    @workflow.query
    def seen(self) -> list[str]:
        return self.notes


def worker(client: Client, task_queue: str) -> Worker:
    return Worker(client, task_queue=task_queue, workflows=[Steps], activities=[step])


async def task_completed_ids(handle: WorkflowHandle[Any, Any]) -> list[int]:
    history = await handle.fetch_history()
    return [e.event_id for e in history.events if e.event_type == "WorkflowTaskCompleted"]


async def task_that_scheduled(handle: WorkflowHandle[Any, Any], nth: int) -> int:
    """The WorkflowTaskCompleted event id of the task that scheduled the ``nth`` activity."""
    history = await handle.fetch_history()
    scheduled = [e for e in history.events if e.event_type == "ActivityTaskScheduled"]
    return int(scheduled[nth].attributes["workflowTaskCompletedEventId"])


async def test_reset_to_a_middle_task_reuses_results_and_reapplies_signals(
        client: Client, task_queue: str) -> None:
    token = uuid.uuid4().hex
    async with worker(client, task_queue):
        handle = await client.start_workflow(Steps.run, args=[token, 1], id="wf",
                                             task_queue=task_queue)
        await wait_for_event(handle, "ActivityTaskCompleted", count=3)
        await handle.signal(Steps.note, "first")
        assert await asyncio.wait_for(handle.result(), RESULT_TIMEOUT) == ["A", "B", "C",
                                                                             "first"]
        base_run = (await handle.describe()).run_id
        # Reset to the task that scheduled "c" (after "b" completed).
        third = await task_that_scheduled(handle, 2)
        new = await handle.reset(event_id=third, reason="try c again")
        assert new.run_id != base_run
        assert await asyncio.wait_for(new.result(), RESULT_TIMEOUT) == ["A", "B", "C", "first"]
    assert EXECUTED[f"{token}:a"] == 1 and EXECUTED[f"{token}:b"] == 1
    assert EXECUTED[f"{token}:c"] == 2
    events = (await new.fetch_history()).events
    failed = events[third - 1]
    assert failed.event_id == third and failed.event_type == "WorkflowTaskFailed"
    assert failed.attributes["cause"] == "WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW"
    assert failed.attributes["baseRunId"] == base_run
    assert failed.attributes["newRunId"] == new.run_id
    assert events[0].attributes["originalExecutionRunId"] == base_run
    base_events = (await client.get_workflow_handle("wf", run_id=base_run).fetch_history()
                   ).events
    # The prefix is the base run's, event for event.
    assert [e.event_type for e in events[:third - 1]] == \
        [e.event_type for e in base_events[:third - 1]]
    description = await new.describe()
    assert description.base_run_id == base_run and description.base_workflow_id == "wf"
    assert (await client.get_workflow_handle("wf", run_id=base_run).describe()
            ).reset_run_id == new.run_id


async def test_reset_of_an_open_run_terminates_it(client: Client, task_queue: str) -> None:
    token = uuid.uuid4().hex
    async with worker(client, task_queue):
        handle = await client.start_workflow(Steps.run, args=[token, 2], id="wf",
                                             task_queue=task_queue)
        await wait_for_event(handle, "ActivityTaskCompleted", count=3)
        await handle.signal(Steps.note, "one")

        async def noted() -> bool:
            return await handle.query(Steps.seen) == ["one"]
        await eventually(noted, timeout=RESULT_TIMEOUT, what="the signal to be seen")
        base_run = (await handle.describe()).run_id
        new = await handle.reset(reset_type="LastWorkflowTask", reason="operator reset")
        base = client.get_workflow_handle("wf", run_id=base_run)
        assert (await base.describe()).status == WorkflowExecutionStatus.TERMINATED
        last = (await base.fetch_history()).events[-1]
        assert last.event_type == "WorkflowExecutionTerminated"
        assert last.attributes["reason"] == "operator reset"
        assert last.attributes["identity"] == "history-resetter"
        # The signal came before the last task, so it is in the prefix, not reapplied twice.
        await eventually(lambda: _query(new), timeout=RESULT_TIMEOUT, what="new run query")
        assert await new.query(Steps.seen) == ["one"]
        await client.get_workflow_handle("wf").signal(Steps.note, "two")
        assert await asyncio.wait_for(new.result(), RESULT_TIMEOUT) == ["A", "B", "C",
                                                                          "one", "two"]
    assert all(EXECUTED[f"{token}:{n}"] == 1 for n in "abc")


async def _query(handle: WorkflowHandle[Any, Any]) -> bool:
    return bool(await handle.query(Steps.seen) is not None)


async def test_reset_excluding_signals_drops_them(client: Client, task_queue: str) -> None:
    token = uuid.uuid4().hex
    async with worker(client, task_queue):
        handle = await client.start_workflow(Steps.run, args=[token, 1], id="wf",
                                             task_queue=task_queue)
        await wait_for_event(handle, "ActivityTaskCompleted", count=3)
        await handle.signal(Steps.note, "late")
        await asyncio.wait_for(handle.result(), RESULT_TIMEOUT)
        new = await handle.reset(reset_type="FirstWorkflowTask", reason="no signals",
                                 reapply_exclude=["Signal"])

        async def waiting() -> bool:
            return len((await new.describe()).pending_activities) == 0 and \
                EXECUTED[f"{token}:c"] == 2
        await eventually(waiting, timeout=RESULT_TIMEOUT, what="the new run to redo a-c")
        assert await new.query(Steps.seen) == []
        assert (await new.describe()).status == WorkflowExecutionStatus.RUNNING
        await new.signal(Steps.note, "again")
        assert await asyncio.wait_for(new.result(), RESULT_TIMEOUT) == ["A", "B", "C",
                                                                          "again"]


async def test_fork_leaves_the_original_untouched(client: Client, task_queue: str) -> None:
    token = uuid.uuid4().hex
    async with worker(client, task_queue):
        handle = await client.start_workflow(Steps.run, args=[token, 1], id="wf",
                                             task_queue=task_queue)
        await wait_for_event(handle, "ActivityTaskCompleted", count=3)
        await handle.signal(Steps.note, "x")
        await asyncio.wait_for(handle.result(), RESULT_TIMEOUT)
        before = (await handle.fetch_history()).to_json()
        base_run = (await handle.describe()).run_id
        second = await task_that_scheduled(handle, 1)
        fork = await handle.fork("wf-fork", event_id=second, reason="another path",
                                 reapply_type="None")
        assert fork.id == "wf-fork"
        await fork.signal(Steps.note, "y")
        assert await asyncio.wait_for(fork.result(), RESULT_TIMEOUT) == ["A", "B", "C", "y"]
    assert (await handle.fetch_history()).to_json() == before
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
    assert (await handle.describe()).reset_run_id is None
    described = await fork.describe()
    assert described.base_workflow_id == "wf" and described.base_run_id == base_run
    started = (await fork.fetch_history()).events[0].attributes
    assert started["workflowId"] == "wf-fork"
    assert EXECUTED[f"{token}:a"] == 1 and EXECUTED[f"{token}:b"] == 2


async def test_bad_reset_points_are_refused_clearly(client: Client, task_queue: str) -> None:
    token = uuid.uuid4().hex
    async with worker(client, task_queue):
        handle = await client.start_workflow(Steps.run, args=[token, 1], id="wf",
                                             task_queue=task_queue)
        await handle.signal(Steps.note, "x")
        await asyncio.wait_for(handle.result(), RESULT_TIMEOUT)
    with pytest.raises(ValueError, match="event_id=1 is not a workflow task"):
        await handle.reset(event_id=1, reason="r")
    with pytest.raises(ValueError, match="exactly one of event_id"):
        await handle.reset(reason="r")
    with pytest.raises(ValueError, match="reset_type='Sometime'"):
        await handle.reset(reset_type="Sometime", reason="r")
    with pytest.raises(ValueError, match="reapply_exclude='Timers'"):
        await handle.reset(reset_type="FirstWorkflowTask", reapply_exclude=["Timers"])
    with pytest.raises(ValueError, match="own id"):
        await handle.fork("wf", reset_type="FirstWorkflowTask")


GATES: dict[str, asyncio.Event] = {}


@activity.defn
async def gated(token: str) -> str:
    """Completes only once the test opens its gate."""
    EXECUTED[f"{token}:gated"] += 1
    await GATES[token].wait()
    return "GATED"


@workflow.defn
class Parallel:
    """Two activities at once; the reset point falls between their completions."""

    def __init__(self) -> None:
        self.budget = 0

    @workflow.run
    async def run(self, token: str) -> list[str]:
        fast = workflow.start_activity(step, args=[token, "fast"],
                                       start_to_close_timeout=ACTIVITY_TIMEOUT)
        slow = workflow.start_activity(gated, token, start_to_close_timeout=ACTIVITY_TIMEOUT)
        first = await fast
        await workflow.wait_condition(lambda: self.budget > 0)
        return [first, await slow, str(self.budget)]

    @workflow.update
    def set_budget(self, budget: int) -> int:
        self.budget = budget
        return budget


async def test_reset_restores_pending_activities_and_reapplies_updates(
        client: Client, task_queue: str) -> None:
    token = uuid.uuid4().hex
    GATES[token] = asyncio.Event()
    async with Worker(client, task_queue=task_queue, workflows=[Parallel],
                      activities=[step, gated]):
        handle = await client.start_workflow(Parallel.run, token, id="wf",
                                             task_queue=task_queue)
        await wait_for_event(handle, "ActivityTaskCompleted", count=1)
        await wait_for_event(handle, "WorkflowTaskCompleted", count=2)
        events = (await handle.fetch_history()).events
        # The task after "fast" completed, while "gated" still runs: the reset point.
        done = next(e.event_id for e in events if e.event_type == "ActivityTaskCompleted")
        point = next(e.event_id for e in events
                     if e.event_type == "WorkflowTaskCompleted" and e.event_id > done)
        GATES[token].set()
        assert await handle.execute_update(Parallel.set_budget, 7) == 7
        assert await asyncio.wait_for(handle.result(), RESULT_TIMEOUT) == ["FAST", "GATED",
                                                                             "7"]
        new = await handle.reset(event_id=point, reason="gated again")
        # "gated" was pending at the point: it runs again; "fast" is reused; the update after
        # the point is reapplied.
        assert await asyncio.wait_for(new.result(), RESULT_TIMEOUT) == ["FAST", "GATED", "7"]
        assert EXECUTED[f"{token}:fast"] == 1 and EXECUTED[f"{token}:gated"] == 2
        new_types = [e.event_type for e in (await new.fetch_history()).events]
        assert "WorkflowExecutionUpdateAccepted" in new_types

        newer = await new.reset(event_id=point, reason="no update",
                                reapply_exclude=["Update"])

        async def gated_thrice() -> bool:
            return EXECUTED[f"{token}:gated"] == 3
        await eventually(gated_thrice, timeout=RESULT_TIMEOUT, what="gated to run again")
        # Without the update the run waits for a budget.
        assert (await newer.describe()).status == WorkflowExecutionStatus.RUNNING
        assert await newer.execute_update(Parallel.set_budget, 9) == 9
        assert await asyncio.wait_for(newer.result(), RESULT_TIMEOUT) == ["FAST", "GATED", "9"]
    assert EXECUTED[f"{token}:fast"] == 1


@workflow.defn
class Draws:
    """Names its activities by workflow.random() draws: its commands depend on the seed."""

    def __init__(self) -> None:
        self.reseeds: list[int] = []
        workflow.register_random_seed_callback(self.reseeds.append)

    @workflow.run
    async def run(self, token: str) -> dict[str, Any]:
        draws = []
        for _ in range(3):
            draw = f"{workflow.random().random():.6f}"
            draws.append(draw)
            await workflow.execute_activity(step, args=[token, draw],
                                            start_to_close_timeout=ACTIVITY_TIMEOUT)
        return {"draws": draws, "seed": workflow.random_seed(), "reseeds": self.reseeds}


@pytest.mark.parametrize("nth", [0, 1])
async def test_a_reset_run_is_reseeded_from_its_run_id_at_the_point(
        client: Client, task_queue: str, nth: int) -> None:
    """As Temporal's SDK: draws before the reset point replay unchanged, from the point on
    the randomness derives from the new run's id (the seed callbacks are told), and the new
    run's history replays, in a new worker and from its export."""
    from stalwart._model.temporal_history import seed_for_run
    from stalwart.client import WorkflowHistory
    from stalwart.worker import Replayer

    token = uuid.uuid4().hex
    async with Worker(client, task_queue=task_queue, workflows=[Draws], activities=[step]):
        handle = await client.start_workflow(Draws.run, token, id="draws",
                                             task_queue=task_queue)
        first = await asyncio.wait_for(handle.result(), RESULT_TIMEOUT)
        point = await task_that_scheduled(handle, nth)
        new = await handle.reset(event_id=point, reason="draw again")
        second = await asyncio.wait_for(new.result(), RESULT_TIMEOUT)
    assert first["reseeds"] == []
    assert second["reseeds"] == [seed_for_run(new.run_id)] == [second["seed"]]
    kept = [a == b for a, b in zip(first["draws"], second["draws"], strict=True)]
    assert kept == [True] * nth + [False] * (3 - nth)
    exported = (await new.fetch_history()).to_json()
    await Replayer(workflows=[Draws]).replay_workflow(WorkflowHistory.from_json("draws",
                                                                                 exported))
    # A worker without the run cached rebuilds it from the stored history.
    async with Worker(client, task_queue=task_queue, workflows=[Draws], activities=[step]):
        replayed = await client.get_workflow_handle("draws", run_id=new.run_id).query(
            "__stack_trace")
    assert isinstance(replayed, str)
