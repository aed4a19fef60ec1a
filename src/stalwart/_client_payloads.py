"""How a client turns values into stored payloads: conversion errors named by field, the hard
per-payload limit, and temporalio's warning thresholds (``PayloadLimitsConfig``)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

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


def limits_of(client: Client) -> PayloadLimitsConfig:
    limits = client._config.get("payload_limits")
    return limits if isinstance(limits, PayloadLimitsConfig) else PayloadLimitsConfig()


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
