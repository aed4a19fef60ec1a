"""temporalio's converter helpers: search attribute payloads, protobuf payloads, transfer
types, serialization contexts and the payload validation error."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Self

import pytest
from google.protobuf import struct_pb2, wrappers_pb2

from stalwart import workflow
from stalwart.client import Client
from stalwart.common import SearchAttributeKey, TypedSearchAttributes
from stalwart.converter import (
    ActivitySerializationContext,
    BinaryProtoPayloadConverter,
    DataConverter,
    DefaultPayloadConverter,
    JSONProtoPayloadConverter,
    Payload,
    PayloadCodec,
    SerializationContext,
    TransferTypeConverter,
    WithSerializationContext,
    WorkflowSerializationContext,
    create_payload_validation_error,
    decode_search_attributes,
    decode_typed_search_attributes,
    default,
    encode_search_attribute_values,
    encode_search_attributes,
    encode_typed_search_attribute_value,
    transfer_type_convertible,
    value_to_type,
)
from stalwart.exceptions import ApplicationError
from stalwart.worker import Worker

WHEN = SearchAttributeKey.for_datetime("When")
SCORE = SearchAttributeKey.for_float("Score")
TAGS = SearchAttributeKey.for_keyword_list("Tags")
COUNT = SearchAttributeKey.for_int("Count")


def test_typed_search_attributes_round_trip_with_type_metadata() -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    attributes = TypedSearchAttributes([
        WHEN.value_set(moment), SCORE.value_set(1.5), TAGS.value_set(["a", "b"]),
        COUNT.value_set(3)])  # type: ignore[list-item]
    fields: dict[str, Payload] = {}
    encode_search_attributes(attributes, fields)
    assert fields["When"].metadata["type"] == b"Datetime"
    assert fields["Tags"].metadata["type"] == b"KeywordList"
    decoded = decode_typed_search_attributes(fields)
    assert decoded.get(WHEN) == moment
    assert decoded.get(SCORE) == 1.5
    assert decoded.get(TAGS) == ["a", "b"]
    assert decoded.get(COUNT) == 3
    assert decode_search_attributes(fields) == {
        "When": [moment], "Score": [1.5], "Tags": ["a", "b"], "Count": [3]}


def test_typed_decoding_skips_untyped_and_mistyped_entries() -> None:
    fields = {
        "NoType": default().payload_converter.to_payload("x"),
        "BadInt": Payload({"encoding": b"json/plain", "type": b"Int"}, b'"nope"'),
        "WholeDouble": Payload({"encoding": b"json/plain", "type": b"Double"}, b"2"),
    }
    decoded = decode_typed_search_attributes(fields)
    assert [pair.key.name for pair in decoded] == ["WholeDouble"]
    assert decoded.get(SearchAttributeKey.for_float("WholeDouble")) == 2.0


def test_search_attribute_encoding_errors_name_the_problem() -> None:
    with pytest.raises(ValueError, match="timezone"):
        encode_typed_search_attribute_value(WHEN, datetime(2026, 1, 1))
    with pytest.raises(TypeError, match="'Count' is Int"):
        encode_typed_search_attribute_value(COUNT, "3")
    with pytest.raises(TypeError, match="one type"):
        encode_search_attribute_values(["a", 1])
    assert "type" not in encode_typed_search_attribute_value(COUNT, None).metadata


def test_protobuf_messages_json_and_binary() -> None:
    message = struct_pb2.Struct()
    message.update({"a": 1, "b": ["x"]})
    payload = default().payload_converter.to_payload(message)
    assert payload.metadata == {"encoding": b"json/protobuf",
                                "messageType": b"google.protobuf.Struct"}
    assert default().payload_converter.from_payload(payload) == message
    binary = BinaryProtoPayloadConverter().to_payload(wrappers_pb2.Int64Value(value=7))
    assert binary is not None and binary.metadata["encoding"] == b"binary/protobuf"
    assert default().payload_converter.from_payload(binary).value == 7
    assert JSONProtoPayloadConverter().to_payload({"not": "a message"}) is None
    unknown = Payload({"encoding": b"json/protobuf", "messageType": b"no.such.Type"}, b"{}")
    with pytest.raises(RuntimeError, match=r"no\.such\.Type"):
        default().payload_converter.from_payload(unknown)


class _DecimalAsString(TransferTypeConverter[Decimal, str]):
    transfer_type = str

    def to_transfer_type(self, value: Decimal) -> str:
        return str(value)

    def from_transfer_type(self, value: str, type_hint: type[Decimal]) -> Decimal:
        return type_hint(value)


@transfer_type_convertible(_DecimalAsString)
class Money(Decimal):
    pass


@dataclasses.dataclass
class Invoice:
    total: Money
    lines: list[Money]


def test_transfer_type_converter_carries_a_class_json_cannot() -> None:
    converter = default().payload_converter
    payload = converter.to_payload(Invoice(Money("1.10"), [Money("0.10"), Money("1")]))
    assert payload.data == b'{"lines":["0.10","1"],"total":"1.10"}'  # keys sorted, as temporalio
    back = converter.from_payload(payload, Invoice)
    assert back == Invoice(Money("1.10"), [Money("0.10"), Money("1")])
    assert type(back.total) is Money
    assert value_to_type(Money, "2.5") == Money("2.5")
    with pytest.raises(TypeError, match="already has"):
        transfer_type_convertible(_DecimalAsString)(Money)


class _TaggingCodec(PayloadCodec, WithSerializationContext):
    def __init__(self, context: SerializationContext | None = None) -> None:
        self.context = context

    def with_context(self, context: SerializationContext) -> Self:
        return type(self)(context)

    async def encode(self, payloads: list[Payload]) -> list[Payload]:  # type: ignore[override]
        tag = getattr(self.context, "workflow_id", "") or ""
        return [Payload({**p.metadata, "ctx": tag.encode()}, p.data) for p in payloads]

    async def decode(self, payloads: list[Payload]) -> list[Payload]:  # type: ignore[override]
        return list(payloads)


async def test_data_converter_with_context_binds_parts_that_take_one() -> None:
    plain = DataConverter()
    assert plain.with_context(WorkflowSerializationContext("default", "wf")) is plain
    converter = DataConverter(payload_codec=_TaggingCodec())
    bound = converter.with_context(WorkflowSerializationContext("default", "wf-1"))
    assert bound is not converter and isinstance(bound.payload_codec, _TaggingCodec)
    assert bound.payload_codec.context == WorkflowSerializationContext("default", "wf-1")
    assert (await bound.encode(["x"]))[0].metadata["ctx"] == b"wf-1"
    assert isinstance(bound.payload_converter, DefaultPayloadConverter)
    context = ActivitySerializationContext("default", "1", "act", "tq", "wf", "W", False)
    assert converter.with_context(context).payload_codec.context is context  # type: ignore[union-attr]


def test_payload_validation_error() -> None:
    error = create_payload_validation_error({"field": "age"})
    assert isinstance(error, ApplicationError)
    assert error.type == "PayloadValidationError" and error.non_retryable
    assert error.details == ({"field": "age"},)
    assert create_payload_validation_error(None).details == ()


@workflow.defn
class EchoMessages:
    @workflow.run
    async def run(self, message: struct_pb2.Struct, invoice: Invoice) -> list[object]:
        return [message, Money(invoice.total + 1)]


async def test_protobuf_and_transfer_types_through_a_workflow(db_url: str,
                                                              task_queue: str) -> None:
    message = struct_pb2.Struct()
    message.update({"k": "v"})
    client = await Client.connect(db_url)
    try:
        async with Worker(client, task_queue=task_queue, workflows=[EchoMessages]):
            handle = await client.start_workflow(
                EchoMessages.run, args=[message, Invoice(Money("1.5"), [])], id="echo-pb",
                task_queue=task_queue, execution_timeout=timedelta(seconds=60))
            result = await handle.result()
    finally:
        await client.close()
    assert result[0] == {"k": "v"} or result[0] == message
    assert result[1] == "2.5"
