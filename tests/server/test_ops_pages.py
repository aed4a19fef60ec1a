"""The inbox, handler, start and schedule forms sit behind the same authentication and CSRF
checks as every other form, over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stalwart.client import Client

from ._support import RunningServer, start_server

TOKEN = "ops-pages-token-7d1e9b2a"
FORM = "application/x-www-form-urlencoded"
POSTS = ["/inbox/decide", "/handlers", "/start", "/schedules/action"]


@pytest.fixture
def guarded(db_url: str, client: Client) -> Iterator[RunningServer]:
    running = start_server(db_url, api_token=TOKEN)
    try:
        yield running
    finally:
        running.stop()


async def test_pages_need_a_login_and_forms_need_the_csrf_token(guarded: RunningServer
                                                                 ) -> None:
    for path in ("/inbox", "/schedules", "/start", "/schedules/view?id=x"):
        reply = await guarded.arequest("GET", path, token="")
        assert reply.status == 303 and reply.headers["location"].startswith("/login?next=")
    for path in POSTS:
        anonymous = await guarded.arequest("POST", path, raw=b"x=1", content_type=FORM,
                                           token="")
        assert anonymous.status == 401, path
        no_csrf = await guarded.arequest("POST", path, raw=b"workflow_id=a", content_type=FORM)
        assert no_csrf.status == 403 and "security token" in no_csrf.text, path
        foreign = await guarded.arequest("POST", path, raw=b"x=1", content_type=FORM,
                                         headers={"Origin": "http://evil.example"})
        assert foreign.status == 403 and foreign.error_code == "cross_origin", path
    inbox = await guarded.arequest("GET", "/api/inbox")
    assert inbox.status == 200 and inbox.json() == {"items": []}
    assert (await guarded.arequest("GET", "/api/inbox", token="")).status == 401
    decision = await guarded.arequest("POST", "/api/inbox/decisions", {
        "workflow_id": "nope", "step_id": "s", "approved": True, "by": "eve"})
    assert decision.status == 404 and decision.error_code == "not_found"
    unknown = await guarded.arequest("POST", "/api/inbox/decisions", {
        "workflow_id": "nope", "step_id": "s", "approved": "yes", "by": "eve"})
    assert unknown.status == 422 and unknown.json()["error"]["field"] == "approved"


async def test_empty_pages_render(guarded: RunningServer) -> None:
    for path, text in (("/inbox", "Nothing is waiting for a person"),
                       ("/schedules", "No schedules"), ("/start", "Start a workflow")):
        reply = await guarded.arequest("GET", path)
        assert reply.status == 200 and text in reply.text, path
    missing = await guarded.arequest("GET", "/schedules/view?id=absent")
    assert missing.status == 404
