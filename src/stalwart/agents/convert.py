"""A data converter for workflow code written against SDK objects.

Activities often return SDK objects (``response.choices[0].message``, a pydantic model); the
default converter stores them as JSON and gives workflow code back a ``dict``, so code written
as ``response.tool_calls`` fails there. :data:`attribute_data_converter` decodes JSON objects
that have no more specific type hint into :class:`AttrDict`, a ``dict`` that also answers
attribute reads. Pass it to ``Client.connect(url, data_converter=attribute_data_converter)``.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

from ..converter import DataConverter, DefaultPayloadConverter, Payload

__all__ = ["AttrDict", "AttributePayloadConverter", "attribute_data_converter"]


class AttrDict(dict[str, Any]):
    """A ``dict`` whose keys can also be read as attributes (``d.tool_calls``)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _wrap(value: Any) -> Any:
    if isinstance(value, dict):
        return AttrDict({k: _wrap(v) for k, v in value.items()})
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    return value


_LOOSE_HINTS = (None, Any, object, dict, inspect.Parameter.empty)


class AttributePayloadConverter(DefaultPayloadConverter):
    """The default converter, except that untyped (or ``dict``-typed) JSON objects decode to
    :class:`AttrDict`."""

    def from_payloads(self, payloads: Sequence[Payload],
                      type_hints: Sequence[Any] | None = None) -> list[Any]:
        values = super().from_payloads(payloads, type_hints)
        out = []
        for i, value in enumerate(values):
            hint = type_hints[i] if type_hints and i < len(type_hints) else None
            out.append(_wrap(value) if hint in _LOOSE_HINTS else value)
        return out


attribute_data_converter = DataConverter(payload_converter_class=AttributePayloadConverter)
