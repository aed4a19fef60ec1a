"""``Payload.SerializeToString`` / ``Payload.FromString``: Temporal's protobuf wire form, which
payload codecs written for temporalio compress or encrypt."""

from __future__ import annotations

import pytest

from stalwart.api.common.v1 import Payload
from stalwart.converter import DataConverter

# What temporalio's Payload(metadata={"note": b"\x00\xff", "encoding": b"json/plain"},
# data=b'"hi"').SerializeToString() returns (its map order is its own).
TEMPORALIO_BYTES = bytes.fromhex(
    "0a0a0a046e6f7465120200ff0a160a08656e636f64696e67120a6a736f6e2f706c61696e120422686922")


def test_bytes_temporalio_wrote_read_back_as_the_same_payload() -> None:
    payload = Payload.FromString(TEMPORALIO_BYTES)
    assert payload.metadata == {"note": b"\x00\xff", "encoding": b"json/plain"}
    assert payload.data == b'"hi"'
    assert DataConverter.default.payload_converter.from_payload(payload, str) == "hi"


def test_a_payload_round_trips_and_its_bytes_are_temporals_field_for_field() -> None:
    payload = Payload(metadata={"note": b"\x00\xff", "encoding": b"json/plain"}, data=b'"hi"')
    wire = payload.SerializeToString()
    assert wire == TEMPORALIO_BYTES  # same insertion order here, so the same bytes
    assert Payload.FromString(wire) == payload
    assert payload.ByteSize() == len(wire)
    assert Payload.FromString(payload.SerializeToString(deterministic=True)) == payload
    big = Payload(metadata={"encoding": b"binary/plain"}, data=bytes(range(256)) * 600)
    assert Payload.FromString(big.SerializeToString()) == big  # lengths past one varint byte
    assert Payload.FromString(b"") == Payload(metadata={}, data=b"")


def test_unknown_fields_are_skipped() -> None:
    # Field 3 (external payload details, a message) and a varint field 9 before the data.
    extra = bytes([0x1A, 0x02, 0x08, 0x01, 0x48, 0x96, 0x01])
    payload = Payload.FromString(TEMPORALIO_BYTES[:-6] + extra + TEMPORALIO_BYTES[-6:])
    assert payload.data == b'"hi"' and payload.metadata["encoding"] == b"json/plain"


@pytest.mark.parametrize("garbage", [b"\x0a\x10\x0a", b"\x0a", b"\x0b\x00", b"\x12\xff"])
def test_bytes_that_are_not_a_payload_are_refused(garbage: bytes) -> None:
    with pytest.raises(ValueError, match="not a Payload"):
        Payload.FromString(garbage)
