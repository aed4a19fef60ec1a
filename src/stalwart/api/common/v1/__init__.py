"""``temporalio.api.common.v1``'s ``Payload``, as payload codecs use it: built with
``Payload(metadata=..., data=...)``, serialized with ``SerializeToString()`` (Temporal's wire
bytes) and read back with ``Payload.FromString(...)``."""

from __future__ import annotations

from ...._converter_types import Payload

__all__ = ["Payload"]
