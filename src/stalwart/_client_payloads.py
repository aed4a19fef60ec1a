"""How a client turns values into stored payloads: conversion errors named by field, the hard
per-payload limit, and temporalio's warning thresholds (``PayloadLimitsConfig``)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._engine.codec import encode_value
from ._model import limits as _limits
from .converter import _payload_to_json

if TYPE_CHECKING:
    from .client import Client

logger = logging.getLogger("stalwart.client")


@dataclass(frozen=True)
class PayloadLimitsConfig:
    """Warning thresholds for outbound payload and memo sizes (mirrors temporalio's).

    A payload or memo over its threshold is logged (a warning on the ``stalwart.client``
    logger) and still sent, as temporalio does; 0 disables the warning. The defaults are
    Temporal's server warning sizes. Separately, Stalwart refuses any payload over its hard
    per-payload limit (``STALWART_MAX_PAYLOAD_BYTES``), as Temporal's server refuses one over
    its blob size limit.
    """

    payloads_warn_size: int = 512 * 1024
    memo_warn_size: int = 2 * 1024


def _size(payload: Mapping[str, Any]) -> int:
    data = payload.get("data")
    if isinstance(data, str):
        return len(data.encode("utf-8", "surrogatepass"))
    encoded = payload.get("data_b64")
    return len(encoded) * 3 // 4 if isinstance(encoded, str) else 0


def warn_if_large(limits: PayloadLimitsConfig, what: str,
                  payloads: Sequence[Mapping[str, Any]]) -> None:
    size = sum(_size(p) for p in payloads)
    if 0 < limits.payloads_warn_size < size:
        logger.warning("%s are %d bytes, over the payload warning size of %d bytes "
                       "(PayloadLimitsConfig.payloads_warn_size)", what, size,
                       limits.payloads_warn_size)


def warn_if_large_memo(limits: PayloadLimitsConfig, what: str,
                       memo: Mapping[str, Mapping[str, Any]] | None) -> None:
    size = sum(len(key) + _size(p) for key, p in (memo or {}).items())
    if 0 < limits.memo_warn_size < size:
        logger.warning("%s is %d bytes, over the memo warning size of %d bytes "
                       "(PayloadLimitsConfig.memo_warn_size)", what, size,
                       limits.memo_warn_size)


async def encode_payloads(client: Client, values: Sequence[Any], what: str
                          ) -> list[dict[str, Any]]:
    converter = client.data_converter
    try:
        payloads = converter.payload_converter.to_payloads(list(values))
    except TypeError as error:
        raise TypeError(f"{what}: {error}") from None
    except RecursionError:
        raise ValueError(f"{what} are nested too deeply to serialize; the limit is "
                         f"{_limits.MAX_PAYLOAD_DEPTH} levels") from None
    except UnicodeEncodeError as error:
        raise ValueError(f"{what} hold text that is not valid Unicode ({error.reason} at "
                         f"position {error.start}, e.g. a lone surrogate)") from None
    except ValueError as error:
        raise ValueError(f"{what}: {error}") from None
    stored = [_payload_to_json(p) for p in payloads]
    _limits.check_payloads(what, stored)
    warn_if_large(client._payload_limits, what, stored)
    return [await encode_value(p, converter._store_codec) for p in stored]
