"""A payload codec as temporalio's samples write one: it compresses each payload's protobuf
bytes (``payload.SerializeToString()``) under an encoding of its own and restores them with
``Payload.FromString``, importing ``Payload`` from ``temporalio.api.common.v1``. Workflow
input and result, an activity's, a signal's and a query's all pass through it; the
Replayer (with the same codec) decodes the histories each side recorded. A payload's
serialized bytes read back as the same payload, and are as long on both sides (their metadata
map's order is the library's own)."""

import zlib
from collections.abc import Sequence
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.converter import DataConverter, PayloadCodec
from temporalio.plugin import SimplePlugin

from ._util import settle, wait_for_query

ENCODING = b"binary/zlib"
DECODED_ENCODINGS: set[str] = set()  # what the codec was given to decode


class CompressionCodec(PayloadCodec):
    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [Payload(metadata={"encoding": ENCODING},
                        data=zlib.compress(p.SerializeToString())) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        decoded = []
        for p in payloads:
            DECODED_ENCODINGS.add(p.metadata.get("encoding", b"").decode())
            if p.metadata.get("encoding", b"") != ENCODING:
                decoded.append(p)
                continue
            decoded.append(Payload.FromString(zlib.decompress(p.data)))
        return decoded


PLUGINS = [SimplePlugin("compression", data_converter=DataConverter(
    payload_codec=CompressionCodec()))]


@activity.defn
async def describe_order(items: list[str]) -> str:
    return f"{len(items)} items: {', '.join(items)}"


@workflow.defn
class Order:
    def __init__(self) -> None:
        self.items: list[str] = []
        self.closed = False

    @workflow.run
    async def run(self, first: str) -> str:
        self.items.append(first)
        await workflow.wait_condition(lambda: self.closed)
        return await workflow.execute_activity(
            describe_order, self.items, start_to_close_timeout=timedelta(seconds=30))

    @workflow.signal
    def add(self, item: str) -> None:
        self.items.append(item)

    @workflow.signal
    def close(self) -> None:
        self.closed = True

    @workflow.query
    def count(self) -> int:
        return len(self.items)


WORKFLOWS = [Order]
ACTIVITIES = [describe_order]


async def run(client: Client, task_queue: str) -> object:
    sample = Payload(metadata={"encoding": b"json/plain", "note": b"\x00\xff"}, data=b'"hi"')
    wire = sample.SerializeToString()
    back = Payload.FromString(wire)
    handle = await client.start_workflow(Order.run, "apple", id=f"{task_queue}-order",
                                         task_queue=task_queue)
    await settle(handle)
    await handle.signal(Order.add, "pear")
    await settle(handle)
    await handle.signal(Order.add, "fig")
    await wait_for_query(handle, "count", 3)
    await handle.signal(Order.close)
    return {"wire_length": len(wire), "round_trip": [dict(back.metadata) == dict(sample.metadata),
                                               back.data == sample.data],
            "result": await handle.result(), "decoded": sorted(DECODED_ENCODINGS)}
