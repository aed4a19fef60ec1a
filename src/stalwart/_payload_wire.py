"""A ``Payload`` in Temporal's protobuf wire form (``temporal.api.common.v1.Payload``).

Payload codecs written for temporalio encrypt or compress ``payload.SerializeToString()``
and restore it with ``Payload.FromString(...)``. The message is small and fixed (metadata, a
map of string to bytes, field 1; data, bytes, field 2), so it is encoded here rather than by
making ``protobuf`` a dependency; the bytes are those temporalio writes, so either library
reads what the other wrote. Other fields (external payload details, field 3) are skipped.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

_LENGTH_DELIMITED = 2
_METADATA, _DATA = 1, 2
_ENTRY_KEY, _ENTRY_VALUE = 1, 2


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, data: bytes) -> bytes:
    return _varint(number << 3 | _LENGTH_DELIMITED) + _varint(len(data)) + data


def encode(metadata: Mapping[str, bytes], data: bytes) -> bytes:
    out = bytearray()
    for key, value in metadata.items():
        out += _field(_METADATA, _field(_ENTRY_KEY, key.encode()) +
                      _field(_ENTRY_VALUE, bytes(value)))
    if data:
        out += _field(_DATA, bytes(data))
    return bytes(out)


def _read_varint(buffer: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if at >= len(buffer):
            raise ValueError("not a Payload: the bytes end inside a number")
        byte = buffer[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at
        shift += 7


def _fields(buffer: bytes) -> Iterator[tuple[int, int, bytes | int]]:
    """(field number, wire type, bytes of a length-delimited field or the number)."""
    at = 0
    while at < len(buffer):
        key, at = _read_varint(buffer, at)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            value, at = _read_varint(buffer, at)
            yield number, wire_type, value
        elif wire_type == _LENGTH_DELIMITED:
            length, at = _read_varint(buffer, at)
            if at + length > len(buffer):
                raise ValueError("not a Payload: a field runs past the end of the bytes")
            yield number, wire_type, buffer[at:at + length]
            at += length
        elif wire_type in (1, 5):  # fixed 64 / 32 bits
            size = 8 if wire_type == 1 else 4
            yield number, wire_type, buffer[at:at + size]
            at += size
        else:
            raise ValueError(f"not a Payload: wire type {wire_type} of field {number}")


def decode(buffer: bytes) -> tuple[dict[str, bytes], bytes]:
    """(metadata, data) of a serialized Payload."""
    metadata: dict[str, bytes] = {}
    data = b""
    for number, wire_type, value in _fields(bytes(buffer)):
        if wire_type != _LENGTH_DELIMITED or not isinstance(value, bytes):
            continue
        if number == _METADATA:
            key, entry_value = "", b""
            for entry_number, entry_type, part in _fields(value):
                if entry_type == _LENGTH_DELIMITED and isinstance(part, bytes):
                    if entry_number == _ENTRY_KEY:
                        key = part.decode()
                    elif entry_number == _ENTRY_VALUE:
                        entry_value = part
            metadata[key] = entry_value
        elif number == _DATA:
            data = value
    return metadata, data
