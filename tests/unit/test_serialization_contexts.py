"""What the worker and client bind for a workflow's or an activity's payloads: the payload and
failure converters take the context (temporalio's WithSerializationContext); the codec keeps
its unbound self, so a run's whole history decodes with one codec. The contexts each path
passes are compared with Temporal's in the differential scenario ``serialization_contexts``."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Self

from stalwart.converter import (
    BinaryNullPayloadConverter,
    CompositePayloadConverter,
    DataConverter,
    DefaultFailureConverter,
    DefaultPayloadConverter,
    JSONPlainPayloadConverter,
    Payload,
    PayloadCodec,
    SerializationContext,
    WithSerializationContext,
    WorkflowSerializationContext,
)
from stalwart.exceptions import ApplicationError


class _Recording(DefaultPayloadConverter, WithSerializationContext):
    def __init__(self, context: SerializationContext | None = None) -> None:
        super().__init__()
        self.context = context

    def with_context(self, context: SerializationContext) -> Self:
        return type(self)(context)


class _FailureRecording(DefaultFailureConverter, WithSerializationContext):
    context: SerializationContext | None = None

    def with_context(self, context: SerializationContext) -> Self:
        bound = type(self)()
        bound.context = context
        return bound


class _Codec(PayloadCodec, WithSerializationContext):
    def with_context(self, context: SerializationContext) -> Self:
        return type(self)()


def test_conversion_context_binds_converters_and_keeps_the_codec() -> None:
    codec = _Codec()
    converter = DataConverter(payload_converter_class=_Recording, payload_codec=codec,
                              failure_converter_class=_FailureRecording)
    context = WorkflowSerializationContext("default", "wf-1")
    bound = converter._conversion_context(context)
    assert isinstance(bound.payload_converter, _Recording)
    assert bound.payload_converter.context == context
    assert isinstance(bound.failure_converter, _FailureRecording)
    assert bound.failure_converter.context == context
    assert bound.payload_codec is codec
    # with_context itself binds every part, as temporalio's does.
    assert converter.with_context(context).payload_codec is not codec


def test_conversion_context_is_free_when_nothing_takes_one() -> None:
    plain = DataConverter()
    assert plain._conversion_context(WorkflowSerializationContext("default", "w")) is plain


class _TaggingJSON(JSONPlainPayloadConverter, WithSerializationContext):
    def __init__(self, tag: str = "") -> None:
        super().__init__()
        self.tag = tag

    def with_context(self, context: SerializationContext) -> Self:
        assert isinstance(context, WorkflowSerializationContext)
        return type(self)(context.workflow_id)


class _Composite(CompositePayloadConverter):
    def __init__(self) -> None:
        super().__init__(BinaryNullPayloadConverter(), _TaggingJSON())


def test_composite_converter_binds_the_encoding_converters_that_take_a_context() -> None:
    composite = _Composite()
    bound = composite.with_context(WorkflowSerializationContext("default", "wf-7"))
    assert bound is not composite and type(bound) is _Composite
    json_converter = bound.converters[b"json/plain"]
    assert isinstance(json_converter, _TaggingJSON) and json_converter.tag == "wf-7"
    assert bound.converters[b"binary/null"] is composite.converters[b"binary/null"]
    plain = DefaultPayloadConverter()
    assert plain.with_context(WorkflowSerializationContext("default", "w")) is plain
    assert plain.get_converters_with_context(WorkflowSerializationContext("d", "w")) is None


def test_what_takes_a_context_is_worked_out_again_when_the_converters_change() -> None:
    # Both are remembered between calls (they run per activity); neither answer may go stale.
    context = WorkflowSerializationContext("default", "wf-8")
    converter = DataConverter()
    assert converter.with_context(context) is converter
    composite = converter.payload_converter
    assert isinstance(composite, CompositePayloadConverter)
    composite.converters[b"json/plain"] = _TaggingJSON()
    bound = converter.with_context(context)
    assert bound is not converter
    json_converter = bound.payload_converter.converters[b"json/plain"]  # type: ignore[attr-defined]
    assert isinstance(json_converter, _TaggingJSON) and json_converter.tag == "wf-8"


class _Virtual(JSONPlainPayloadConverter):
    def __init__(self, tag: str = "") -> None:
        super().__init__()
        self.tag = tag

    def with_context(self, context: SerializationContext) -> Self:
        assert isinstance(context, WorkflowSerializationContext)
        return type(self)(context.workflow_id)


def test_a_converter_registered_as_taking_a_context_later_gets_it() -> None:
    context = WorkflowSerializationContext("default", "wf-9")
    composite = CompositePayloadConverter(_Virtual())
    assert composite.with_context(context) is composite
    WithSerializationContext.register(_Virtual)
    bound = composite.with_context(context)
    assert bound is not composite and bound.converters[b"json/plain"].tag == "wf-9"  # type: ignore


class _Reversing(PayloadCodec):
    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [Payload(p.metadata, p.data[::-1]) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [Payload(p.metadata, p.data[::-1]) for p in payloads]


async def test_wrapper_and_failure_forms_work_on_lists_and_json_failures() -> None:
    converter = DefaultPayloadConverter()
    payloads = converter.to_payloads_wrapper(["a", 1])
    assert converter.from_payloads_wrapper(payloads) == ["a", 1]
    assert converter.from_payloads_wrapper(None) == []
    codec = _Reversing()
    encoded = await codec.encode_wrapper(payloads)
    assert encoded[0].data == b'"a"'[::-1]
    assert await codec.decode_wrapper(encoded) == payloads
    failure = DefaultFailureConverter().to_failure(ApplicationError("x", "detail"), converter)
    plain = copy.deepcopy(failure)
    await codec.encode_failure(failure)
    assert failure != plain
    await codec.decode_failure(failure)
    assert failure == plain
