"""External storage (``converter.ExternalStorage`` with the built-in local-directory driver)
on both stores: large payloads go to files and history holds references; a codec still
applies; a new worker (nothing in memory) replays from references; the HTTP API shows the
payloads whole."""

from __future__ import annotations

import asyncio
import json
import uuid
import zlib
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import pytest

from stalwart import activity, workflow
from stalwart.client import Client
from stalwart.converter import (
    DataConverter,
    ExternalStorage,
    LocalDirectoryStorageDriver,
    Payload,
    PayloadCodec,
    StorageDriver,
    StorageDriverActivityInfo,
    StorageDriverClaim,
    StorageDriverRetrieveContext,
    StorageDriverStoreContext,
    StorageDriverWorkflowInfo,
)
from stalwart.worker import Replayer, Worker
from tests.server._support import start_server, wid

THRESHOLD = 4096
BIG = 40_000
RESULT_TIMEOUT = 60.0


@activity.defn
async def shout(text: str) -> str:
    return text.upper()


@workflow.defn
class BigPayloads:
    def __init__(self) -> None:
        self.go_on = False

    @workflow.run
    async def run(self, text: str) -> str:
        first = await workflow.execute_activity(shout, text,
                                                start_to_close_timeout=timedelta(seconds=30))
        await workflow.wait_condition(lambda: self.go_on)
        second = await workflow.execute_activity(shout, first + "!",
                                                 start_to_close_timeout=timedelta(seconds=30))
        return second

    @workflow.signal
    def proceed(self) -> None:
        self.go_on = True


class ZlibCodec(PayloadCodec):
    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [Payload({"encoding": b"binary/zlib"},
                        zlib.compress(json.dumps({"m": {k: v.decode("latin-1") for k, v in
                                                        p.metadata.items()},
                                                  "d": p.data.decode("latin-1")}).encode(), 0))
                for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        out = []
        for p in payloads:
            if p.metadata.get("encoding") != b"binary/zlib":
                out.append(p)
                continue
            raw = json.loads(zlib.decompress(p.data))
            out.append(Payload({k: v.encode("latin-1") for k, v in raw["m"].items()},
                               raw["d"].encode("latin-1")))
        return out


def _converter(directory: Path, codec: PayloadCodec | None = None) -> DataConverter:
    return DataConverter(payload_codec=codec, external_storage=ExternalStorage(
        [LocalDirectoryStorageDriver(directory)], payload_size_threshold=THRESHOLD))


def _text() -> str:
    return "".join(f"item{i:06d} " for i in range(BIG // 11))


@pytest.mark.parametrize("with_codec", [False, True], ids=["plain", "codec"])
async def test_large_payloads_live_in_the_directory_and_a_new_worker_reads_them(
        db_url: str, task_queue: str, tmp_path: Path, with_codec: bool) -> None:
    directory = tmp_path / "payloads"
    codec = ZlibCodec() if with_codec else None
    text = _text()
    workflow_id = f"big-{uuid.uuid4().hex[:8]}"
    first_client = await Client.connect(db_url, data_converter=_converter(directory, codec))
    try:
        async with Worker(first_client, task_queue=task_queue, workflows=[BigPayloads],
                          activities=[shout]):
            handle = await first_client.start_workflow(BigPayloads.run, text, id=workflow_id,
                                                       task_queue=task_queue)

            async def first_step_done() -> bool:
                history = await handle.fetch_history()
                return any(e.event_type == "ActivityTaskCompleted" for e in history.events)

            deadline = asyncio.get_running_loop().time() + RESULT_TIMEOUT
            while not await first_step_done():
                assert asyncio.get_running_loop().time() < deadline, "first step never ran"
                await asyncio.sleep(0.05)
    finally:
        await first_client.close()

    files = [p for p in directory.rglob("*") if p.is_file()]
    # The workflow's input and the activity's (the same bytes: one file), and its result.
    assert len(files) == 2
    if with_codec:
        # What the driver holds is what the codec made.
        assert all(b"binary/zlib" in base64_metadata(f) for f in files)
    # The store's rows hold references, never the text.
    probe = await Client.connect(db_url)
    try:
        rows = await probe.store.fetch_sql(
            "SELECT attributes FROM history h JOIN executions e ON e.run_id = h.run_id "
            "WHERE e.workflow_id = ?", (workflow_id,))
        stored = "".join(str(r[0]) for r in rows)
        assert "item000100" not in stored and "ITEM000100" not in stored
        assert "ExternalStorageReference" in stored
    finally:
        await probe.close()

    # A new process's worker: a fresh client, a fresh driver on the same directory.
    second_client = await Client.connect(db_url, data_converter=_converter(directory, codec))
    try:
        async with Worker(second_client, task_queue=task_queue, workflows=[BigPayloads],
                          activities=[shout]):
            handle = second_client.get_workflow_handle(workflow_id)
            await handle.signal(BigPayloads.proceed)
            result = await asyncio.wait_for(handle.result(), RESULT_TIMEOUT)
        assert result == text.upper() + "!"
        history = await handle.fetch_history()
        await Replayer(workflows=[BigPayloads],
                       data_converter=_converter(directory, codec)).replay_workflow(history)
    finally:
        await second_client.close()


def base64_metadata(path: Path) -> bytes:
    import base64
    header = path.read_bytes().split(b"\n")[1]
    return b"".join(base64.b64decode(v) for v in json.loads(header).values())


async def test_the_api_shows_externally_stored_payloads_whole(
        db_url: str, client: Client, task_queue: str, tmp_path: Path) -> None:
    directory = tmp_path / "payloads"
    text = _text()
    workflow_id = f"big-{uuid.uuid4().hex[:8]}"
    storing = await Client.connect(db_url, data_converter=_converter(directory))
    try:
        async with Worker(storing, task_queue=task_queue, workflows=[BigPayloads],
                          activities=[shout]):
            handle = await storing.start_workflow(BigPayloads.run, text, id=workflow_id,
                                                  task_queue=task_queue)
            await handle.signal(BigPayloads.proceed)
            await asyncio.wait_for(handle.result(), RESULT_TIMEOUT)
    finally:
        await storing.close()
    server = start_server(db_url, external_storage_dir=str(directory))
    blind = start_server(db_url)
    try:
        history_path = f"/api/workflows/{wid(workflow_id)}/history?limit=1000"
        reply = await server.arequest("GET", history_path)
        assert reply.status == 200, reply.text
        assert text in json.dumps(reply.json()) and text.upper() + "!" in json.dumps(
            reply.json())
        # The UI's page links each clipped payload to its whole value, fetched on demand.
        events = (await server.arequest("GET", history_path)).json()["events"]
        scheduled = await _temporal_event_id(db_url, workflow_id, "ActivityTaskScheduled")
        page = await server.arequest(
            "GET", f"/workflows/{wid(workflow_id)}/payload?event_id={scheduled}")
        assert page.status == 200, page.text
        assert text in page.text
        assert events
        # Without the driver the server shows what the store holds: the references.
        reply = await blind.arequest("GET", history_path)
        assert reply.status == 200
        assert text not in json.dumps(reply.json())
    finally:
        server.stop()
        blind.stop()


async def _temporal_event_id(db_url: str, workflow_id: str, event_type: str) -> int:
    reader = await Client.connect(db_url)
    try:
        history = await reader.get_workflow_handle(workflow_id).fetch_history()
    finally:
        await reader.close()
    return next(e.event_id for e in history.events if e.event_type == event_type)


class _Recording(StorageDriver):
    def __init__(self) -> None:
        self.contexts: list[StorageDriverStoreContext] = []
        self.kept: dict[str, Payload] = {}

    def name(self) -> str:
        return "recording"

    async def store(self, context: StorageDriverStoreContext,
                    payloads: Sequence[Payload]) -> list[StorageDriverClaim]:
        self.contexts.append(context)
        claims = []
        for payload in payloads:
            key = str(len(self.kept))
            self.kept[key] = payload
            claims.append(StorageDriverClaim({"key": key}))
        return claims

    async def retrieve(self, context: StorageDriverRetrieveContext,
                       claims: Sequence[StorageDriverClaim]) -> list[Payload]:
        return [self.kept[c.claim_data["key"]] for c in claims]


async def test_a_driver_is_told_which_workflow_it_stores_for(
        db_url: str, task_queue: str) -> None:
    driver = _Recording()
    converter = DataConverter(external_storage=ExternalStorage(
        [driver], payload_size_threshold=THRESHOLD))
    client = await Client.connect(db_url, data_converter=converter)
    try:
        async with Worker(client, task_queue=task_queue, workflows=[BigPayloads],
                          activities=[shout]):
            handle = await client.start_workflow(BigPayloads.run, _text(),
                                                 id=f"ctx-{uuid.uuid4().hex[:8]}",
                                                 task_queue=task_queue)
            await handle.signal(BigPayloads.proceed)
            await asyncio.wait_for(handle.result(), RESULT_TIMEOUT)
    finally:
        await client.close()
    targets = [c.target for c in driver.contexts]
    assert StorageDriverWorkflowInfo(namespace="default", id=handle.id,
                                     run_id=handle.result_run_id,
                                     type="BigPayloads") in targets
    # An activity's result is stored for the activity.
    assert any(isinstance(t, StorageDriverActivityInfo) and t.type == "shout"
               and t.namespace == "default" for t in targets)


def test_bad_configurations_are_named() -> None:
    with pytest.raises(ValueError, match="drivers is empty"):
        ExternalStorage([])
    with pytest.raises(ValueError, match="payload_size_threshold is -1"):
        ExternalStorage([_Recording()], payload_size_threshold=-1)
    with pytest.raises(ValueError, match="two drivers named 'recording'"):
        ExternalStorage([_Recording(), _Recording()], driver_selector=lambda c, p: None)
    with pytest.raises(ValueError, match="no driver_selector"):
        ExternalStorage([_Recording(), LocalDirectoryStorageDriver("/tmp/x")])


async def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    driver = LocalDirectoryStorageDriver(tmp_path)
    storage = ExternalStorage([driver], payload_size_threshold=0)
    [reference] = await storage.store_payloads([Payload({"encoding": b"json/plain"}, b"1")])
    for path in tmp_path.rglob("*"):
        if path.is_file():
            path.unlink()
    with pytest.raises(FileNotFoundError, match="is missing from"):
        await storage.retrieve_payloads([reference])
