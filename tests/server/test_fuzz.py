"""Malformed requests against every operation of the OpenAPI document: no 500s, only the
documented error answers, and the store works afterwards.

The generator reads the served document: for each operation it fills path and query
parameters and bodies from the declared schemas, then breaks them (wrong types, missing and
unknown fields, huge and non-finite numbers, lone surrogates, deep nesting, bad encodings).
"""

from __future__ import annotations

import json
import logging
import random
import sqlite3
from typing import Any
from urllib.parse import quote

import pytest

from stalwart.client import Client
from stalwart.worker import Worker

from ._support import Reply, RunningServer, wid

IDLE_QUEUE = "fuzz-idle"  # no worker polls it: fuzzed starts and signals stay inert
TARGETS = [f"fuzz-target-{i}" for i in range(6)]
SEED = 20250131
PER_OPERATION = 60

_WEIRD_IDS = ["missing", "%00", "%ff%fe", "..%2F..", "a" * 3000, "%ED%A0%80", "%C3%BC",
              "%", "%zz", "a/b", "%2F", "%20", "~!$&'()*+,;=:@", "%2e%2e"]
_WEIRD_QUERY = ["", "-1", "0", "1", "abc", "1e999", "nan", "inf", "-inf",
                "99999999999999999999999999", "%00", "%ff", "%ED%A0%80", "2024-13-45",
                "2024-01-01T00:00:00", "2024-01-01T00:00:00%2B99:00", "1" * 400, "x" * 2000,
                "%5B%5D", "true", "RUNNING", "running", "0x10", "1.5", "+5", "%20"]
_RAW_BODIES = [b"", b"{", b"}", b"null", b"[]", b"\"text\"", b"42", b"\xff\xfe\x00",
               b'{"a": NaN}', b'{"a": Infinity}', b'{"a": -Infinity}', b"[" * 50_000,
               b'{"name": "\\ud800"}', b'{"name": "ok", "args": ["\\udfff"]}',
               b'{"name": 1e999}', b'{"a": 1' + b"0" * 5000 + b"}", b"{}" * 3,
               b"\xef\xbb\xbf{}", b'{"name": "x", "name": 5}']


def _json_values(rng: random.Random) -> Any:
    pool: list[Any] = [None, True, False, 0, -1, 1.5, 0.2, 1e308, -1e308, 10**30, "", "x",
                       "x" * 2000, "<script>", [], {}, [1, "two", None], {"k": {"k": [1]}},
                       {"metadata": {"encoding": "json/plain"}, "data": "1"}]
    value = rng.choice(pool)
    if rng.random() < 0.05:
        nested: Any = 1
        for _ in range(rng.choice([10, 70, 200])):
            nested = [nested]
        return nested
    return value


def _valid(schema: dict[str, Any], name: str, doc: dict[str, Any], rng: random.Random) -> Any:
    if "$ref" in schema:
        return _valid(doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]], name,
                      doc, rng)
    if "enum" in schema:
        return rng.choice(schema["enum"])
    kind = schema.get("type")
    if isinstance(kind, list):
        # A nullable field ("type": ["number", "null"]): a value, since null means the default
        # (for a query or update timeout, a 10-30 s wait).
        kind = next((k for k in kind if k != "null"), None)
    if kind == "object":
        props = schema.get("properties", {})
        out = {}
        for prop, sub in props.items():
            # A timeout is always set: without it a query or update waits its 10-30 s default.
            if prop in schema.get("required", []) or prop == "timeout" or rng.random() < 0.5:
                out[prop] = _valid(sub, prop, doc, rng)
        return out
    if kind == "array":
        return [_json_values(rng) for _ in range(rng.randint(0, 3))]
    if kind == "number":
        # Short waits: queries and updates against runs no worker polls time out quickly.
        return rng.choice([0.2, 0.3])
    if kind == "integer":
        return rng.randint(0, 5)
    if kind == "string":
        return {"name": rng.choice(["note", "state", "rename", "finish", "nope"]),
                "task_queue": IDLE_QUEUE,
                "workflow_id": rng.choice([*TARGETS, "fuzz-new"]),
                "workflow_type": rng.choice(["Greeter", "NoSuchType"]),
                "reason": "fuzz"}.get(name, "fuzz")
    return None


def _mutate(body: Any, schema_props: dict[str, Any], rng: random.Random) -> Any:
    if not isinstance(body, dict) or rng.random() < 0.1:
        return _json_values(rng)
    body = dict(body)
    for _ in range(rng.randint(1, 3)):
        choice = rng.random()
        if choice < 0.5 and schema_props:
            field = rng.choice(sorted(schema_props))
            value = _json_values(rng)
            # Any value but a null timeout (the 10-30 s default, as when it is dropped).
            if not (field == "timeout" and value is None):
                body[field] = value
        elif choice < 0.7 and body:
            # Drop any field but a timeout: a missing timeout means the 10-30 s default.
            droppable = [k for k in body if k != "timeout"]
            if droppable:
                del body[rng.choice(droppable)]
        elif choice < 0.85:
            body[rng.choice(["zzz", "Name", "ARGS", "", "workflow id"])] = _json_values(rng)
        else:
            body[rng.choice(sorted(schema_props) or ["x"])] = "x" * rng.choice([1001, 20_000])
    return body


def _requests(doc: dict[str, Any], rng: random.Random
              ) -> list[tuple[str, str, str, str, dict[str, Any]]]:
    out: list[tuple[str, str, str, str, dict[str, Any]]] = []
    for template, item in doc["paths"].items():
        for method, operation in item.items():
            for _ in range(PER_OPERATION):
                path = template
                segment = ""
                if "{workflow_id}" in path:
                    if rng.random() < 0.5:
                        segment = wid(rng.choice(TARGETS))
                    else:
                        segment = rng.choice(_WEIRD_IDS)
                    path = path.replace("{workflow_id}", segment)
                params = []
                for param in operation.get("parameters", []):
                    if param["in"] != "query" or rng.random() < 0.4:
                        continue
                    if rng.random() < 0.3:
                        value = quote(str(_valid(param["schema"], param["name"], doc, rng)))
                    else:
                        value = rng.choice(_WEIRD_QUERY)
                    params.append(f"{param['name']}={value}")
                if rng.random() < 0.2:
                    params.append(rng.choice(["zzz=1", "limit=1&limit=x", "&&", "=", "a=%"]))
                if params:
                    path += "?" + "&".join(params)
                kwargs: dict[str, Any] = {}
                if "requestBody" in operation:
                    schema = operation["requestBody"]["content"]["application/json"]["schema"]
                    resolved = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
                    roll = rng.random()
                    if roll < 0.25:
                        kwargs["raw"] = rng.choice(_RAW_BODIES)
                    else:
                        body = _valid(schema, "", doc, rng)
                        if roll < 0.9:
                            body = _mutate(body, resolved.get("properties", {}), rng)
                        kwargs["raw"] = json.dumps(body).encode()
                    if rng.random() < 0.1:
                        kwargs["content_type"] = rng.choice(
                            [None, "text/plain", "application/json; charset=latin-1",
                             "APPLICATION/JSON", "application/x-www-form-urlencoded"])
                out.append((method.upper(), template, segment, path, kwargs))
    return out


def _declared(doc: dict[str, Any], method: str, template: str, segment: str) -> set[int]:
    statuses = {int(s) for s in doc["paths"][template][method.lower()]["responses"]}
    if "/" in segment:
        # An id holding a raw '/' routes to another place: 404 or 405 there.
        statuses |= {404, 405}
    return statuses


# Some 16 operations, each with many requests: more than the default timeout on a busy machine.
@pytest.mark.timeout(360)
async def test_fuzz_every_operation_never_answers_500(
        server: RunningServer, client: Client, worker: Worker, task_queue: str,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="stalwart._server")
    doc = (await server.arequest("GET", "/api/openapi.json")).json()
    for target in TARGETS:
        await client.start_workflow("Greeter", "fuzz", id=target, task_queue=IDLE_QUEUE)
    rng = random.Random(SEED)
    requests = _requests(doc, rng)
    assert len(requests) == PER_OPERATION * sum(len(item) for item in doc["paths"].values())
    seen_statuses: set[int] = set()
    for method, template, segment, path, kwargs in requests:
        reply: Reply = await server.arequest(method, path, None, **kwargs)
        seen_statuses.add(reply.status)
        described = f"{method} {path[:150]} {str(kwargs)[:200]} -> {reply.status} " \
                    f"{reply.text[:300]}"
        assert reply.status < 500 or reply.status == 504, described
        assert reply.status in _declared(doc, method, template, segment), described
        if reply.status >= 400:
            error = reply.json()["error"]
            assert isinstance(error["code"], str) and isinstance(error["message"], str)
    # The generator did reach past validation, not only into it.
    assert {200, 400, 404, 415, 422}.issubset(seen_statuses), seen_statuses
    assert not [r for r in caplog.records if r.name.startswith("stalwart._server")]

    # And the store is still sound and usable through the same server.
    path = client.store.url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    started = await server.arequest("POST", "/api/workflows", {
        "workflow_type": "Greeter", "task_queue": task_queue, "workflow_id": "after-fuzz",
        "args": ["Ada"]})
    assert started.status == 201, started.text
    signaled = await server.arequest("POST", "/api/workflows/after-fuzz/signal",
                                     {"name": "finish", "args": ["still fine"]})
    assert signaled.status == 202
    result = await client.get_workflow_handle("after-fuzz").result()
    assert result["finished_with"] == "still fine"
