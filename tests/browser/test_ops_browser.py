"""The operating pages in Chromium, behind a token and the login form, on both stores: the
approval inbox (deciding records who decided), tokens and cost, the timeline chart, the query,
update and start forms, the list query, pending activities, and the schedules pages.

Screenshots go to ``test-artifacts/browser/ops-*.png``."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import expect

from stalwart.agents import (
    AgentConfig,
    AgentInput,
    AgentWorkflow,
    LLMActivities,
    activity_as_tool,
)
from stalwart.agents.testing import FakeLLMServer, Reply, ToolCallReply
from stalwart.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleIntervalSpec,
    ScheduleSpec,
)
from stalwart.worker import Worker
from tests.agents.ops_workflows import Refund, issue_refund
from tests.helpers.postgres import fresh_schema_url
from tests.server._support import LoopThread, RunningServer, start_server
from tests.server._workflows import ALL_ACTIVITIES, ALL_WORKFLOWS

from .conftest import CHROMIUM, _require_chromium, shot

WAIT_MS = 30_000
TOKEN = "ops-browser-token-4f9a2c7e"
QUEUE = "ops-browser"
PRICES = {"gpt-4o-mini": (1.0, 2.0)}


@dataclass
class OpsEnv:
    server: RunningServer
    loop: LoopThread
    client: Client
    llm: FakeLLMServer
    backend: str

    def run(self, coro: Any, timeout: float = 60.0) -> Any:
        return self.loop.run(coro, timeout)

    def start(self, workflow: Any, *args: Any, id: str) -> Any:
        return self.run(self.client.start_workflow(workflow, args=list(args), id=id,
                                                   task_queue=QUEUE))

    def result(self, workflow_id: str) -> Any:
        return self.run(self.client.get_workflow_handle(workflow_id).result(), 90)

    def history(self, workflow_id: str) -> Any:
        return self.run(self.client.get_workflow_handle(workflow_id).fetch_history())


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def ops(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[OpsEnv]:
    _require_chromium()
    pytest.importorskip("openai")
    with FakeLLMServer() as llm:
        if request.param == "postgres":
            with fresh_schema_url() as url:
                yield from _env(url, llm, "postgres")
        else:
            url = f"sqlite:///{tmp_path_factory.mktemp('ops-browser') / 'stalwart.db'}"
            yield from _env(url, llm, "sqlite")


def _env(url: str, llm: FakeLLMServer, backend: str) -> Iterator[OpsEnv]:
    loop = LoopThread()
    client: Client = loop.run(Client.connect(url))

    model_client = loop.run(_model_client(llm))
    activities = LLMActivities(openai_client=model_client, prices=PRICES)
    worker = Worker(client, task_queue=QUEUE, workflows=[*ALL_WORKFLOWS, AgentWorkflow, Refund],
                    activities=[*ALL_ACTIVITIES, *activities.activities(), issue_refund])
    loop.run(worker.__aenter__())
    server = start_server(url, api_token=TOKEN)
    try:
        yield OpsEnv(server, loop, client, llm, backend)
    finally:
        server.stop()
        loop.run(worker.__aexit__(None, None, None))
        loop.run(model_client.close())
        loop.run(client.close())
        loop.close()


async def _model_client(llm: FakeLLMServer) -> Any:
    import openai

    return openai.AsyncOpenAI(base_url=llm.openai_base_url, api_key="k")


@pytest.fixture(scope="module")
def chromium(ops: OpsEnv) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"])
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(chromium: Any, ops: OpsEnv) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.goto(ops.server.url + "/login")
    opened.get_by_label("API token").fill(TOKEN)
    opened.get_by_role("button", name="Sign in").click()
    expect(opened.locator("h1")).to_have_text("Workflows", timeout=WAIT_MS)
    try:
        yield opened
    finally:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def _decision(event: Any, path: tuple[str, ...]) -> dict[str, Any]:
    value: Any = event.attributes
    for key in path:
        value = value[key]
    decoded: dict[str, Any] = json.loads(base64.b64decode(value["payloads"][0]["data"]))
    return decoded


def test_inbox_lists_waiting_runs_and_records_who_decided(ops: OpsEnv, page: Any) -> None:
    tag = ops.backend
    ops.llm.script(Reply(tool_calls=[ToolCallReply("issue_refund", {
        "customer": "c-3", "amount": 12})], usage=(100, 20)),
        Reply(text="Refund issued.", usage=(50, 10)))
    config = AgentConfig(model="gpt-4o-mini", tools=[activity_as_tool(issue_refund,
                                                                     needs_approval=True)])
    ops.start(AgentWorkflow.run, AgentInput(config, "refund c-3"), id=f"agent-{tag}")
    ops.start(Refund.run, f"c-7-{tag}", 40, id=f"refund-{tag}")

    page.goto(ops.server.url + "/inbox")
    agent_card = page.locator(f".inbox-item[data-workflow-id='agent-{tag}']")
    refund_card = page.locator(f".inbox-item[data-workflow-id='refund-{tag}']")
    for _ in range(30):
        if agent_card.count() and refund_card.count():
            break
        page.wait_for_timeout(500)
        page.reload()
    expect(agent_card).to_contain_text("Run the tool 'issue_refund'?")
    expect(agent_card).to_contain_text('"amount": 12')
    expect(refund_card).to_contain_text(f"Refund 40 USD to c-7-{tag}?")
    expect(refund_card).to_contain_text("Until")
    shot(page, f"ops-01-inbox-{tag}")

    agent_card.get_by_label("Your name").fill("Alice")
    agent_card.get_by_label("Reason").fill("customer is right")
    agent_card.get_by_role("button", name="Approve").click()
    expect(page.locator("#inbox-notice")).to_contain_text("Approved", timeout=WAIT_MS)
    result = ops.result(f"agent-{tag}")
    assert result["output"] == "Refund issued."
    accepted = [e for e in ops.history(f"agent-{tag}").events
                if e.event_type == "WorkflowExecutionUpdateAccepted"]
    decision = _decision(accepted[0], ("acceptedRequest", "input", "args"))
    assert decision["by"] == "Alice (web UI)" and decision["approved"] is True
    assert decision["reason"] == "customer is right"

    # The name is remembered for the next decision.
    expect(refund_card.get_by_label("Your name")).to_have_value("Alice")
    refund_card.get_by_label("Reason").fill("over the limit")
    refund_card.get_by_role("button", name="Reject").click()
    expect(page.locator("#inbox-notice")).to_contain_text("Rejected", timeout=WAIT_MS)
    assert ops.result(f"refund-{tag}") == "refused by Alice (web UI): over the limit"
    signaled = [e for e in ops.history(f"refund-{tag}").events
                if e.event_type == "WorkflowExecutionSignaled"]
    assert _decision(signaled[0], ("input",))["by"] == "Alice (web UI)"
    page.reload()  # a signal is taken by the run's next workflow task, after the redirect
    expect(page.locator(f".inbox-item[data-workflow-id='refund-{tag}']")).to_have_count(0)
    shot(page, f"ops-02-inbox-decided-{tag}")

    # The run page shows its tokens and cost, per model and per step, and the chart.
    page.goto(ops.server.url + f"/workflows/agent-{tag}")
    expect(page.locator("#usage-cost")).to_have_text("$0.000210")
    expect(page.locator("#usage-tokens")).to_have_text("180")
    expect(page.locator("#usage-by-model")).to_contain_text("gpt-4o-mini")
    expect(page.locator("#usage-steps tbody tr")).to_have_count(2)
    # Two model calls and the tool, and the approval's timeout timer (cancelled by the decision).
    expect(page.locator("#timeline-chart g.bar[data-kind='activity']")).to_have_count(3)
    expect(page.locator("#timeline-chart g.bar[data-kind='timer']")).to_have_attribute(
        "data-state", "canceled")
    shot(page, f"ops-03-run-usage-chart-{tag}")

    # The list shows each run's cost and the page's sum.
    page.goto(ops.server.url + "/?" + f"id_prefix=agent-{tag}")
    expect(page.locator("#page-cost")).to_contain_text("$0.000210")
    shot(page, f"ops-04-list-cost-{tag}")


def test_query_update_forms_chart_and_pending_activity(ops: OpsEnv, page: Any) -> None:
    tag = ops.backend
    ops.start("Greeter", "Ada", id=f"greeter-{tag}")
    page.goto(ops.server.url + f"/workflows/greeter-{tag}")
    query = page.locator("form.query-form")
    query.get_by_label("Query name").fill("state")
    query.get_by_role("button", name="Run query").click()
    expect(page.locator("#handler-result")).to_contain_text("Hello, Ada!", timeout=WAIT_MS)
    shot(page, f"ops-05-query-result-{tag}")
    page.go_back()
    update = page.locator("form.update-form")
    update.get_by_label("Update name").fill("rename")
    update.get_by_label("Arguments").fill('"Zed"')
    update.get_by_role("button", name="Send update").click()
    expect(page.locator("#handler-result")).to_contain_text("Hello again, Zed!",
                                                            timeout=WAIT_MS)
    page.go_back()
    update = page.locator("form.update-form")
    update.get_by_label("Update name").fill("rename")
    update.get_by_label("Arguments").fill('""')
    update.get_by_role("button", name="Send update").click()
    expect(page.locator(".error-card")).to_contain_text("the new name must not be empty",
                                                        timeout=WAIT_MS)

    ops.run(ops.client.execute_workflow("Fanout", 5, id=f"fanout-{tag}", task_queue=QUEUE))
    page.goto(ops.server.url + f"/workflows/fanout-{tag}")
    bars = page.locator("#timeline-chart g.bar[data-kind='activity']")
    expect(bars).to_have_count(5)
    expect(page.locator("#timeline-chart g.bar[data-state='completed']")).to_have_count(5)
    shot(page, f"ops-06-chart-concurrent-{tag}")

    ops.start("Stuck", id=f"stuck-{tag}")
    page.goto(ops.server.url + f"/workflows/stuck-{tag}")
    # Retries come every few milliseconds: look until a page catches one between attempts.
    for _ in range(60):
        if page.locator(".fail-text").count() and "next attempt" in page.content():
            break
        page.wait_for_timeout(300)
        page.reload()
    expect(page.locator(".fail-text").first).to_contain_text("not ready")
    expect(page.locator("body")).to_contain_text("next attempt")
    shot(page, f"ops-07-pending-activity-{tag}")
    ops.run(ops.client.get_workflow_handle(f"stuck-{tag}").terminate("done"))


def test_start_form_and_list_query_by_search_attribute(ops: OpsEnv, page: Any) -> None:
    tag = ops.backend
    ops.start(Refund.run, f"vip-{tag}", 5, id=f"tagged-{tag}")
    page.goto(ops.server.url + "/start")
    page.get_by_label("Workflow type").fill("Greeter")
    page.get_by_label("Task queue").fill(QUEUE)
    page.get_by_label("Workflow id").fill(f"started-{tag}")
    page.get_by_label("Arguments").fill('"Web"')
    shot(page, f"ops-08-start-form-{tag}")
    page.get_by_role("button", name="Start").click()
    expect(page.locator("h1")).to_have_text(f"started-{tag}", timeout=WAIT_MS)
    expect(page.locator("#timeline")).to_contain_text("Workflow Greeter started")

    page.goto(ops.server.url + "/start")
    page.get_by_label("Workflow type").fill("Greeter")
    page.get_by_label("Task queue").fill(QUEUE)
    page.get_by_label("Workflow id").fill(f"bad-{tag}")
    page.get_by_label("Arguments").fill("{not json")
    page.get_by_role("button", name="Start").click()
    expect(page.locator("#start-error")).to_contain_text("arguments")
    expect(page.get_by_label("Workflow id")).to_have_value(f"bad-{tag}")

    page.goto(ops.server.url + "/")
    page.get_by_label("List query").fill(f"CustomerId = 'vip-{tag}'")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("#workflow-rows table.runs tbody tr")
    for _ in range(30):
        if rows.count() == 1:
            break
        page.wait_for_timeout(300)
        page.reload()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(f"tagged-{tag}")
    shot(page, f"ops-09-list-query-{tag}")
    page.get_by_label("List query").fill("CustomerId = ")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#query-error")).to_contain_text("invalid list query")
    ops.run(ops.client.get_workflow_handle(f"tagged-{tag}").terminate("done"))
    ops.run(ops.client.get_workflow_handle(f"started-{tag}").terminate("done"))


def test_schedules_pages_pause_unpause_trigger(ops: OpsEnv, page: Any) -> None:
    tag = ops.backend
    ops.run(ops.client.create_schedule(f"nightly-{tag}", Schedule(
        action=ScheduleActionStartWorkflow("Child", 1, id=f"nightly-run-{tag}",
                                           task_queue=QUEUE),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(hours=6))]))))
    page.goto(ops.server.url + "/schedules")
    link = page.get_by_role("link", name=f"nightly-{tag}", exact=True)
    expect(link).to_be_visible()
    expect(page.locator("#schedules")).to_contain_text("Child")
    shot(page, f"ops-10-schedules-{tag}")
    link.click()
    expect(page.locator("#schedule-state")).to_have_text("active")
    page.get_by_placeholder("note (optional)").fill("maintenance")
    page.get_by_role("button", name="Pause").click()
    expect(page.locator("#schedule-state")).to_have_text("paused", timeout=WAIT_MS)
    expect(page.locator("body")).to_contain_text("maintenance")
    described = ops.run(ops.client.get_schedule_handle(f"nightly-{tag}").describe())
    assert described.schedule.state.paused and described.schedule.state.note == "maintenance"
    page.get_by_role("button", name="Unpause").click()
    expect(page.locator("#schedule-state")).to_have_text("active", timeout=WAIT_MS)
    page.get_by_role("button", name="Trigger now").click()
    expect(page.locator(".alert.ok")).to_contain_text("Schedule triggered.", timeout=WAIT_MS)
    recent = page.locator("#recent-actions a")
    for _ in range(40):
        if recent.count():
            break
        page.wait_for_timeout(300)
        page.reload()
    expect(recent.first).to_contain_text(f"nightly-run-{tag}")
    shot(page, f"ops-11-schedule-{tag}")
    ops.run(ops.client.get_schedule_handle(f"nightly-{tag}").delete())
