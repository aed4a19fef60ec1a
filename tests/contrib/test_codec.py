"""A payload codec end to end: with AES-GCM encryption configured on the client, no payload the
workflow touches (inputs, activity results, signals, updates, queries, heartbeat details,
failure details) reaches the SQLite files in plaintext, and everything decodes again. A codec
that raises fails the call clearly and records nothing."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import pytest

from stalwart import activity, workflow
from stalwart.client import Client, WorkflowFailureError, WorkflowQueryFailedError
from stalwart.common import RetryPolicy
from stalwart.converter import DataConverter, Payload, PayloadCodec
from stalwart.exceptions import ActivityError, ApplicationError, WorkflowNotFoundError
from stalwart.worker import Worker
from tests.helpers.waiting import eventually

AESGCM = pytest.importorskip("cryptography.hazmat.primitives.ciphers.aead").AESGCM

# Upper case so that activities may upper-case their input and still carry it.
MARKER = "PLAINTEXT-CANARY-7F3A91"
TIMEOUT = timedelta(seconds=10)
FAST_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=20),
                         maximum_interval=timedelta(milliseconds=50), maximum_attempts=3)
ENCRYPTED = b"binary/encrypted"


class EncryptionCodec(PayloadCodec):
    """AES-GCM over the whole payload (metadata and data), as Temporal's encryption sample."""

    def __init__(self, key: bytes) -> None:
        self._aes = AESGCM(key)
        self.encoded = 0
        self.decoded = 0

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        out = []
        for payload in payloads:
            plain = json.dumps({
                "metadata": {k: base64.b64encode(v).decode() for k, v in payload.metadata.items()},
                "data": base64.b64encode(payload.data).decode(),
            }).encode()
            nonce = os.urandom(12)
            out.append(Payload({"encoding": ENCRYPTED, "encryption-key-id": b"test-key"},
                               nonce + self._aes.encrypt(nonce, plain, None)))
        self.encoded += len(out)
        return out

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        out = []
        for payload in payloads:
            if payload.metadata.get("encoding") != ENCRYPTED:
                out.append(payload)
                continue
            plain = json.loads(self._aes.decrypt(payload.data[:12], payload.data[12:], None))
            out.append(Payload(
                {k: base64.b64decode(v) for k, v in plain["metadata"].items()},
                base64.b64decode(plain["data"])))
        self.decoded += len(out)
        return out


# -- activities --------------------------------------------------------------------------------

_released: dict[str, asyncio.Event] = {}


@activity.defn
async def shout(text: str) -> str:
    return f"{text.upper()} (result)"


@activity.defn
async def heartbeat_then_wait(secret: str) -> str:
    info = activity.info()
    if info.attempt == 1:
        activity.heartbeat(f"sent heartbeat {secret}")
        # The test releases this attempt once the heartbeat is in the store.
        await _released["heartbeat"].wait()
        raise ApplicationError("attempt 1 fails on purpose", f"retry detail {secret}")
    return f"resumed from {info.heartbeat_details[0]}"


@activity.defn
async def heartbeat_then_fail(secret: str) -> str:
    info = activity.info()
    if info.attempt == 1:
        activity.heartbeat("first heartbeat")
        # One turn of the loop lets the first heartbeat's write begin (the ready queue is
        # FIFO), so the next one is held back by the throttle and goes out with the failure.
        await asyncio.sleep(0)
        activity.heartbeat(f"unsent heartbeat {secret}")
        raise ApplicationError("attempt 1 fails on purpose", f"retry detail {secret}")
    return f"resumed from {info.heartbeat_details[0]}"


@activity.defn
async def refuse(secret: str) -> str:
    raise ApplicationError("refused", f"failure detail {secret}", non_retryable=True)


# -- workflows ---------------------------------------------------------------------------------


@workflow.defn
class SecretWorkflow:
    def __init__(self) -> None:
        self._signals: list[str] = []
        self._update = ""
        self._stage = "started"

    @workflow.run
    async def run(self, secret: str) -> dict[str, str]:
        echoed = await workflow.execute_activity(shout, f"input {secret}",
                                                 start_to_close_timeout=TIMEOUT)
        sent = await workflow.execute_activity(heartbeat_then_wait, secret,
                                               start_to_close_timeout=TIMEOUT,
                                               retry_policy=FAST_RETRY)
        unsent = await workflow.execute_activity(heartbeat_then_fail, secret,
                                                 start_to_close_timeout=TIMEOUT,
                                                 retry_policy=FAST_RETRY)
        try:
            await workflow.execute_activity(refuse, secret, start_to_close_timeout=TIMEOUT)
            failure_details = "no failure"
        except ActivityError as error:
            assert isinstance(error.cause, ApplicationError)
            failure_details = str(error.cause.details[0])
        self._stage = "waiting"
        await workflow.wait_condition(lambda: bool(self._signals) and bool(self._update))
        return {"echo": echoed, "sent": sent, "unsent": unsent, "failure": failure_details,
                "signal": self._signals[0], "update": self._update}

    @workflow.signal
    async def give(self, value: str) -> None:
        self._signals.append(value)

    @workflow.update
    async def set_update(self, value: str) -> str:
        self._update = value
        return f"update ok {value}"

    @workflow.query
    def stage(self, prefix: str) -> str:
        return f"{prefix}: {self._stage}"

    @workflow.query
    def broken(self, secret: str) -> str:
        raise ApplicationError("query refused", f"query detail {secret}")


@workflow.defn
class FailingSecretWorkflow:
    @workflow.run
    async def run(self, secret: str) -> str:
        raise ApplicationError("workflow failed on purpose", f"workflow detail {secret}",
                               non_retryable=True)


def _store_bytes(directory: Path) -> dict[str, bytes]:
    """Every file of the SQLite store: the database, its -wal and its -shm."""
    files = {p.name: p.read_bytes() for p in sorted(directory.iterdir())
             if p.name.startswith("stalwart.db")}
    assert "stalwart.db" in files
    return files


def _assert_no_plaintext(directory: Path) -> None:
    for name, data in _store_bytes(directory).items():
        assert MARKER.encode() not in data, f"plaintext marker found in {name}"
        # A JSON-escaped form would also be plaintext.
        assert json.dumps(MARKER).encode()[1:-1] not in data, f"marker found in {name}"


async def test_codec_keeps_every_payload_out_of_the_store_in_plaintext(
        tmp_path: Path, db_url: str, task_queue: str) -> None:
    codec = EncryptionCodec(AESGCM.generate_key(bit_length=256))
    client = await Client.connect(db_url, data_converter=DataConverter(payload_codec=codec))
    _released["heartbeat"] = asyncio.Event()
    try:
        async with Worker(client, task_queue=task_queue,
                          workflows=[SecretWorkflow, FailingSecretWorkflow],
                          activities=[shout, heartbeat_then_wait, heartbeat_then_fail, refuse]):
            handle = await client.start_workflow(SecretWorkflow.run, MARKER, id="secret",
                                                 task_queue=task_queue)

            async def heartbeat_recorded() -> bool:
                pending = (await handle.describe()).pending_activities
                return any(p["activity_type"] == "heartbeat_then_wait"
                           and p["last_heartbeat_at"] is not None for p in pending)

            await eventually(heartbeat_recorded, what="the heartbeat to reach the store")
            _released["heartbeat"].set()

            async def waiting() -> bool:
                answer = await handle.query(SecretWorkflow.stage, f"query {MARKER}")
                assert answer.startswith(f"query {MARKER}: ")
                return bool(answer.endswith("waiting"))

            await eventually(waiting, what="the workflow to wait for its signal")
            with pytest.raises(WorkflowQueryFailedError) as query_failed:
                await handle.query(SecretWorkflow.broken, MARKER)
            query_cause = query_failed.value.__cause__
            assert isinstance(query_cause, ApplicationError)
            assert list(query_cause.details) == [f"query detail {MARKER}"]

            assert await handle.execute_update(SecretWorkflow.set_update,
                                               f"update {MARKER}") == f"update ok update {MARKER}"
            await handle.signal(SecretWorkflow.give, f"signal {MARKER}")
            result = await handle.result()

            failing = await client.start_workflow(FailingSecretWorkflow.run, MARKER,
                                                  id="secret-failing", task_queue=task_queue)
            with pytest.raises(WorkflowFailureError) as failed:
                await failing.result()
        assert result == {
            "echo": f"INPUT {MARKER} (result)",
            "sent": f"resumed from sent heartbeat {MARKER}",
            "unsent": f"resumed from unsent heartbeat {MARKER}",
            "failure": f"failure detail {MARKER}",
            "signal": f"signal {MARKER}",
            "update": f"update {MARKER}",
        }
        workflow_cause = failed.value.cause
        assert isinstance(workflow_cause, ApplicationError)
        assert list(workflow_cause.details) == [f"workflow detail {MARKER}"]
        assert codec.encoded > 0 and codec.decoded > 0

        # The history holds only encrypted payloads.
        history = await handle.fetch_history()
        encodings = {p["metadata"]["encoding"] for e in history.events
                     for key in ("input", "result")
                     for p in e.attributes.get(key, {}).get("payloads", [])}
        assert encodings == {base64.b64encode(ENCRYPTED).decode()}
        _assert_no_plaintext(tmp_path)
    finally:
        await client.close()
    _assert_no_plaintext(tmp_path)


class BrokenCodec(PayloadCodec):
    """Stands for a codec whose key service is unreachable."""

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        raise ConnectionError("key service unreachable")

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        raise ConnectionError("key service unreachable")


async def test_codec_that_raises_names_the_codec_and_records_nothing(
        tmp_path: Path, db_url: str, task_queue: str) -> None:
    plain_client = await Client.connect(db_url)
    broken = Client(plain_client.store, data_converter=DataConverter(payload_codec=BrokenCodec()))
    try:
        with pytest.raises(Exception, match="BrokenCodec") as raised:
            await broken.start_workflow(SecretWorkflow.run, MARKER, id="never",
                                        task_queue=task_queue)
        assert "key service unreachable" in str(raised.value)
        with pytest.raises(WorkflowNotFoundError):
            await broken.get_workflow_handle("never").describe()

        # A running workflow (started without the codec) gets no signal from the broken client.
        handle = await plain_client.start_workflow(SecretWorkflow.run, "plain", id="plain",
                                                   task_queue=task_queue)
        with pytest.raises(Exception, match="BrokenCodec"):
            await broken.get_workflow_handle("plain").signal(SecretWorkflow.give, MARKER)
        assert (await handle.describe()).pending_events == 0
        # As in Temporal, a run no task has taken yet shows its start and the task scheduled.
        assert [e.event_type for e in (await handle.fetch_history()).events] == [
            "WorkflowExecutionStarted", "WorkflowTaskScheduled"]
    finally:
        await plain_client.close()
    _assert_no_plaintext(tmp_path)
