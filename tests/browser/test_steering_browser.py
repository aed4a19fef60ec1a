"""Reset, fork, activity steering and "Where is it waiting?" in Chromium, signed in with a
token (the forms carry the CSRF token like every other action)."""

from __future__ import annotations

import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from stalwart.worker import Worker
from tests.server._support import RunningServer, start_server
from tests.steering.test_activity_steering import ATTEMPTS, HEALED, Flaky, Quick, flaky, quick
from tests.steering.test_reset import EXECUTED, Steps, step

from .conftest import Env, shot

WAIT_MS = 20_000
QUEUE = "browser-steering"
TOKEN = "steering-browser-token"


@pytest.fixture(scope="module")
def guarded(env: Env) -> Iterator[RunningServer]:
    worker = Worker(env.client, task_queue=QUEUE, workflows=[Steps, Flaky, Quick],
                    activities=[step, flaky, quick])
    env.run(worker.__aenter__())
    server = start_server(env.server.store_url, api_token=TOKEN)
    try:
        yield server
    finally:
        server.stop()
        env.run(worker.__aexit__(None, None, None))


def sign_in(page: Any, server: RunningServer, path: str) -> None:
    page.goto(server.url + path)
    page.get_by_label("API token").fill(TOKEN)
    page.get_by_role("button", name="Sign in").click()


def wait_until(env: Env, check: Any, what: str, timeout: float = 30.0) -> None:
    """Poll a real condition (from the test's thread) until it holds or the deadline."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def steps_done(env: Env, workflow_id: str, token: str) -> Any:
    handle = env.run(env.client.start_workflow(Steps.run, args=[token, 1], id=workflow_id,
                                               task_queue=QUEUE))
    wait_until(env, lambda: EXECUTED[f"{token}:c"] == 1, "a, b and c to run")
    return handle


def test_browser_reset_and_fork_from_a_step(env: Env, guarded: RunningServer,
                                            page: Any) -> None:
    token = uuid.uuid4().hex
    handle = steps_done(env, "browser-reset", token)
    env.run(handle.signal(Steps.note, "from the test"))
    env.run(handle.result())
    events = env.run(handle.fetch_history()).events
    scheduled = [e for e in events if e.event_type == "ActivityTaskScheduled"]
    step_c = int(scheduled[2].attributes["workflowTaskCompletedEventId"])
    step_b = int(scheduled[1].attributes["workflowTaskCompletedEventId"])

    sign_in(page, guarded, "/workflows/browser-reset")
    expect(page.locator("#wf-status")).to_have_text("completed", timeout=WAIT_MS)
    page.locator("#hide-tasks").uncheck()
    entry = page.locator(f'li.ev[data-event-id="{step_c}"]')
    entry.locator("summary", has_text="Reset or fork").click()
    entry.locator("form.reset-form input[name=reason]").fill("redo step c")
    shot(page, "steering-01-reset-step")
    dialogs: list[str] = []

    def accept(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.accept()
    page.once("dialog", accept)
    entry.get_by_role("button", name="Reset here").click()
    expect(page.locator(".alert.ok")).to_contain_text("Workflow reset", timeout=WAIT_MS)
    assert dialogs and f"to event {step_c}" in dialogs[0]
    expect(page.locator("#base-link")).to_contain_text("browser-reset")
    expect(page.locator("#wf-status")).to_have_text("completed", timeout=WAIT_MS)
    shot(page, "steering-02-after-reset")
    assert EXECUTED[f"{token}:a"] == 1 and EXECUTED[f"{token}:b"] == 1
    assert EXECUTED[f"{token}:c"] == 2

    page.locator("#hide-tasks").uncheck()
    entry = page.locator(f'li.ev[data-event-id="{step_b}"]')
    entry.locator("summary", has_text="Reset or fork").click()
    entry.locator("form.fork-form input[name=new_workflow_id]").fill("browser-reset-fork")
    entry.get_by_role("button", name="Fork from here").click()
    expect(page.locator(".alert.ok")).to_contain_text("Forked", timeout=WAIT_MS)
    expect(page.locator("h1")).to_have_text("browser-reset-fork")
    expect(page.locator("#base-link")).to_contain_text("browser-reset")
    expect(page.locator("#wf-status")).to_have_text("completed", timeout=WAIT_MS)
    shot(page, "steering-03-fork")
    assert EXECUTED[f"{token}:b"] == 2
    # The original workflow's runs are as they were: the base completed, the reset completed.
    assert env.status("browser-reset") == "COMPLETED"


def test_browser_pause_update_and_unpause_an_activity(env: Env, guarded: RunningServer,
                                                      page: Any) -> None:
    token = uuid.uuid4().hex
    handle = env.run(env.client.start_workflow(Flaky.run, token, id="browser-flaky",
                                               task_queue=QUEUE))
    wait_until(env, lambda: ATTEMPTS[token] >= 2, "failed attempts")
    sign_in(page, guarded, "/workflows/browser-flaky")
    actions = page.locator('td.activity-actions[data-activity-id="flaky"]')
    actions.get_by_role("button", name="Pause").click()
    expect(page.locator(".alert.ok")).to_contain_text("Activity paused", timeout=WAIT_MS)

    def paused() -> bool:
        pending = env.run(handle.describe()).pending_activities
        return bool(pending) and pending[0]["state"] == "paused"
    wait_until(env, paused, "the activity to be paused")
    page.reload()
    expect(page.locator("table.runs")).to_contain_text("paused")
    attempts = ATTEMPTS[token]
    actions.locator("summary", has_text="Options").click()
    actions.get_by_label("Maximum attempts").fill("99")
    actions.get_by_role("button", name="Update options").click()
    expect(page.locator(".alert.ok")).to_contain_text("options updated", timeout=WAIT_MS)
    pending = env.run(handle.describe()).pending_activities[0]
    assert pending["options"]["retry_policy"]["maximum_attempts"] == 99
    assert ATTEMPTS[token] == attempts
    shot(page, "steering-04-activity-paused")
    HEALED.add(token)
    actions.get_by_role("button", name="Reset attempts").click()
    expect(page.locator(".alert.ok")).to_contain_text("Activity reset", timeout=WAIT_MS)
    assert env.run(handle.result()) == "ok at attempt 1"


def test_browser_where_is_it_waiting(env: Env, guarded: RunningServer, page: Any) -> None:
    token = uuid.uuid4().hex
    steps_done(env, "browser-waiting", token)
    sign_in(page, guarded, "/workflows/browser-waiting")
    page.get_by_role("link", name="Where is it waiting?").click()
    trace = page.locator("#stack-trace")
    expect(trace).to_contain_text("wait_condition", timeout=WAIT_MS)
    expect(trace).to_contain_text("in run")
    shot(page, "steering-05-where-is-it-waiting")


def test_browser_steering_forms_need_the_csrf_token(env: Env, guarded: RunningServer) -> None:
    data = urllib.parse.urlencode({"event_id": "4", "reason": "x"}).encode()
    request = urllib.request.Request(guarded.url + "/workflows/browser-reset/reset", data=data,
                                     method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    refused.value.close()
    assert refused.value.code in (401, 403)
