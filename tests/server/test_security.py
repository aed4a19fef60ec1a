"""Who may use the server: loopback-only without a token, bearer tokens, the login cookie,
cross-origin refusal and CSRF tokens on the UI's forms."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from stalwart._server import ServerConfig, create_app
from stalwart.client import Client
from tests.helpers.waiting import eventually

from ._support import RunningServer, start_server, wait_until

TOKEN = "s3cret-token-for-tests"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def token_server(db_url: str, client: Client) -> Iterator[RunningServer]:
    # Bound to every address with a token, as a team would run it; the tests still only
    # connect over loopback.
    running = start_server(db_url, host="0.0.0.0", api_token=TOKEN)
    try:
        yield running
    finally:
        running.stop()


def test_server_config_refuses_non_loopback_without_token() -> None:
    for host in ("0.0.0.0", "192.0.2.10", "::", "example.com"):
        with pytest.raises(ValueError, match="api-token"):
            create_app(ServerConfig(url="sqlite:///unused.db", host=host))
    for weak in (" ", "1", "aaaaaaaaaaaaaaaaaaaa", "short-token"):
        with pytest.raises(ValueError, match="too weak"):
            ServerConfig(host="0.0.0.0", api_token=weak).check()
    for host in ("127.0.0.1", "localhost", "::1", "127.3.2.1"):
        ServerConfig(host=host).check()


def test_cli_refuses_non_loopback_bind_without_token(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "STALWART_API_TOKEN"}
    done = subprocess.run([sys.executable, "-m", "stalwart._cli.main", "server", "start-dev",
                           "--ip", "0.0.0.0", "--port", "0"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "--api-token" in done.stderr
    assert not (tmp_path / "stalwart.db").exists()


def test_cli_start_dev_with_no_arguments_serves_a_fresh_directory(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("STALWART_URL",
                                                            "STALWART_API_TOKEN")}
    # Port 0 instead of 8233 so parallel runs cannot collide; everything else is defaulted.
    process = subprocess.Popen([sys.executable, "-m", "stalwart._cli.main", "server",
                                "start-dev", "--port", "0"], cwd=tmp_path, env=env,
                               stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert match, line
        server = RunningServer(url=match.group(0), host="127.0.0.1", port=int(match.group(1)),
                               store_url="", api_token=None)

        def healthy() -> bool:
            try:
                return server.request("GET", "/api/health").status == 200
            except OSError:
                return False

        wait_until(healthy, what="the server to answer")
        assert (tmp_path / "stalwart.db").exists()
        assert server.request("GET", "/").status == 200
        assert server.request("GET", "/api/workflow-count").json() == {"count": 0}
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            if process.stderr is not None:
                process.stderr.close()
    assert process.returncode == 0


def test_loopback_server_refuses_foreign_host_names(server: RunningServer) -> None:
    # What a DNS-rebinding page would send: its own name, resolving to 127.0.0.1.
    for host in ("evil.example", "evil.example:8233", "10.0.0.1"):
        reply = server.request("GET", "/api/workflows", headers={"Host": host})
        assert reply.status == 403 and reply.error_code == "forbidden_host", host
    for host in ("localhost", f"127.0.0.1:{server.port}", f"[::1]:{server.port}"):
        assert server.request("GET", "/api/workflows", headers={"Host": host}).status == 200


def test_token_is_required_for_api_metrics_and_ui(token_server: RunningServer) -> None:
    for path in ("/api/workflows", "/api/openapi.json", "/api/workflows/x/history",
                 "/metrics"):
        for token in ("", "wrong"):
            reply = token_server.request("GET", path, token=token or "")
            assert reply.status == 401, (path, token)
            assert reply.error_code == "unauthorized"
            assert reply.headers["www-authenticate"].startswith("Bearer")
        assert token_server.request("GET", path).status in (200, 404), path
    start = {"workflow_type": "Greeter", "task_queue": "q", "workflow_id": "t"}
    assert token_server.request("POST", "/api/workflows", start, token="").status == 401
    assert token_server.request("GET", "/api/workflow-count").json() == {"count": 0}
    # Foreign host names are fine once a token guards the server.
    assert token_server.request("GET", "/api/workflows",
                                headers={"Host": "stalwart.internal"}).status == 200
    page = token_server.request("GET", "/workflows/x?run_id=1", token="")
    assert page.status == 303
    assert page.headers["location"] == "/login?next=%2Fworkflows%2Fx%3Frun_id%3D1"
    assert token_server.request("GET", "/static/app.css", token="").status == 200
    assert token_server.request("GET", "/login", token="").status == 200


def test_login_form_sets_a_cookie_the_ui_accepts_but_the_api_does_not(
        token_server: RunningServer) -> None:
    login = token_server.request("GET", "/login?next=%2F%3Fstatus%3Drunning", token="")
    csrf = _CSRF.search(login.text)
    assert csrf is not None
    csrf_cookie = login.headers["set-cookie"].split(";", 1)[0]
    wrong = token_server.request(
        "POST", "/login", raw=f"csrf_token={csrf.group(1)}&token=nope&next=/".encode(),
        content_type=_FORM, token="", headers={"Cookie": csrf_cookie})
    assert wrong.status == 401 and "not the server" in wrong.text
    assert "set-cookie" not in wrong.headers or "stalwart_session" not in wrong.headers[
        "set-cookie"]
    right = token_server.request(
        "POST", "/login",
        raw=f"csrf_token={csrf.group(1)}&token={TOKEN}&next=%2F%3Fstatus%3Drunning".encode(),
        content_type=_FORM, token="", headers={"Cookie": csrf_cookie})
    assert right.status == 303 and right.headers["location"] == "/?status=running"
    cookie = right.headers["set-cookie"]
    assert cookie.startswith("stalwart_session=") and "HttpOnly" in cookie
    assert "samesite=strict" in cookie.lower() and "Max-Age=" in cookie
    # The cookie is derived from the token, never the token itself.
    assert TOKEN not in cookie
    session = f"{cookie.split(';', 1)[0]}; {csrf_cookie}"
    assert token_server.request("GET", "/", token="", headers={"Cookie": session}).status == 200
    api = token_server.request("GET", "/api/workflows", token="", headers={"Cookie": session})
    assert api.status == 401
    # No open redirect through ?next=.
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        reply = token_server.request(
            "POST", "/login", raw=(f"csrf_token={csrf.group(1)}&token={TOKEN}&next="
                                   f"{target}").encode(),
            content_type=_FORM, token="", headers={"Cookie": csrf_cookie})
        assert reply.status == 303 and reply.headers["location"] == "/", target


def test_login_without_csrf_token_is_refused(token_server: RunningServer) -> None:
    reply = token_server.request("POST", "/login", raw=f"token={TOKEN}".encode(),
                                 content_type=_FORM, token="")
    assert reply.status == 403
    assert "stalwart_session" not in reply.headers.get("set-cookie", "")


async def test_ui_forms_without_a_matching_csrf_token_change_nothing(
        server: RunningServer, client: Client, task_queue: str) -> None:
    handle = await client.start_workflow("Greeter", "Ada", id="csrf", task_queue=task_queue)
    page = await server.arequest("GET", "/workflows/csrf")
    token = _CSRF.search(page.text)
    assert token is not None
    cookie = page.headers["set-cookie"].split(";", 1)[0]
    attempts = [
        ({"Cookie": cookie}, "name=note&args=%22a%22"),  # no token in the form
        ({"Cookie": cookie}, "csrf_token=forged-forged-forged-forged-forged&name=note"),
        ({}, f"csrf_token={token.group(1)}&name=note"),  # token without its cookie
        ({"Cookie": cookie, "Origin": "https://evil.example"},
         f"csrf_token={token.group(1)}&name=note"),
        ({"Cookie": cookie, "Sec-Fetch-Site": "cross-site"},
         f"csrf_token={token.group(1)}&name=note"),
        ({"Cookie": cookie, "Origin": "null"}, f"csrf_token={token.group(1)}&name=note"),
    ]
    for headers, form in attempts:
        for action in ("signal", "cancel", "terminate"):
            reply = await server.arequest("POST", f"/workflows/csrf/{action}",
                                          raw=form.encode(), content_type=_FORM,
                                          headers=headers)
            assert reply.status == 403, (headers, form, action)
    description = await handle.describe()
    assert description.status.name == "RUNNING"
    assert description.pending_events == 0
    history = await handle.fetch_history()
    assert [e.event_type for e in history.events] == ["WorkflowExecutionStarted",
                                                      "WorkflowTaskScheduled"]
    # The same form from the page itself goes through.
    ok = await server.arequest("POST", "/workflows/csrf/signal",
                               raw=f"csrf_token={token.group(1)}&name=note&args=1".encode(),
                               content_type=_FORM,
                               headers={"Cookie": cookie,
                                        "Origin": f"http://127.0.0.1:{server.port}"})
    assert ok.status == 303

    async def delivered() -> bool:
        return (await handle.describe()).pending_events == 1

    await eventually(delivered, what="the form's signal")


async def test_api_refuses_cross_origin_and_non_json_requests(
        server: RunningServer, client: Client, task_queue: str) -> None:
    handle = await client.start_workflow("Greeter", "Ada", id="xorigin", task_queue=task_queue)
    cross = await server.arequest("POST", "/api/workflows/xorigin/terminate", {},
                                  headers={"Origin": "https://evil.example"})
    assert cross.status == 403 and cross.error_code == "cross_origin"
    # What a cross-site <form> or no-cors fetch can send without a CORS preflight.
    for content_type in ("text/plain", _FORM, "multipart/form-data; boundary=x", None):
        reply = await server.arequest("POST", "/api/workflows/xorigin/terminate", raw=b"{}",
                                      content_type=content_type)
        assert reply.status == 415, content_type
    assert (await handle.describe()).status.name == "RUNNING"
