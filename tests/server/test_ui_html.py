"""The web UI's pages as HTML over real HTTP: escaping, the timeline, paging of long
histories, and the forms (with their CSRF token)."""

from __future__ import annotations

import html
import re
from typing import Any

from stalwart.client import Client
from stalwart.worker import Worker
from tests.helpers.waiting import eventually

from ._support import Reply, RunningServer, wid

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _plain(page: str) -> str:
    """The page's text without tags, whitespace collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def _event_ids(page: str) -> list[int]:
    return [int(x) for x in re.findall(r'<li class="ev [^"]*" data-event-id="(\d+)"', page)]


def _session(reply: Reply) -> tuple[str, str]:
    """The CSRF token of a page and the cookie header that goes with it."""
    token = _CSRF.search(reply.text)
    assert token is not None, "the page has no CSRF token"
    cookie = reply.headers.get("set-cookie", "")
    assert "stalwart_csrf=" in cookie and "SameSite=strict" in cookie.replace("Strict",
                                                                              "strict")
    assert "HttpOnly" in cookie or "httponly" in cookie
    return token.group(1), cookie.split(";", 1)[0]


async def test_ui_escapes_payloads_ids_and_failures(server: RunningServer, client: Client,
                                                    task_queue: str) -> None:
    evil = "<script>alert('x')</script>"
    workflow_id = f"id-{evil}"
    await client.start_workflow("Greeter", evil, id=workflow_id, task_queue=task_queue)
    handle = client.get_workflow_handle(workflow_id)
    await handle.signal("note", f"<img src=x onerror=alert(1)>{evil}")
    await handle.terminate(reason=f"<b>{evil}</b>")
    listing = await server.arequest("GET", "/")
    page = await server.arequest("GET", f"/workflows/{wid(workflow_id)}")
    for reply in (listing, page):
        assert reply.status == 200
        assert "<script>alert" not in reply.text
        assert "<img src=x" not in reply.text and "<b><script>" not in reply.text
        assert "&lt;script&gt;alert(" in reply.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"


async def test_ui_timeline_names_activities_timers_children_and_runs(
        server: RunningServer, client: Client, worker: Worker, task_queue: str) -> None:
    handle = await client.start_workflow("Family", 1, id="fam", task_queue=task_queue)
    await handle.result()
    first_run = handle.result_run_id
    assert first_run is not None
    page = (await server.arequest("GET", f"/workflows/fam?run_id={first_run}")).text
    for text in ("Workflow Family started", "Timer #1 started", "Timer #1 fired",
                 "Child workflow Child initiated", "Child workflow Child completed",
                 "Workflow continued as new", "Runs of this workflow id"):
        assert text in page, text
    assert 'href="/workflows/fam-child-1' in page
    latest = (await client.get_workflow_handle("fam").describe()).run_id
    assert f"?run_id={latest}" in page
    child = (await server.arequest("GET", "/workflows/fam-child-1")).text
    assert 'href="/workflows/fam?run_id=' in child  # back to the parent

    greeter = await client.start_workflow("Greeter", "Ada", id="timeline-g",
                                          task_queue=task_queue)
    await greeter.signal("finish", "bye")
    await greeter.result()
    page = _plain((await server.arequest("GET", "/workflows/timeline-g")).text)
    assert "Activity greet completed" in page and "attempt 1" in page
    # Temporal's event model: task triples, and the activity's start before its close.
    assert "Workflow task scheduled" in page and "Workflow task started" in page
    assert page.index("Activity greet started") < page.index("Activity greet completed")
    assert re.search(r"took \d+ ms", page)
    assert "Signal finish received" in page and "Workflow completed" in page
    assert '"finished_with": "bye"' in page


async def test_ui_shows_retrying_activity_with_attempt_and_failure(
        server: RunningServer, client: Client, worker: Worker, task_queue: str) -> None:
    await client.start_workflow("Stuck", id="ui-stuck", task_queue=task_queue)

    async def retried() -> Any:
        page = (await server.arequest("GET", "/workflows/ui-stuck")).text
        match = re.search(r'<td class="num">(\d+)</td>', page)
        return page if match and int(match.group(1)) >= 2 else None

    page = await eventually(retried, what="a retried pending activity on the page")
    assert "Pending activities" in page and "never_ready" in page
    assert "the service is not ready yet" in page


async def test_ui_pages_a_history_of_ten_thousand_events(server: RunningServer, client: Client,
                                                         worker: Worker,
                                                         task_queue: str) -> None:
    # Three events per activity: 3,334 activities make a history of over 10,000 events.
    handle = await client.start_workflow("Fanout", 3334, id="long", task_queue=task_queue)
    assert await handle.result() == sum(range(3334))
    length = (await handle.describe()).history_length
    assert length >= 10_000
    first = await server.arequest("GET", "/workflows/long")
    assert first.status == 200
    ids = _event_ids(first.text)
    assert ids == list(range(1, 201))
    # A page is bounded, whatever the history's size.
    assert len(first.body) < 1_000_000
    assert "Latest events" in first.text
    seen = list(ids)
    next_url = re.search(r'<li class="load-more" data-url="([^"]+)"', first.text)
    while next_url is not None:
        fragment = await server.arequest("GET", html.unescape(next_url.group(1)))
        assert fragment.status == 200
        page_ids = _event_ids(fragment.text)
        assert 0 < len(page_ids) <= 200
        seen += page_ids
        next_url = re.search(r'<li class="load-more" data-url="([^"]+)"', fragment.text)
    assert seen == list(range(1, length + 1))
    last = await server.arequest("GET", f"/workflows/long?after={length - 200}")
    text = _plain(last.text)
    assert _event_ids(last.text) == list(range(length - 199, length + 1))
    assert "Workflow completed" in text
    # Durations on a later page still find the ActivityTaskScheduled on an earlier one.
    assert "Activity step completed" in text and "took" in text


async def test_ui_forms_signal_cancel_and_terminate(server: RunningServer, client: Client,
                                                    worker: Worker, task_queue: str) -> None:
    handle = await client.start_workflow("Greeter", "Ada", id="form", task_queue=task_queue)
    page = await server.arequest("GET", "/workflows/form")
    token, cookie = _session(page)
    form = f"csrf_token={token}&run_id=&name=finish&args=%22from+a+form%22"
    reply = await server.arequest("POST", "/workflows/form/signal", raw=form.encode(),
                                  content_type="application/x-www-form-urlencoded",
                                  headers={"Cookie": cookie})
    assert reply.status == 303, reply.text
    assert reply.headers["location"] == "/workflows/form?notice=signal_sent"
    notice = await server.arequest("GET", reply.headers["location"])
    assert "Signal sent." in notice.text
    assert (await handle.result())["finished_with"] == "from a form"

    for action, expected in (("cancel", "CANCELED"), ("terminate", "TERMINATED")):
        workflow_id = f"form-{action}"
        other = await client.start_workflow("Greeter", "Ada", id=workflow_id,
                                            task_queue=task_queue)
        reply = await server.arequest(
            "POST", f"/workflows/{workflow_id}/{action}",
            raw=f"csrf_token={token}&reason=from+the+UI".encode(),
            content_type="application/x-www-form-urlencoded", headers={"Cookie": cookie})
        assert reply.status == 303, reply.text

        async def closed(h: Any = other, status: str = expected) -> bool:
            return bool((await h.describe()).status.name == status)

        await eventually(closed, what=f"{workflow_id} {expected}")
    await client.start_workflow("Greeter", "Ada", id="form-bad", task_queue=task_queue)
    bad_json = await server.arequest(
        "POST", "/workflows/form-bad/signal",
        raw=f"csrf_token={token}&name=note&args=%7Bnope".encode(),
        content_type="application/x-www-form-urlencoded", headers={"Cookie": cookie})
    # Failures are shown on an error page with a way back, never as text in the address.
    assert bad_json.status == 422 and "not valid JSON" in bad_json.text
    assert 'href="/workflows/form-bad"' in bad_json.text


async def test_ui_error_pages_are_html_not_500(server: RunningServer) -> None:
    missing = await server.arequest("GET", "/workflows/does-not-exist")
    assert missing.status == 404 and "does-not-exist" in missing.text
    assert missing.headers["content-type"].startswith("text/html")
    bad = await server.arequest("GET", "/?status=bogus&started_after=%ff")
    assert bad.status == 400
    nowhere = await server.arequest("GET", "/no/such/page")
    assert nowhere.status == 404 and nowhere.headers["content-type"].startswith("text/html")
    static = await server.arequest("GET", "/static/app.css")
    assert static.status == 200 and "timeline" in static.text
