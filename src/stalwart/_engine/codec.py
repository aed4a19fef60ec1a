"""Applying a PayloadCodec to everything the store keeps, at the store boundary.

Payloads sit at many depths of event attributes (inputs, results, failure details, heartbeat
details); any JSON object of the payload store form is one, so a generic walk finds them all.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .._model.events import Command, HistoryEvent
from ..converter import Payload, PayloadCodec, _payload_from_json, _payload_to_json


def _is_payload(value: Any) -> bool:
    return isinstance(value, dict) and "metadata" in value and (
        "data" in value or "data_b64" in value)


def _collect(value: Any, found: list[dict[str, Any]]) -> None:
    if _is_payload(value):
        found.append(value)
    elif isinstance(value, dict):
        for item in value.values():
            _collect(item, found)
    elif isinstance(value, list):
        for item in value:
            _collect(item, found)


async def _transform(values: Sequence[Any], codec: PayloadCodec, encode: bool) -> None:
    found: list[dict[str, Any]] = []
    for value in values:
        _collect(value, found)
    if not found:
        return
    payloads = [_payload_from_json(p) for p in found]
    try:
        converted: list[Payload] = await (codec.encode(payloads) if encode
                                          else codec.decode(payloads))
    except Exception as error:
        # Codec errors (a key service down, a wrong key) surface far from the codec's code.
        raise RuntimeError(
            f"payload codec {type(codec).__qualname__}.{'encode' if encode else 'decode'} "
            f"failed: {type(error).__name__}: {error}") from error
    if len(converted) != len(payloads):
        raise ValueError(f"payload codec {type(codec).__name__} returned {len(converted)} "
                         f"payloads for {len(payloads)}; it must return one per payload")
    for target, payload in zip(found, converted, strict=True):
        target.clear()
        target.update(_payload_to_json(payload))


async def encode_value(value: Any, codec: PayloadCodec | None) -> Any:
    if codec is not None:
        await _transform([value], codec, encode=True)
    return value


async def decode_value(value: Any, codec: PayloadCodec | None) -> Any:
    if codec is not None:
        await _transform([value], codec, encode=False)
    return value


async def decode_events(events: list[HistoryEvent], codec: PayloadCodec) -> list[HistoryEvent]:
    await _transform([e.attributes for e in events], codec, encode=False)
    return events


async def encode_commands(commands: list[Command], codec: PayloadCodec) -> list[Command]:
    await _transform([c.attributes for c in commands], codec, encode=True)
    return commands
