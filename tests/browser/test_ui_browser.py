"""The web UI in Chromium: list, workflow page, history, forms, confirmations, login."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests.server._support import start_server

from .conftest import Env, shot

WAIT_MS = 20_000


def test_browser_list_open_workflow_signal_and_see_it_finish(env: Env, page: Any) -> None:
    env.start("Greeter", "Ada", id="browser-greeter")
    page.goto(env.server.url + "/")
    row_link = page.get_by_role("link", name="browser-greeter", exact=True)
    expect(row_link).to_be_visible(timeout=WAIT_MS)
    expect(page.locator("table.runs")).to_contain_text("Greeter")
    shot(page, "01-workflow-list")

    row_link.click()
    expect(page.locator("h1")).to_have_text("browser-greeter")
    expect(page.locator("#wf-status")).to_have_text("running")
    # The activity completes while the page is open; auto-refresh brings it in.
    expect(page.locator("#timeline")).to_contain_text("Activity greet completed",
                                                      timeout=WAIT_MS)
    expect(page.locator("#timeline")).to_contain_text("Workflow Greeter started")
    shot(page, "02-workflow-running")

    form = page.locator("form.signal-form")
    form.get_by_label("Signal name").fill("finish")
    form.get_by_label("Arguments").fill('"sent from the browser"')
    form.get_by_role("button", name="Send signal").click()
    expect(page.locator(".alert.ok")).to_contain_text("Signal sent.",
                                                      timeout=WAIT_MS)
    expect(page.locator("#wf-status")).to_have_text("completed", timeout=WAIT_MS)
    expect(page.locator("#timeline")).to_contain_text("Signal finish received")
    expect(page.locator("#timeline")).to_contain_text("Workflow completed")
    result = page.locator("details.payload", has_text="result").first
    expect(result).to_contain_text("sent from the browser")
    shot(page, "03-workflow-completed")
    assert env.status("browser-greeter") == "COMPLETED"


def test_browser_cancel_and_terminate_ask_first(env: Env, page: Any) -> None:
    env.start("Greeter", "Bo", id="browser-terminate")
    page.goto(env.server.url + "/workflows/browser-terminate")
    dialogs: list[str] = []

    def dismiss(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    page.get_by_role("button", name="Terminate").click()
    assert dialogs and "Terminate browser-terminate" in dialogs[0]
    expect(page.locator(".alert.ok")).to_have_count(0)
    assert env.status("browser-terminate") == "RUNNING"

    page.locator("input.reason").fill("stopped from a browser test")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Terminate").click()
    expect(page.locator("#wf-status")).to_have_text("terminated", timeout=WAIT_MS)
    expect(page.locator("#timeline")).to_contain_text("stopped from a browser test")
    shot(page, "04-workflow-terminated")

    env.start("Greeter", "Cy", id="browser-cancel")
    page.goto(env.server.url + "/workflows/browser-cancel")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Cancel workflow").click()
    expect(page.locator("#wf-status")).to_have_text("canceled", timeout=WAIT_MS)


def test_browser_long_history_loads_page_by_page(env: Env, page: Any) -> None:
    # 200 activities make some 620 events: more than three pages of 200, so the first page,
    # the next one and the latest are all different events.
    handle = env.start("Fanout", 200, id="browser-long")
    env.run(handle.result())
    page.goto(env.server.url + "/workflows/browser-long")
    events = page.locator("#timeline li.ev")
    expect(events).to_have_count(200)
    page.locator("li.load-more a").click()
    expect(events).to_have_count(400, timeout=WAIT_MS)
    expect(events.nth(399)).to_have_attribute("data-event-id", "400")
    events.nth(199).scroll_into_view_if_needed()
    shot(page, "05-long-history-second-page", full_page=False)
    page.get_by_role("link", name="Latest events").click()
    expect(page.locator("#timeline")).to_contain_text("Workflow completed", timeout=WAIT_MS)
    page.locator("#hide-tasks").uncheck()
    expect(page.locator("#timeline li.cat-task").first).to_be_visible()


def test_browser_payloads_are_escaped_and_collapsible(env: Env, page: Any) -> None:
    attack = "<img src=x onerror=document.title='pwned'>"
    env.start("Greeter", attack, id="browser-escape")
    page.goto(env.server.url + "/workflows/browser-escape")
    expect(page.locator("#timeline")).to_contain_text("Activity greet completed",
                                                      timeout=WAIT_MS)
    assert page.title() != "pwned"
    assert page.locator("main img").count() == 0
    scheduled = page.locator("li.ev", has_text="Activity greet scheduled")
    payload = scheduled.locator("details.payload")
    expect(payload).not_to_have_attribute("open", re.compile(".*"))
    payload.locator("summary").click()
    expect(payload.locator("pre")).to_be_visible()
    expect(payload.locator("pre")).to_contain_text(attack)
    shot(page, "06-escaped-payload-open")


def test_browser_login_form_when_a_token_is_set(env: Env, page: Any) -> None:
    guarded = start_server(env.server.store_url, api_token="browser-token-for-tests")
    try:
        page.goto(guarded.url + "/?status=completed")
        expect(page.locator("h1")).to_have_text("Sign in")
        page.get_by_label("API token").fill("wrong")
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator(".alert.error")).to_contain_text("not the server's API token")
        page.get_by_label("API token").fill("browser-token-for-tests")
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("h1")).to_have_text("Workflows")
        assert page.url.endswith("/?status=completed")
        expect(page.get_by_role("link", name="browser-greeter", exact=True)).to_be_visible()
        shot(page, "07-after-login")
        page.get_by_role("button", name="Sign out").click()
        expect(page.locator("h1")).to_have_text("Sign in")
    finally:
        guarded.stop()
