"""Seed article 002's workflow snippets as written; only the imports are Stalwart's."""
# ruff: noqa: I001, F405
from __future__ import annotations

import asyncio
from datetime import timedelta

from stalwart import activity, workflow
from stalwart.common import RetryPolicy

from tests.seeds.standins import *  # noqa: F403 - the snippets' undefined helpers


# -- seed 002: basic agent workflow setup ----------------------------------------------------
@activity.defn
async def search_web(query: str) -> str:
    # All external calls live in Activities — never in Workflows
    result = await call_search_api(query)
    return result


@workflow.defn
class ResearchAgentWorkflow:
    @workflow.run
    async def run(self, topic: str) -> str:
        # Workflow logic is deterministic — no I/O here!
        results = await workflow.execute_activity(
            search_web, topic, schedule_to_close_timeout=timedelta(minutes=5)
        )
        return results


# -- seed 002: ContinueAsNew pattern ---------------------------------------------------------
@workflow.defn
class MonitoringAgentWorkflow:
    @workflow.run
    async def run(self, state: AgentState) -> None:
        # Run one monitoring cycle
        result = await workflow.execute_activity(run_monitoring_check, state)
        # Check event history size — continue as new if approaching limit
        if workflow.info().get_current_history_length() > 5000:
            # Start fresh execution with updated state — loop continues!
            workflow.continue_as_new(state.update(result))
        # Otherwise, wait and run next cycle
        await workflow.sleep(timedelta(hours=1))
        workflow.continue_as_new(state.update(result))


# -- seed 002: durable timer + ContinueAsNew -------------------------------------------------
@workflow.defn
class WeeklyResearchAgent:
    @workflow.run
    async def run(self, topic: str) -> None:
        while True:
            # Run the research cycle
            report = await workflow.execute_activity(run_weekly_research, topic)
            await workflow.execute_activity(send_report, report)
            # Wait exactly 7 days — durable, crash-proof timer
            await asyncio.sleep(timedelta(days=7))  # Temporal persists this!
            # ContinueAsNew to keep history clean after each cycle
            workflow.continue_as_new(topic)


# -- seed 002: signal-based human-in-loop ----------------------------------------------------
@workflow.defn
class ApprovalRequiredAgentWorkflow:
    def __init__(self):
        self._approved = False

    @workflow.signal
    async def approve(self):
        # Human sends this signal to unblock the workflow
        self._approved = True

    @workflow.run
    async def run(self, task: str) -> str:
        # Generate a plan — then WAIT for human approval
        plan = await workflow.execute_activity(generate_plan, task)
        # Block here until human sends 'approve' signal
        await workflow.wait_condition(lambda: self._approved)
        # Now execute with approval confirmed
        result = await workflow.execute_activity(execute_plan, plan)
        return result


# -- seed 002: child workflow multi-agent orchestration ---------------------------------------
@workflow.defn
class PlannerAgentWorkflow:
    @workflow.run
    async def run(self, goal: str) -> str:
        # Spawn executor child workflows in parallel
        tasks = await workflow.execute_activity(decompose_goal, goal)
        executor_handles = [
            await workflow.start_child_workflow(
                ExecutorAgentWorkflow, task, id=f"executor-{i}"
            )
            for i, task in enumerate(tasks)
        ]
        results = await asyncio.gather(*[h.result() for h in executor_handles])
        # Validate results via validator child workflow
        validated = await workflow.execute_child_workflow(ValidatorWorkflow, results)
        return validated


# -- seed 002: durable conversation memory --------------------------------------------------
@workflow.defn
class CustomerSupportAgentWorkflow:
    def __init__(self):
        # This state persists durably — survives crashes and restarts
        self.conversation_history = []
        self.tool_call_log = []
        self.user_preferences = {}

    @workflow.signal
    async def receive_message(self, message: str):
        self.conversation_history.append({"role": "user", "content": message})

    @workflow.run
    async def run(self, session_id: str) -> None:
        while True:
            # Wait for next message
            await workflow.wait_condition(lambda: len(self.conversation_history) > 0)
            response = await workflow.execute_activity(
                generate_response, self.conversation_history
            )
            self.conversation_history.append({"role": "assistant", "content": response})


# -- seed 002 / 004: retry policy configuration -----------------------------------------------
retry_policy = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=2),
    maximum_attempts=5,
    non_retryable_error_types=["AuthenticationError", "InvalidInputError"]
)
