"""The run page's live stream in Chromium, behind the login of a token-guarded server: items
published while the page is open appear without a reload, and the stream ends with the run."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from stalwart.contrib.workflow_streams import WorkflowStreamClient
from tests.server._support import start_server, wid

from .conftest import Env, shot

WAIT_MS = 20_000
TOKEN = "browser-stream-token-for-tests"


def test_browser_shows_the_stream_live(env: Env, page: Any) -> None:
    workflow_id = "browser-streamer"
    env.start("Streamer", id=workflow_id)
    guarded = start_server(env.server.store_url, api_token=TOKEN)
    try:
        # Unauthenticated, the stream is not served (the API wants the token; the UI path
        # sends to the login).
        anonymous = guarded.request("GET", f"/api/workflows/{wid(workflow_id)}/stream",
                                    token="")
        assert anonymous.status == 401
        page.goto(guarded.url + f"/workflows/{wid(workflow_id)}")
        expect(page.locator("h1")).to_have_text("Sign in")
        page.get_by_label("API token").fill(TOKEN)
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("h1")).to_have_text(workflow_id)
        items = page.locator("#stream-items li")
        expect(items).to_have_count(1, timeout=WAIT_MS)
        expect(items.nth(0)).to_contain_text("hello")
        expect(page.locator("#stream-state")).to_have_text("live", timeout=WAIT_MS)
        page.evaluate("window.__same_page = true")

        async def publish(text: str) -> None:
            async with WorkflowStreamClient.create(env.client, workflow_id) as stream:
                stream.publish("notes", text)

        # Published by a client: history does not change, the page stays; the item arrives.
        env.run(publish("typed while you watch"))
        expect(items).to_have_count(2, timeout=WAIT_MS)
        expect(items.nth(1)).to_contain_text("typed while you watch")
        expect(items.nth(1).locator(".topic")).to_have_text("notes")
        assert page.evaluate("window.__same_page === true")
        shot(page, "08-stream-live")

        env.run(env.client.get_workflow_handle(workflow_id).signal("finish"))
        expect(page.locator("#wf-status")).to_have_text("completed", timeout=WAIT_MS)
        expect(page.locator("#stream-state")).to_have_text("ended", timeout=WAIT_MS)
        expect(items).to_have_count(2)
    finally:
        guarded.stop()
