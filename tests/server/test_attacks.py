"""One test per attack of the hardening pass (issue "one input boundary, a server that keeps its
secrets"): the attack, the clear error it now gets, and the store intact afterwards. Tests that
involve the store run on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import html
import json
import math
import random
import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest

from stalwart import workflow
from stalwart._model.limits import DEFAULT_MAX_PAYLOAD_BYTES, PAYLOAD_LIMIT_ENV
from stalwart._server import ServerConfig, bind_socket, make_server
from stalwart._server.security import FailureLimiter, Secrets
from stalwart._store.base import StartWorkflowRequest
from stalwart.client import Client
from stalwart.converter import DataConverter, _payload_to_json
from stalwart.worker import Worker

from ._support import RunningServer, start_server

BOTH_STORES = pytest.mark.parametrize("store_backend", ["sqlite", "postgres"], indirect=True)
IDLE = "attack-idle"  # no worker polls it
TOKEN = "a-strong-token-for-the-attack-tests"
_FORM = "application/x-www-form-urlencoded"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def _intact(client: Client) -> None:
    """The store passes its integrity check and still takes a start and a read."""
    url = client.store.url
    if url.startswith("sqlite:"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    probe = f"probe-{uuid.uuid4().hex[:8]}"
    handle = await client.start_workflow("Probe", id=probe, task_queue=IDLE)
    assert (await handle.describe()).status.name == "RUNNING"
    await handle.terminate(reason="probe")


async def _plant(client: Client, workflow_id: str, value: Any = "x",
                 workflow_type: str = "Legacy") -> str:
    """A run as an older version, or workflow code, could have written it: straight into the
    store, past the client's checks."""
    payload = _payload_to_json(DataConverter.default.payload_converter.to_payload(value))
    run_id = str(uuid.uuid4())
    await client.store.start_workflow(StartWorkflowRequest(
        workflow_id=workflow_id, workflow_type=workflow_type, task_queue=IDLE, input=[payload],
        run_id=run_id, random_seed=1), time.time())
    return run_id


# -- 1. unbounded input -----------------------------------------------------------------------

@BOTH_STORES
async def test_client_refuses_oversized_payloads_and_the_limit_is_configurable(
        client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    big = "x" * (3 * 1024 * 1024)
    with pytest.raises(ValueError, match=rf"arguments\[0\] is \d+ bytes.*limit is "
                                         rf"{DEFAULT_MAX_PAYLOAD_BYTES} bytes.*"
                                         rf"{PAYLOAD_LIMIT_ENV}"):
        await client.start_workflow("Sink", big, id="big", task_queue=IDLE)
    handle = await client.start_workflow("Sink", id="small", task_queue=IDLE)
    with pytest.raises(ValueError, match="limit is"):
        await handle.signal("s", big)
    monkeypatch.setenv(PAYLOAD_LIMIT_ENV, str(4 * 1024 * 1024))
    await client.start_workflow("Sink", big, id="big-allowed", task_queue=IDLE)
    assert (await client.count_workflows("WorkflowId = 'big'")).count == 0
    await _intact(client)


@BOTH_STORES
async def test_client_refuses_huge_and_control_character_names(client: Client) -> None:
    million = "a" * 1_000_000
    cjk = "漢" * 400  # 400 characters, 1,200 UTF-8 bytes: past a PostgreSQL index entry
    for kwargs, field in (({"id": million}, "workflow id"), ({"id": cjk}, "workflow id"),
                          ({"task_queue": million}, "task queue")):
        arguments = {"id": "ok", "task_queue": IDLE, **kwargs}
        with pytest.raises(ValueError, match=rf"{field} .* UTF-8 bytes long; the limit is "
                                             r"1000 bytes"):
            await client.start_workflow("Sink", **arguments)
    with pytest.raises(ValueError, match=r"workflow type .* limit is 1000"):
        await client.start_workflow("T" * 1001, id="ok", task_queue=IDLE)
    for bad in ("a\nb", "a\x00b", "\x1b[31mred", "tab\there", "rtl\u202eevil"):
        with pytest.raises(ValueError, match=r"control character U\+[0-9A-F]{4}"):
            await client.start_workflow("Sink", id=bad, task_queue=IDLE)
        with pytest.raises(ValueError, match="control character"):
            await client.start_workflow("Sink", id="ok2", task_queue=bad)
    handle = await client.start_workflow("Sink", id="named", task_queue=IDLE)
    for bad in ("sig\x00", "a" * 1001, "two\nlines", " "):
        with pytest.raises(ValueError, match="signal name"):
            await handle.signal(bad)
    with pytest.raises(ValueError, match="NUL"):
        client.get_workflow_handle("a\x00b")
    assert (await client.count_workflows()).count == 1
    await _intact(client)


@BOTH_STORES
async def test_api_answers_nul_and_long_cjk_ids_with_422_and_no_store_details(
        server: RunningServer, client: Client) -> None:
    for workflow_id in ("a\x00b", "漢" * 999, "x" * 1001):
        reply = await server.arequest("POST", "/api/workflows", {
            "workflow_type": "Sink", "task_queue": IDLE, "workflow_id": workflow_id})
        assert reply.status == 422, reply.text
        error = reply.json()["error"]
        assert error["code"] == "validation_error" and error["field"] == "workflow_id"
        assert "1000 bytes" in error["message"] or "control character" in error["message"]
    described = await server.arequest("GET", "/api/workflows/a%00b")
    assert described.status == 400 and "NUL" in described.json()["error"]["message"]
    for reply in (described,):
        for secret in ("postgresql://", "sqlite:", "127.0.0.1", "SELECT", "schema"):
            assert secret not in reply.text
    listed = await server.arequest("GET", "/?workflow_type=%00")
    assert listed.status == 400 and "control character" in listed.text
    assert listed.headers["content-type"].startswith("text/html")
    assert (await server.arequest("GET", "/api/workflows?task_queue=%00")).status == 400
    await _intact(client)


@BOTH_STORES
async def test_store_data_errors_become_422_without_address_or_sql(
        server: RunningServer, client: Client) -> None:
    # Past every check: a lookup the database itself refuses (an id far past an index
    # entry is fine to look up; the mapping is what is tested, with a real store error).
    from stalwart._server.backend import map_error
    from stalwart.exceptions import StoreError

    if client.store.url.startswith("postgres"):
        with pytest.raises(StoreError) as caught:
            await client.store.get_execution("a\x00b", None)
        mapped = map_error(caught.value)
        assert mapped is not None and mapped.status == 422 and mapped.code == "invalid_data"
        assert "postgresql" not in mapped.message and "NUL" not in mapped.message
    unavailable = map_error(StoreError("PostgreSQL store postgresql://u@db.internal/x schema s: "
                                       "SELECT 1 failed: connection refused"))
    assert unavailable is not None and unavailable.status == 503
    assert "db.internal" not in unavailable.message and "SELECT" not in unavailable.message
    await _intact(client)


@BOTH_STORES
async def test_ids_with_newlines_stay_reachable_and_dot_ids_get_working_links(
        server: RunningServer, client: Client) -> None:
    await _plant(client, "a\nb")
    described = await server.arequest("GET", "/api/workflows/a%0Ab")
    assert described.status == 200 and described.json()["workflow_id"] == "a\nb"
    page = await server.arequest("GET", "/workflows/a%0Ab")
    assert page.status == 200
    terminated = await server.arequest("POST", "/api/workflows/a%0Ab/terminate", {})
    assert terminated.status == 200, terminated.text
    assert (await client.get_workflow_handle("a\nb").describe()).status.name == "TERMINATED"

    for dots in (".", ".."):
        await client.start_workflow("Sink", id=dots, task_queue=IDLE)
        segment = "~" + dots
        page = await server.arequest("GET", f"/workflows/{segment}")
        assert page.status == 200 and f'action="/workflows/{segment}/signal"' in page.text
        token = html.unescape(_CSRF.search(page.text).group(1))  # type: ignore[union-attr]
        cookie = page.headers["set-cookie"].split(";", 1)[0]
        sent = await server.arequest(
            "POST", f"/workflows/{segment}/signal", raw=f"csrf_token={token}&name=poke".encode(),
            content_type=_FORM, headers={"Cookie": cookie})
        assert sent.status == 303 and sent.headers["location"].startswith(f"/workflows/{segment}")
        api = await server.arequest("GET", f"/api/workflows/{segment}")
        assert api.status == 200 and api.json()["workflow_id"] == dots
        assert api.json()["pending_events"][0]["attributes"]["signal_name"] == "poke"
    # A literal "~." id is a different workflow, and is linked as such.
    await client.start_workflow("Sink", id="~.", task_queue=IDLE)
    assert (await server.arequest("GET", "/api/workflows/%7E.")).json()["workflow_id"] == "~."
    await _intact(client)


@BOTH_STORES
async def test_ui_forms_refuse_what_the_client_refuses(server: RunningServer,
                                                     client: Client) -> None:
    start = await server.arequest("GET", "/start")
    token = html.unescape(_CSRF.search(start.text).group(1))  # type: ignore[union-attr]
    cookie = start.headers["set-cookie"].split(";", 1)[0]

    async def post(path: str, **fields: str) -> Any:
        return await server.arequest(
            "POST", path, content_type=_FORM, headers={"Cookie": cookie},
            raw=urlencode({"csrf_token": token, **fields}).encode())

    for workflow_id, message in (("a\x00b", "NUL"), ("\x1b[31mred", "control character U+001B"),
                                 ("漢" * 400, "the limit is 1000 bytes"),
                                 ("a\nb", "control character U+000A")):
        reply = await post("/start", workflow_type="Sink", task_queue=IDLE,
                           workflow_id=workflow_id)
        assert reply.status in (400, 422) and message in html.unescape(reply.text), reply.text
    for field in ("workflow_type", "task_queue"):
        reply = await post("/start", **{"workflow_type": "Sink", "task_queue": IDLE,
                                        "workflow_id": "ok", field: "x" * 1001})
        assert reply.status == 422 and "the limit is 1000 bytes" in reply.text, reply.text
    for args in ("NaN", "[1, Infinity]", "1e400"):
        reply = await post("/start", workflow_type="Sink", task_queue=IDLE, workflow_id="ok",
                           args=args)
        assert reply.status == 422 and "arguments" in reply.text, reply.text
    for timeout in ("inf", "nan", "-1", "1e400"):
        reply = await post("/start", workflow_type="Sink", task_queue=IDLE, workflow_id="ok",
                           execution_timeout=timeout)
        assert reply.status == 422 and "execution timeout" in reply.text, reply.text
    assert (await client.count_workflows()).count == 0

    handle = await client.start_workflow("Sink", id="form-target", task_queue=IDLE)
    for name in ("sig\x1b]0;x\x07", "a" * 1001, "two\nlines"):
        reply = await post("/workflows/form-target/signal", name=name)
        assert reply.status == 422 and "signal name" in html.unescape(reply.text), reply.text
        assert "\x1b" not in reply.text
    assert (await handle.describe()).pending_events == 0
    await _intact(client)


# -- 2. NaN and Infinity ----------------------------------------------------------------------

@workflow.defn
class NotANumber:
    @workflow.run
    async def run(self) -> list[float]:
        return [math.nan, math.inf]


@BOTH_STORES
async def test_nan_and_infinity_are_refused_at_the_door_and_readable_when_stored(
        server: RunningServer, client: Client, task_queue: str) -> None:
    raw = b'{"workflow_type": "Sink", "task_queue": "q", "workflow_id": "f", "args": [1e400]}'
    reply = await server.arequest("POST", "/api/workflows", raw=raw)
    assert reply.status == 400 and "too large" in reply.json()["error"]["message"]
    for value in (math.nan, [1, {"x": math.inf}], -math.inf):
        with pytest.raises(ValueError, match="not a JSON number"):
            await client.start_workflow("Sink", value, id="nan", task_queue=IDLE)
    handle = await client.start_workflow("Sink", id="target", task_queue=IDLE)
    page = await server.arequest("GET", "/workflows/target")
    token = html.unescape(_CSRF.search(page.text).group(1))  # type: ignore[union-attr]
    cookie = page.headers["set-cookie"].split(";", 1)[0]
    for args in ("NaN", "[1, Infinity]", "-Infinity"):
        form = await server.arequest(
            "POST", "/workflows/target/signal", content_type=_FORM,
            raw=f"csrf_token={token}&name=s&args={args}".encode(), headers={"Cookie": cookie})
        assert form.status == 422 and "not a JSON number" in form.text, form.text
    assert (await handle.describe()).pending_events == 0

    # A workflow's own result may hold NaN (workers do not refuse it): it stays readable.
    async with Worker(client, task_queue=task_queue, workflows=[NotANumber]):
        result = await client.execute_workflow(NotANumber.run, id="nan-result",
                                               task_queue=task_queue)
    assert math.isnan(result[0])
    described = await server.arequest("GET", "/api/workflows/nan-result")
    assert described.status == 200 and described.json()["result"] == ["NaN", "Infinity"]
    history = await server.arequest("GET", "/api/workflows/nan-result/history")
    assert history.status == 200
    json.loads(history.text, parse_constant=_no_constants)  # strict JSON
    assert (await server.arequest("GET", "/workflows/nan-result")).status == 200
    await _intact(client)


def _no_constants(name: str) -> Any:
    raise AssertionError(f"{name} in a response")


# -- 3. blocking the server -------------------------------------------------------------------

async def test_large_requests_do_not_hold_up_other_requests(server: RunningServer,
                                                            client: Client) -> None:
    deep = b'{"workflow_type": "S", "task_queue": "q", "workflow_id": "d", "args": ' + \
        b"[" * 1_500_000 + b"]" * 1_500_000 + b"}"
    reply = await server.arequest("POST", "/api/workflows", raw=deep)
    assert reply.status == 400 and "nested too deeply" in reply.text

    # 1.9 million small numbers: seconds of conversion, in a thread; health answers meanwhile.
    wide = json.dumps({"workflow_type": "S", "task_queue": IDLE, "workflow_id": "wide",
                       "args": [[0] * 1_900_000]}, separators=(",", ":")).encode()
    finished: dict[str, float] = {}

    def big() -> None:
        answer = server.request("POST", "/api/workflows", raw=wide)
        finished["big"] = time.monotonic()
        finished["status"] = answer.status

    thread = threading.Thread(target=big)
    thread.start()
    health_done: list[float] = []
    while thread.is_alive():
        assert server.request("GET", "/api/health").status == 200
        health_done.append(time.monotonic())
    thread.join()
    assert finished["status"] == 422  # 3.8 MB once encoded: past the payload limit
    assert any(t < finished["big"] for t in health_done), "health waited for the big request"
    await _intact(client)


@BOTH_STORES
async def test_pages_show_large_payloads_clipped_with_a_link_to_the_whole(
        server: RunningServer, client: Client) -> None:
    value = {"text": "".join(random.choices("abcdefgh", k=1_500_000))}
    await client.start_workflow("Sink", value, id="large", task_queue=IDLE)
    page = await server.arequest("GET", "/workflows/large")
    assert page.status == 200 and len(page.body) < 200_000
    link = re.search(r'class="full-value" href="([^"]+)"', page.text)
    assert link is not None
    whole = await server.arequest("GET", html.unescape(link.group(1)))
    assert whole.status == 200 and whole.headers["content-type"] == "application/json"
    assert json.loads(whole.body) == [value]
    await _intact(client)


async def test_a_stored_fifty_megabyte_payload_renders_a_small_page(
        server: RunningServer, client: Client) -> None:
    # Past the 2 MB limit no door takes it any more; a run stored before the limit (planted
    # straight into the store here) still gets a page of bounded size.
    await _plant(client, "fifty", "x" * (50 * 1024 * 1024))
    page = await server.arequest("GET", "/workflows/fifty")
    assert page.status == 200 and len(page.body) < 200_000
    assert 'class="full-value"' in page.text
    await _intact(client)


# -- 4. auth ----------------------------------------------------------------------------------

@pytest.fixture
def guarded(db_url: str, client: Client) -> Iterator[RunningServer]:
    running = start_server(db_url, api_token=TOKEN)
    try:
        yield running
    finally:
        running.stop()


def _login_page(server: RunningServer) -> tuple[str, str]:
    page = server.request("GET", "/login", token="")
    token = html.unescape(_CSRF.search(page.text).group(1))  # type: ignore[union-attr]
    return token, page.headers["set-cookie"].split(";", 1)[0]


def test_session_cookie_is_derived_from_the_token_and_expires(guarded: RunningServer) -> None:
    csrf, nonce = _login_page(guarded)
    right = guarded.request("POST", "/login", raw=f"csrf_token={csrf}&token={TOKEN}".encode(),
                            content_type=_FORM, token="", headers={"Cookie": nonce})
    cookie = right.headers["set-cookie"]
    value = cookie.split(";", 1)[0].split("=", 1)[1]
    assert TOKEN not in cookie and "Max-Age=43200" in cookie and "HttpOnly" in cookie
    session = f"stalwart_session={value}; {nonce}"
    assert guarded.request("GET", "/", token="", headers={"Cookie": session}).status == 200
    # The token as a cookie (what the server used to set) is no longer a session.
    assert guarded.request("GET", "/", token="",
                           headers={"Cookie": f"stalwart_session={TOKEN}"}).status == 303
    expires, nonce_part, mac = value.split(".")
    forged = f"{int(expires) + 3600}.{nonce_part}.{mac}"
    assert guarded.request("GET", "/", token="",
                           headers={"Cookie": f"stalwart_session={forged}"}).status == 303
    keys = Secrets(TOKEN)
    assert keys.session_ok(value) and not keys.session_ok(value, now=int(expires) + 1)
    assert not Secrets(TOKEN + "-rotated").session_ok(value)


def test_behind_tls_the_session_cookie_is_host_prefixed_and_secure(
        guarded: RunningServer) -> None:
    # A TLS-terminating proxy on the same host says so in X-Forwarded-Proto (uvicorn trusts it
    # from loopback only); the request's scheme is then https.
    tls = {"X-Forwarded-Proto": "https"}
    page = guarded.request("GET", "/login", token="", headers=tls)
    assert "Secure" in page.headers["set-cookie"]
    csrf = html.unescape(_CSRF.search(page.text).group(1))  # type: ignore[union-attr]
    nonce = page.headers["set-cookie"].split(";", 1)[0]
    right = guarded.request("POST", "/login", raw=f"csrf_token={csrf}&token={TOKEN}".encode(),
                            content_type=_FORM, token="", headers={"Cookie": nonce, **tls})
    cookie = right.headers["set-cookie"]
    assert right.status == 303 and cookie.startswith("__Host-stalwart_session=")
    assert "Secure" in cookie and "Path=/" in cookie and "Domain" not in cookie
    value = cookie.split(";", 1)[0].split("=", 1)[1]
    assert guarded.request("GET", "/", token="", headers={
        "Cookie": f"__Host-stalwart_session={value}", **tls}).status == 200
    # Over TLS the unprefixed name, which a sibling host could set, is no session.
    assert guarded.request("GET", "/", token="", headers={
        "Cookie": f"stalwart_session={value}", **tls}).status == 303


def test_weak_tokens_are_refused_and_a_generated_one_is_printed_once() -> None:
    for weak in ("1", "password", "aaaaaaaaaaaaaaaaaaaaaaaa", "abcabcabcabcabcabc"):
        with pytest.raises(ValueError, match="too weak"):
            ServerConfig(api_token=weak).check()
    ServerConfig(api_token=TOKEN).check()


def test_wrong_tokens_are_rate_limited_per_address(guarded: RunningServer) -> None:
    answers = [guarded.request("GET", "/api/workflows", token=f"wrong-{i}").status
               for i in range(11)]
    assert answers[:10] == [401] * 10 and answers[10] == 429
    locked = guarded.request("GET", "/api/workflows", token=TOKEN)
    assert locked.status == 429 and int(locked.headers["retry-after"]) >= 1
    csrf, nonce = _login_page(guarded)
    form = guarded.request("POST", "/login", raw=f"csrf_token={csrf}&token={TOKEN}".encode(),
                           content_type=_FORM, token="", headers={"Cookie": nonce})
    assert form.status == 429 and "Too many" in form.text
    limiter = FailureLimiter(max_failures=2, window=60)
    limiter.fail("a", now=0)
    limiter.fail("a", now=1)
    assert limiter.retry_after("a", now=2) == 58 and limiter.retry_after("b", now=2) is None
    assert limiter.retry_after("a", now=61) is None


async def test_csrf_tokens_are_bound_to_the_browser_and_the_server_secret(
        server: RunningServer, client: Client) -> None:
    await client.start_workflow("Sink", id="csrf", task_queue=IDLE)
    mine = await server.arequest("GET", "/workflows/csrf")
    token = html.unescape(_CSRF.search(mine.text).group(1))  # type: ignore[union-attr]
    # An attacker who can plant cookies plants their own nonce with my (stolen) token, or
    # a nonce/token pair they made up: neither passes without the server's secret.
    for cookie, form_token in (("stalwart_csrf=" + "n" * 43, token),
                               ("stalwart_csrf=" + "n" * 43, "n" * 43)):
        reply = await server.arequest(
            "POST", "/workflows/csrf/signal", raw=f"csrf_token={form_token}&name=x".encode(),
            content_type=_FORM, headers={"Cookie": cookie})
        assert reply.status == 403
    assert (await client.get_workflow_handle("csrf").describe()).pending_events == 0


async def test_notices_are_fixed_texts_chosen_by_code(server: RunningServer,
                                                      client: Client) -> None:
    await client.start_workflow("Sink", id="notice", task_queue=IDLE)
    for query in ("?error=Your+account+is+locked%2C+call+555-0100",
                  "?notice=Your+account+is+locked%2C+call+555-0100"):
        page = await server.arequest("GET", f"/workflows/notice{query}")
        assert page.status == 200 and "555-0100" not in page.text
    page = await server.arequest("GET", "/workflows/notice?notice=terminated")
    assert "Workflow terminated." in page.text


async def test_slow_headers_are_cut_off_and_connections_are_bounded(
        db_url: str, client: Client) -> None:
    server = make_server(ServerConfig(url=db_url, port=0, header_timeout=0.5,
                                      max_connections=2))
    sock = bind_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    serving = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            assert not serving.done()
            await asyncio.sleep(0.01)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /api/health HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        await writer.drain()
        # The server closes the connection once the head is overdue (a deadline of 30 s
        # here only keeps a broken server from hanging the test).
        assert await asyncio.wait_for(reader.read(), 30) == b""
        writer.close()
        # Two idle connections take both slots: a third request is turned away with 503.
        idle = [await asyncio.open_connection("127.0.0.1", port) for _ in range(2)]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /api/health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        await writer.drain()
        head = await asyncio.wait_for(reader.readline(), 30)
        assert head.startswith(b"HTTP/1.1 503"), head
        writer.close()
        for _, idle_writer in idle:
            idle_writer.close()
    finally:
        server.should_exit = True
        await serving
        sock.close()
