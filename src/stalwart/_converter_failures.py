"""``DataConverter.encode_failure``/``decode_failure``/``encode_wrapper``/``decode_wrapper``
(temporalio's names). Stalwart's failures are JSON objects rather than protobuf messages and a
payload list stands for temporalio's ``Payloads`` wrapper, so each takes and gives those."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .converter import DataConverter, Payload


class FailureAndWrapperMethods:
    """Mixed into ``DataConverter``."""

    async def encode_wrapper(self, values: Sequence[Any]) -> list[Payload]:
        """``encode`` under temporalio's name for its ``Payloads`` wrapper."""
        converter: DataConverter = self  # type: ignore[assignment]
        return await converter.encode(values)

    async def decode_wrapper(self, payloads: Sequence[Payload] | None,
                             type_hints: list[type] | None = None) -> list[Any]:
        """``decode`` of a payload list; nothing (None or empty) decodes to ``[]``."""
        converter: DataConverter = self  # type: ignore[assignment]
        if not payloads:
            return []
        return await converter.decode(payloads, type_hints)

    async def encode_failure(self, exception: BaseException, failure: dict[str, Any]) -> None:
        """Convert ``exception`` into ``failure`` (filled in place), its payloads encoded by
        the codec, as temporalio fills a ``Failure`` message."""
        from ._engine.codec import encode_value

        converter: DataConverter = self  # type: ignore[assignment]
        converted = converter.failure_converter.to_failure(exception,
                                                           converter.payload_converter)
        encoded = await encode_value(converted, converter._store_codec)
        failure.clear()
        failure.update(encoded)

    async def decode_failure(self, failure: dict[str, Any]) -> BaseException:
        """The exception a failure stands for, its payloads decoded by the codec first."""
        from ._engine.codec import decode_value

        converter: DataConverter = self  # type: ignore[assignment]
        decoded = await decode_value(failure, converter._store_codec)
        return converter.failure_converter.from_failure(decoded, converter.payload_converter)


class PayloadConverterWrapperMethods:
    """Mixed into ``PayloadConverter``: temporalio's ``Payloads``-wrapper forms, over lists."""

    def to_payloads_wrapper(self, values: Sequence[Any]) -> list[Payload]:
        """``to_payloads`` under temporalio's name for its ``Payloads`` wrapper."""
        return self.to_payloads(values)  # type: ignore[attr-defined, no-any-return]

    def from_payloads_wrapper(self, payloads: Sequence[Payload] | None) -> list[Any]:
        """``from_payloads``; nothing (None or empty) converts to ``[]``."""
        if not payloads:
            return []
        return self.from_payloads(payloads)  # type: ignore[attr-defined, no-any-return]


class PayloadCodecWrapperMethods:
    """Mixed into ``PayloadCodec``: temporalio's wrapper and failure forms, over payload lists
    and Stalwart's JSON failures (changed in place, as temporalio changes the messages)."""

    async def encode_wrapper(self, payloads: Sequence[Payload]) -> list[Payload]:
        return await self.encode(payloads)  # type: ignore[attr-defined, no-any-return]

    async def decode_wrapper(self, payloads: Sequence[Payload]) -> list[Payload]:
        return await self.decode(payloads)  # type: ignore[attr-defined, no-any-return]

    async def encode_failure(self, failure: dict[str, Any]) -> None:
        """Encode every payload inside ``failure`` (details, causes), in place."""
        from ._engine.codec import encode_value

        await encode_value(failure, self)  # type: ignore[arg-type]

    async def decode_failure(self, failure: dict[str, Any]) -> None:
        """Decode every payload inside ``failure``, in place."""
        from ._engine.codec import decode_value

        await decode_value(failure, self)  # type: ignore[arg-type]
