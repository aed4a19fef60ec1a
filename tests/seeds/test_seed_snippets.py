"""The seed articles' workflow snippets run on Stalwart with only the imports changed.

Snippets that call ``execute_activity`` without a timeout (Temporal rejects those too) run on a
worker given ``default_activity_timeout``; the snippet code itself is untouched. Long timers
(an hour, a week) run in the time-skipping environment.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from stalwart.client import Client, WorkflowExecutionStatus
from stalwart.testing import WorkflowEnvironment
from stalwart.worker import Replayer, Worker
from tests.helpers.waiting import eventually
from tests.seeds import seed_002, seed_002_versioning, seed_004, standins

TIMEOUT = timedelta(minutes=1)
ACTIVITIES = [
    seed_002.search_web, standins.run_monitoring_check, standins.run_weekly_research,
    standins.send_report, standins.generate_plan, standins.execute_plan,
    standins.decompose_goal, standins.synthesise_v1, standins.synthesise_v2,
    standins.generate_response, seed_004.run_research_step,
]
WORKFLOWS = [
    seed_002.ResearchAgentWorkflow, seed_002.MonitoringAgentWorkflow,
    seed_002.WeeklyResearchAgent, seed_002.ApprovalRequiredAgentWorkflow,
    seed_002.PlannerAgentWorkflow, seed_002.CustomerSupportAgentWorkflow,
    standins.ExecutorAgentWorkflow, standins.ValidatorWorkflow,
]


@pytest.fixture
async def env() -> AsyncIterator[WorkflowEnvironment]:
    environment = await WorkflowEnvironment.start_time_skipping()
    async with environment, Worker(environment.client, task_queue="seeds", workflows=WORKFLOWS,
                                   activities=ACTIVITIES, default_activity_timeout=TIMEOUT):
        yield environment


async def runs_of(client: Client, workflow_id: str) -> int:
    return (await client.count_workflows(f"WorkflowId = '{workflow_id}'")).count


async def test_seed_research_agent_runs(env: WorkflowEnvironment) -> None:
    result = await env.client.execute_workflow(seed_002.ResearchAgentWorkflow.run, "agents",
                                               id="seed-research", task_queue="seeds")
    assert result == "results for agents"


async def test_seed_monitoring_agent_continues_as_new_every_hour(
        env: WorkflowEnvironment) -> None:
    handle = await env.client.start_workflow(seed_002.MonitoringAgentWorkflow.run,
                                             standins.AgentState(), id="seed-monitor",
                                             task_queue="seeds")

    async def first_run_waits() -> bool:
        return (await handle.describe()).history_length > 3

    # As in temporalio's time-skipping environment, time only skips while a result is
    # awaited or the environment sleeps: two hours of it give three monitoring cycles.
    await eventually(first_run_waits, timeout=30, what="the first cycle's timer")
    await env.sleep(timedelta(hours=2, minutes=1))
    assert await runs_of(env.client, "seed-monitor") >= 3
    first = await env.client.get_workflow_handle(
        "seed-monitor", run_id=handle.result_run_id).describe()
    assert first.status == WorkflowExecutionStatus.CONTINUED_AS_NEW
    await env.client.get_workflow_handle("seed-monitor").terminate(reason="test over")


async def test_seed_weekly_agent_sleeps_a_week_per_cycle(env: WorkflowEnvironment) -> None:
    start = await env.get_current_time()
    await env.client.start_workflow(seed_002.WeeklyResearchAgent.run, "durable execution",
                                    id="seed-weekly", task_queue="seeds")
    await env.sleep(timedelta(days=7, minutes=1))
    assert await runs_of(env.client, "seed-weekly") >= 2
    assert await env.get_current_time() - start >= timedelta(days=7)
    await env.client.get_workflow_handle("seed-weekly").terminate(reason="test over")


async def test_seed_approval_agent_waits_for_the_signal(env: WorkflowEnvironment) -> None:
    handle = await env.client.start_workflow(seed_002.ApprovalRequiredAgentWorkflow.run,
                                             "refund", id="seed-approval", task_queue="seeds")
    await handle.signal(seed_002.ApprovalRequiredAgentWorkflow.approve)
    assert await handle.result() == "executed plan for refund"


async def test_seed_planner_fans_out_to_child_agents(env: WorkflowEnvironment) -> None:
    result = await env.client.execute_workflow(seed_002.PlannerAgentWorkflow.run, "survey",
                                               id="seed-planner", task_queue="seeds")
    assert result == "validated 3 results"


async def test_seed_support_agent_keeps_its_conversation(env: WorkflowEnvironment) -> None:
    handle = await env.client.start_workflow(seed_002.CustomerSupportAgentWorkflow.run, "s-1",
                                             id="seed-support", task_queue="seeds")
    await handle.signal(seed_002.CustomerSupportAgentWorkflow.receive_message, "hello")

    async def replied() -> bool:
        events = (await handle.fetch_history()).events
        return any(e.event_type == "ActivityTaskCompleted" for e in events)

    await eventually(replied, timeout=30, what="a reply")
    # As written, the snippet's wait condition stays true after the first message, so it
    # keeps replying; the durable-chat example in examples/ waits for each new message.
    await handle.terminate(reason="test over")
    history = (await handle.fetch_history()).events
    signaled = [e for e in history if e.event_type == "WorkflowExecutionSignaled"]
    assert len(signaled) == 1


async def test_seed_versioning_new_runs_take_the_patched_branch() -> None:
    async with await WorkflowEnvironment.start_local() as env:
        async with Worker(env.client, task_queue="seeds",
                          workflows=[seed_002_versioning.ResearchAgentWorkflow],
                          activities=ACTIVITIES, default_activity_timeout=TIMEOUT):
            handle = await env.client.start_workflow(
                seed_002_versioning.ResearchAgentWorkflow.run, "memory", id="seed-versioned",
                task_queue="seeds")
            assert await handle.result() == "v2 synthesis of memory"
        history = await handle.fetch_history()
    assert any(e.event_type == "MarkerRecorded" for e in history.events)
    await Replayer(workflows=[seed_002_versioning.ResearchAgentWorkflow]).replay_workflow(history)


async def test_seed_pausable_research_agent(env: WorkflowEnvironment) -> None:
    async with Worker(env.client, task_queue="seeds-004",
                      workflows=[seed_004.ResearchAgentWorkflow],
                      activities=[seed_004.run_research_step]):
        handle = await env.client.start_workflow(
            seed_004.ResearchAgentWorkflow.run, seed_004.ResearchInput(query="attention"),
            id="seed-004", task_queue="seeds-004")
        result = await handle.result()
        assert await handle.query(seed_004.ResearchAgentWorkflow.is_paused) is False
    assert result.splitlines()[-1].endswith("[DONE]")
    assert len(result.splitlines()) == 3


def test_seed_retry_policy_is_valid() -> None:
    assert seed_002.retry_policy.maximum_attempts == 5
    assert list(seed_002.retry_policy.non_retryable_error_types or []) == [
        "AuthenticationError", "InvalidInputError"]
