"""The JSON API over real HTTP: a real server thread, a real worker, a real SQLite file."""

from __future__ import annotations

import time
from typing import Any

from stalwart.client import Client, WorkflowExecutionStatus
from stalwart.worker import Worker
from tests.helpers.waiting import eventually

from ._support import Reply, RunningServer, wid


async def _start(server: RunningServer, workflow_id: str, task_queue: str,
                 workflow_type: str = "Greeter", args: list[Any] | None = None) -> Reply:
    reply = await server.arequest("POST", "/api/workflows", {
        "workflow_type": workflow_type, "task_queue": task_queue, "workflow_id": workflow_id,
        "args": ["Ada"] if args is None else args})
    assert reply.status == 201, reply.text
    return reply


async def _status_is(server: RunningServer, workflow_id: str, status: str) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        reply = await server.arequest("GET", f"/api/workflows/{wid(workflow_id)}")
        data: dict[str, Any] = reply.json()
        return data if data.get("status") == status else None

    found: dict[str, Any] = await eventually(check, timeout=20, what=f"{workflow_id} {status}")
    return found


async def _history_types(server: RunningServer, workflow_id: str) -> list[str]:
    reply = await server.arequest("GET", f"/api/workflows/{wid(workflow_id)}/history?limit=1000")
    return [e["event_type"] for e in reply.json()["events"]]


async def test_api_start_signal_and_describe_result(server: RunningServer, worker: Worker,
                                                     task_queue: str) -> None:
    started = (await _start(server, "greet-1", task_queue)).json()
    assert started["workflow_id"] == "greet-1" and started["run_id"]

    async def greeted() -> bool:
        return "ActivityTaskCompleted" in await _history_types(server, "greet-1")

    await eventually(greeted, what="the greet activity")
    reply = await server.arequest("POST", "/api/workflows/greet-1/signal",
                                  {"name": "finish", "args": ["done"]})
    assert reply.status == 202, reply.text
    described = await _status_is(server, "greet-1", "COMPLETED")
    assert described["run_id"] == started["run_id"]
    assert described["input"] == ["Ada"]
    assert described["result"] == {"greeting": "Hello, Ada!", "finished_with": "done",
                                   "notes": []}
    assert described["close_time"] is not None
    assert described["pending_activities"] == [] and described["pending_events"] == []


async def test_api_start_twice_is_409(server: RunningServer, task_queue: str) -> None:
    await _start(server, "twice", task_queue)
    reply = await server.arequest("POST", "/api/workflows", {
        "workflow_type": "Greeter", "task_queue": task_queue, "workflow_id": "twice"})
    assert reply.status == 409
    assert reply.error_code == "already_started"
    assert "twice" in reply.json()["error"]["message"]


async def test_api_start_with_policies_and_timeout(server: RunningServer, client: Client,
                                                   task_queue: str) -> None:
    reply = await server.arequest("POST", "/api/workflows", {
        "workflow_type": "Greeter", "task_queue": task_queue, "workflow_id": "policy",
        "args": ["x"], "execution_timeout": 3600, "run_timeout": 600, "task_timeout": 7.5,
        "id_reuse_policy": "REJECT_DUPLICATE", "id_conflict_policy": "FAIL"})
    assert reply.status == 201, reply.text
    history = await client.get_workflow_handle("policy").fetch_history()
    started = history.events[0].attributes
    assert started["workflowExecutionTimeout"] == "3600s"
    assert started["workflowRunTimeout"] == "600s"
    assert started["workflowTaskTimeout"] == "7.500s"


async def test_api_list_and_count_with_filters(server: RunningServer, task_queue: str) -> None:
    other_queue = task_queue + "-other"
    await _start(server, "list-a-1", task_queue)
    await _start(server, "list-a-2", task_queue)
    await _start(server, "list-b-1", other_queue, workflow_type="Fanout", args=[1])
    between = time.time()
    await eventually(lambda: _after_clock(between), what="the clock to move")
    await _start(server, "list-a-3", task_queue)
    terminated = await server.arequest("POST", "/api/workflows/list-a-1/terminate",
                                       {"reason": "filter test"})
    assert terminated.status == 200, terminated.text

    async def ids(query: str) -> list[str]:
        reply = await server.arequest("GET", f"/api/workflows?{query}")
        assert reply.status == 200, reply.text
        return [w["workflow_id"] for w in reply.json()["workflows"]]

    async def count(query: str) -> int:
        reply = await server.arequest("GET", f"/api/workflow-count?{query}")
        assert reply.status == 200, reply.text
        return int(reply.json()["count"])

    assert await ids("") == ["list-a-3", "list-b-1", "list-a-2", "list-a-1"]
    assert await count("") == 4
    assert await ids("id_prefix=list-a") == ["list-a-3", "list-a-2", "list-a-1"]
    assert await ids("workflow_type=Fanout") == ["list-b-1"]
    assert await ids(f"task_queue={other_queue}") == ["list-b-1"]
    assert await ids("status=terminated") == ["list-a-1"]
    assert await count("status=RUNNING") == 3
    assert await ids(f"started_after={between}") == ["list-a-3"]
    assert await ids(f"started_before={between}&id_prefix=list-a") == ["list-a-2", "list-a-1"]
    iso_between = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(between - 3600)) + "Z"
    assert await count(f"started_after={iso_between}") == 4
    assert await count("started_after=2999-01-01T00:00:00%2B02:00") == 0
    first = (await server.arequest("GET", "/api/workflows?limit=3")).json()
    assert len(first["workflows"]) == 3 and first["next_offset"] == 3
    rest = (await server.arequest("GET", "/api/workflows?limit=3&offset=3")).json()
    assert [w["workflow_id"] for w in rest["workflows"]] == ["list-a-1"]
    assert rest["next_offset"] is None


async def _after_clock(moment: float) -> bool:
    return time.time() > moment


async def test_api_history_pages_cover_the_whole_history(server: RunningServer, worker: Worker,
                                                         task_queue: str) -> None:
    await _start(server, "fan", task_queue, workflow_type="Fanout", args=[60])
    await _status_is(server, "fan", "COMPLETED")
    whole = (await server.arequest("GET", "/api/workflows/fan/history?limit=1000")).json()
    assert whole["history_length"] == len(whole["events"]) > 120
    after, pages, seen = 0, 0, []
    while True:
        page = (await server.arequest("GET", f"/api/workflows/fan/history?after={after}"
                                             "&limit=25")).json()
        seen += page["events"]
        pages += 1
        if page["next_after"] is None:
            break
        assert page["next_after"] == page["events"][-1]["event_id"]
        after = page["next_after"]
    assert [e["event_id"] for e in seen] == list(range(1, whole["history_length"] + 1))
    assert seen == whole["events"]
    assert pages == -(-whole["history_length"] // 25) + (whole["history_length"] % 25 == 0)
    completed = [e for e in seen if e["event_type"] == "ActivityTaskCompleted"]
    # Temporal's events: a result is a list of payloads, here one value each.
    assert sorted(e["attributes"]["result"][0] for e in completed) == list(range(60))


async def test_api_query_and_update(server: RunningServer, worker: Worker,
                                    task_queue: str) -> None:
    await _start(server, "steer", task_queue)

    async def greeted() -> Any:
        reply = await server.arequest("POST", "/api/workflows/steer/query", {"name": "state"})
        return reply.status == 200 and reply.json()["result"]["greeting"] == "Hello, Ada!"

    await eventually(greeted, what="the query to see the greeting")
    reply = await server.arequest("POST", "/api/workflows/steer/update",
                                  {"name": "rename", "args": ["Grace"], "update_id": "u-1"})
    assert reply.status == 200, reply.text
    assert reply.json() == {"update_id": "u-1", "result": "Hello again, Grace!"}
    rejected = await server.arequest("POST", "/api/workflows/steer/update",
                                     {"name": "rename", "args": [""]})
    assert rejected.status == 422 and rejected.error_code == "update_failed"
    assert "must not be empty" in rejected.json()["error"]["message"]
    unknown = await server.arequest("POST", "/api/workflows/steer/query",
                                    {"name": "no-such-query"})
    assert unknown.status == 422 and unknown.error_code == "query_failed"
    types = await _history_types(server, "steer")
    assert "WorkflowExecutionUpdateAccepted" in types
    assert "WorkflowExecutionUpdateCompleted" in types


async def test_api_query_and_update_without_worker_time_out_504(server: RunningServer,
                                                                task_queue: str) -> None:
    await _start(server, "lonely", task_queue)
    query = await server.arequest("POST", "/api/workflows/lonely/query",
                                  {"name": "state", "timeout": 0.3})
    assert query.status == 504 and query.error_code == "timeout"
    update = await server.arequest("POST", "/api/workflows/lonely/update",
                                   {"name": "rename", "args": ["x"], "timeout": 0.3})
    assert update.status == 504 and update.error_code == "timeout"
    # The smallest positive timeouts are timeouts too, not the 10 and 30 s defaults.
    for action in ("query", "update"):
        tiny = await server.arequest("POST", f"/api/workflows/lonely/{action}",
                                     {"name": "state", "timeout": 5e-324})
        assert tiny.status == 504, tiny.text
        assert "within 10 s" not in tiny.text and "within 30 s" not in tiny.text, tiny.text


async def test_api_cancel_terminate_and_closed_runs_409(server: RunningServer, worker: Worker,
                                                        task_queue: str) -> None:
    await _start(server, "to-cancel", task_queue)
    await _start(server, "to-terminate", task_queue)
    cancel = await server.arequest("POST", "/api/workflows/to-cancel/cancel", {})
    assert cancel.status == 202, cancel.text
    await _status_is(server, "to-cancel", "CANCELED")
    terminate = await server.arequest("POST", "/api/workflows/to-terminate/terminate",
                                      {"reason": "enough"})
    assert terminate.status == 200, terminate.text
    described = await _status_is(server, "to-terminate", "TERMINATED")
    assert described["failure"]["message"] == "enough"
    history = (await server.arequest("GET", "/api/workflows/to-terminate/history")).json()
    assert history["events"][-1]["event_type"] == "WorkflowExecutionTerminated"
    assert history["events"][-1]["attributes"]["reason"] == "enough"
    for action, body in (("signal", {"name": "finish", "args": ["late"]}), ("cancel", {}),
                         ("terminate", {}), ("update", {"name": "rename", "args": ["y"]})):
        reply = await server.arequest("POST", f"/api/workflows/to-terminate/{action}", body)
        assert reply.status == 409, (action, reply.text)
        assert reply.error_code == "workflow_closed"


async def test_api_describe_shows_pending_activity_attempts_and_failure(
        server: RunningServer, worker: Worker, task_queue: str) -> None:
    await _start(server, "stuck", task_queue, workflow_type="Stuck", args=[])

    async def retried() -> Any:
        data = (await server.arequest("GET", "/api/workflows/stuck")).json()
        pending = data["pending_activities"]
        return pending if pending and pending[0]["attempt"] >= 3 else None

    pending = await eventually(retried, what="the activity to be retried")
    assert pending[0]["activity_type"] == "never_ready"
    assert pending[0]["last_failure"]["message"] == "the service is not ready yet"
    assert pending[0]["scheduled_at"].endswith("Z")


async def test_api_describe_shows_signals_waiting_for_a_worker(server: RunningServer,
                                                               task_queue: str) -> None:
    await _start(server, "waiting", task_queue)
    reply = await server.arequest("POST", "/api/workflows/waiting/signal",
                                  {"name": "note", "args": ["<b>hi</b>"]})
    assert reply.status == 202
    data = (await server.arequest("GET", "/api/workflows/waiting")).json()
    assert data["status"] == "RUNNING"
    signals = [e for e in data["pending_events"] if e["event_type"] ==
               "WorkflowExecutionSignaled"]
    assert signals and signals[0]["attributes"]["signal_name"] == "note"
    assert signals[0]["attributes"]["input"] == ["<b>hi</b>"]


async def test_api_runs_of_a_workflow_id_by_run_id(server: RunningServer, worker: Worker,
                                                   task_queue: str) -> None:
    first = (await _start(server, "family", task_queue, workflow_type="Family",
                          args=[1])).json()
    done = await _status_is(server, "family", "COMPLETED")
    assert done["run_id"] != first["run_id"]
    assert done["continued_from_run_id"] == first["run_id"]
    old = (await server.arequest("GET", f"/api/workflows/family?run_id={first['run_id']}")
           ).json()
    assert old["status"] == "CONTINUED_AS_NEW"
    assert old["continued_as_new_run_id"] == done["run_id"]
    child = (await server.arequest("GET", "/api/workflows/family-child-1")).json()
    assert child["parent_workflow_id"] == "family"
    assert child["result"] == 42
    wrong = await server.arequest("GET", "/api/workflows/family-child-1?run_id="
                                  + first["run_id"])
    assert wrong.status == 404


async def test_api_workflow_ids_with_slashes_and_unicode(server: RunningServer,
                                                         task_queue: str) -> None:
    workflow_id = "team/日本 語?#%/ünïcode"
    await _start(server, workflow_id, task_queue)
    data = (await server.arequest("GET", f"/api/workflows/{wid(workflow_id)}")).json()
    assert data["workflow_id"] == workflow_id
    history = await server.arequest("GET", f"/api/workflows/{wid(workflow_id)}/history")
    assert history.status == 200 and history.json()["events"][0]["event_id"] == 1
    reply = await server.arequest("POST", f"/api/workflows/{wid(workflow_id)}/terminate", {})
    assert reply.status == 200
    listed = (await server.arequest("GET", "/api/workflows?id_prefix=" + wid("team/日本"))).json()
    assert [w["workflow_id"] for w in listed["workflows"]] == [workflow_id]


async def test_api_unknown_things_are_404_and_wrong_methods_405(server: RunningServer) -> None:
    for method, path, body in (
        ("GET", "/api/workflows/nope", None),
        ("GET", "/api/workflows/nope/history", None),
        ("POST", "/api/workflows/nope/signal", {"name": "x"}),
        ("POST", "/api/workflows/nope/query", {"name": "x"}),
        ("POST", "/api/workflows/nope/update", {"name": "x"}),
        ("POST", "/api/workflows/nope/cancel", {}),
        ("POST", "/api/workflows/nope/terminate", {}),
    ):
        reply = await server.arequest(method, path, body)
        assert reply.status == 404, (path, reply.text)
        assert reply.error_code == "not_found"
        assert "nope" in reply.json()["error"]["message"]
    for path in ("/api/nothing-here", "/api/workflows/x/explode", "/api/workflows/x/a/b"):
        reply = await server.arequest("GET", path)
        assert reply.status == 404 and reply.error_code == "not_found", path
    for method, path in (("DELETE", "/api/workflows"), ("POST", "/api/workflow-count"),
                         ("POST", "/api/workflows/x"), ("GET", "/api/workflows/x/signal"),
                         ("PUT", "/api/workflows/x/signal")):
        reply = await server.arequest(method, path, {})
        assert reply.status == 405, (method, path, reply.text)
        assert reply.error_code == "method_not_allowed"


async def test_api_bad_input_gets_named_400_and_422(server: RunningServer,
                                                    task_queue: str) -> None:
    start = {"workflow_type": "Greeter", "task_queue": task_queue, "workflow_id": "v"}
    cases: list[tuple[dict[str, Any], int, str, str]] = [
        ({"raw": b"{not json"}, 400, "invalid_json", ""),
        ({"raw": b"\xff\xfe"}, 400, "invalid_json", ""),
        ({"raw": b'{"workflow_type": NaN}'}, 400, "invalid_json", ""),
        ({"raw": b'{"a": "\\ud800"}'}, 400, "invalid_json", ""),
        ({"raw": b"[" * 100_000}, 400, "invalid_json", ""),
        ({"body": [1, 2]}, 422, "validation_error", ""),
        ({"body": {**start, "workflow_id": None}}, 422, "validation_error", "workflow_id"),
        ({"body": {**start, "task_queue": 7}}, 422, "validation_error", "task_queue"),
        ({"body": {**start, "workflow_type": "  "}}, 422, "validation_error", "workflow_type"),
        ({"body": {**start, "args": "Ada"}}, 422, "validation_error", "args"),
        ({"body": {**start, "execution_timeout": -1}}, 422, "validation_error",
         "execution_timeout"),
        ({"body": {**start, "execution_timeout": 10**400}}, 422, "validation_error",
         "execution_timeout"),
        ({"body": {**start, "run_timeout": 0}}, 422, "validation_error", "run_timeout"),
        ({"body": {**start, "task_timeout": "10s"}}, 422, "validation_error", "task_timeout"),
        ({"body": {**start, "id_reuse_policy": "SOMETIMES"}}, 422, "validation_error",
         "id_reuse_policy"),
        ({"body": {**start, "workflow_id": "x" * 1001}}, 422, "validation_error",
         "workflow_id"),
        ({"body": {**start, "tasq_queue": "typo"}}, 422, "validation_error", "tasq_queue"),
        ({"body": start, "content_type": "text/plain"}, 415, "unsupported_media_type", ""),
        ({"body": start, "content_type": None}, 415, "unsupported_media_type", ""),
        ({"raw": b"{" + b" " * (5 * 1024 * 1024) + b"}"}, 413, "payload_too_large", ""),
    ]
    for kwargs, status, code, field in cases:
        body = kwargs.pop("body", None)
        reply = await server.arequest("POST", "/api/workflows", body, **kwargs)
        assert reply.status == status, (kwargs, body if body is None else str(body)[:80],
                                        reply.text)
        error = reply.json()["error"]
        assert error["code"] == code
        assert error["message"]
        if field:
            assert error["field"] == field and field in error["message"]
    for query, field in (("status=sleeping", "status"), ("limit=0", "limit"),
                         ("limit=abc", "limit"), ("offset=-1", "offset"),
                         ("started_after=yesterday", "started_after"),
                         ("started_before=1e400", "started_before")):
        reply = await server.arequest("GET", f"/api/workflows?{query}")
        assert reply.status == 400, (query, reply.text)
        assert reply.json()["error"]["field"] == field
    await _start(server, "v", task_queue)
    for query, field in (("after=-5", "after"), ("after=99999999999999999999999", "after"),
                         ("limit=1001", "limit")):
        reply = await server.arequest("GET", f"/api/workflows/v/history?{query}")
        assert reply.status == 400 and reply.json()["error"]["field"] == field, query
    for action, body, field in (("signal", {}, "name"), ("signal", {"name": ""}, "name"),
                                ("query", {"name": "state", "timeout": 0}, "timeout"),
                                ("query", {"name": "state", "timeout": 301}, "timeout"),
                                ("update", {"name": "rename", "update_id": 5}, "update_id"),
                                ("terminate", {"reason": ["no"]}, "reason"),
                                ("cancel", {"reason": "not a field"}, "reason")):
        reply = await server.arequest("POST", f"/api/workflows/v/{action}", body)
        assert reply.status == 422, (action, body, reply.text)
        assert reply.json()["error"]["field"] == field


async def test_openapi_document_describes_every_api_route(server: RunningServer) -> None:
    doc = (await server.arequest("GET", "/api/openapi.json")).json()
    assert doc["openapi"].startswith("3.")
    operations = {(path, method) for path, item in doc["paths"].items() for method in item}
    assert operations == {
        ("/api/workflows", "get"), ("/api/workflows", "post"),
        ("/api/workflow-count", "get"), ("/api/workflows/{workflow_id}", "get"),
        ("/api/workflows/{workflow_id}/history", "get"),
        *{(f"/api/workflows/{{workflow_id}}/{a}", "post")
          for a in ("signal", "query", "update", "cancel", "terminate")},
        ("/api/workflows/{workflow_id}/usage", "get"), ("/api/inbox", "get"),
        ("/api/inbox/decisions", "post"),
    }
    for item in doc["paths"].values():
        for operation in item.values():
            assert operation["operationId"] and operation["responses"]
            for ref_holder in operation["responses"].values():
                schema = ref_holder["content"]["application/json"]["schema"]
                if "$ref" in schema:
                    assert schema["$ref"].rsplit("/", 1)[1] in doc["components"]["schemas"]


async def test_metrics_report_statuses_backlog_and_history_sizes(
        server: RunningServer, task_queue: str) -> None:
    await _start(server, "m-1", task_queue)
    await _start(server, "m-2", task_queue)
    assert (await server.arequest("POST", "/api/workflows/m-2/terminate", {})).status == 200
    reply = await server.arequest("GET", "/metrics")
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = _parse_metrics(reply.text)
    assert samples[('stalwart_workflow_executions{workflow_type="Greeter",'
                    'status="running"}')] == 1
    assert samples[('stalwart_workflow_executions{workflow_type="Greeter",'
                    'status="terminated"}')] == 1
    # No worker polls the queue: m-1's first workflow task waits there.
    assert samples[f'stalwart_task_queue_backlog{{task_queue="{task_queue}",'
                   'kind="workflow"}'] == 1
    assert samples["stalwart_history_length_count"] == 2
    assert samples['stalwart_history_length_bucket{le="+Inf"}'] == 2
    assert samples['stalwart_history_length_bucket{le="10"}'] == 2
    # Temporal's events: m-1 started and its first task scheduled; m-2 the same, then
    # terminated.
    assert samples["stalwart_history_length_sum"] == 5
    for line in reply.text.splitlines():
        assert line.startswith("#") or len(line.rsplit(" ", 1)) == 2


def _parse_metrics(text: str) -> dict[str, float]:
    """Samples by name and labels, the labels in the order the test writes them."""
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            if "{" in name:
                base, labels = name[:-1].split("{", 1)
                order = ["workflow_type", "status", "task_queue", "kind", "le"]
                parts = sorted(labels.split(","), key=lambda p: order.index(p.split("=")[0]))
                name = base + "{" + ",".join(parts) + "}"
            samples[name] = float(value)
    return samples


async def test_server_works_beside_other_clients_of_the_same_file(
        server: RunningServer, client: Client, worker: Worker, task_queue: str) -> None:
    handle = await client.start_workflow("Greeter", "Lin", id="beside", task_queue=task_queue)
    listed = (await server.arequest("GET", "/api/workflows?id_prefix=beside")).json()
    assert [w["run_id"] for w in listed["workflows"]] == [handle.result_run_id]
    reply = await server.arequest("POST", "/api/workflows/beside/signal",
                                  {"name": "finish", "args": ["via http"]})
    assert reply.status == 202
    result = await handle.result()
    assert result["finished_with"] == "via http"
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED


async def test_api_history_and_counts_are_temporals_events(server: RunningServer,
                                                           client: Client, worker: Worker,
                                                           task_queue: str) -> None:
    """``/history``, the describe answer and the list rows show Temporal's events and
    Temporal's history length, the same as ``fetch_history()``, for runs of every kind: an
    activity, a child and continue-as-new, a patch and local activities, an update, and
    inputs no workflow task has taken yet (no worker polls ``idle-queue``)."""
    greeter = await client.start_workflow("Greeter", "Ada", id="len-greeter",
                                          task_queue=task_queue)
    await greeter.execute_update("rename", "Bo")
    await greeter.signal("note", "waiting")
    await client.execute_workflow("Family", 1, id="len-family", task_queue=task_queue)
    await client.execute_workflow("Local", 3, id="len-local", task_queue=task_queue)
    idle = await client.start_workflow("Greeter", "Cy", id="len-idle", task_queue="idle-queue")
    await idle.signal("note", "one")
    await idle.signal("note", "two")
    ids = ["len-greeter", "len-family", "len-local", "len-idle"]

    async def same_as_fetch_history() -> bool:
        listed = (await server.arequest("GET", "/api/workflows?id_prefix=len-")).json()
        lengths = {w["workflow_id"]: w["history_length"] for w in listed["workflows"]}
        for workflow_id in ids:
            events = (await client.get_workflow_handle(workflow_id).fetch_history()).events
            api = (await server.arequest(
                "GET", f"/api/workflows/{workflow_id}/history?limit=1000")).json()
            described = (await server.arequest("GET", f"/api/workflows/{workflow_id}")).json()
            want = [str(e.event_type) for e in events]
            if [e["event_type"] for e in api["events"]] != want or \
                    [e["event_id"] for e in api["events"]] != list(range(1, len(want) + 1)):
                return False
            if not api["history_length"] == described["history_length"] == \
                    lengths[workflow_id] == len(want):
                return False
        return True

    await eventually(same_as_fetch_history, timeout=30, what="Temporal's events everywhere")
    local = (await server.arequest("GET", "/api/workflows/len-local/history")).json()
    assert [e["attributes"]["markerName"] for e in local["events"]
            if e["event_type"] == "MarkerRecorded"] == ["core_patch"] + ["core_local_activity"] * 3
    idle_types = [e["event_type"] for e in (await server.arequest(
        "GET", "/api/workflows/len-idle/history")).json()["events"]]
    assert idle_types == ["WorkflowExecutionStarted", "WorkflowTaskScheduled",
                          "WorkflowExecutionSignaled", "WorkflowExecutionSignaled"] or \
        idle_types[-1] == "WorkflowTaskScheduled", idle_types
    # The UI's list and the workflow page's status poll count the same way.
    page = (await server.arequest("GET", "/?id_prefix=len-")).text
    for workflow_id in ids:
        length = len((await client.get_workflow_handle(workflow_id).fetch_history()).events)
        status = (await server.arequest(
            "GET", f"/workflows/{workflow_id}?fragment=status")).json()
        assert status["history_length"] == length, workflow_id
        assert f'<td class="num">{length}</td>' in page, workflow_id
