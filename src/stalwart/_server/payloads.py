"""Turning stored payloads into plain JSON values for the API and the UI.

Payloads are kept in their store form (``{"metadata": ..., "data": ...}``); JSON ones become the
value they hold, others stay visible as their encoding plus base64 data. The server has no
payload codec, so encrypted payloads show as what the store holds.
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# How much of one payload a page shows; the rest is behind a link to the full value.
PREVIEW_CHARS = 16 * 1024


@dataclass(frozen=True)
class Clipped:
    """A payload too large for a page: its first characters and where the whole value is."""

    preview: str
    size: int
    href: str | None


def _is_payload(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("metadata"), dict) and (
        "data" in value or "data_b64" in value or "clipped" in value)


def _finite_or_text(text: str) -> Any:
    number = float(text)
    return number if math.isfinite(number) else text


def loads_lenient(text: str) -> Any:
    """JSON as stored, with NaN, Infinity and out-of-range numbers (which no strict JSON
    reader accepts) kept as the text they were written as, so a run that holds them stays
    readable."""
    return json.loads(text, parse_constant=str, parse_float=_finite_or_text)


def payload_value(payload: dict[str, Any]) -> Any:
    if "clipped" in payload:
        return Clipped(str(payload["clipped"]), int(payload.get("size", 0)),
                       payload.get("href"))
    encoding = payload["metadata"].get("encoding", "")
    if encoding == "binary/null":
        return None
    if encoding == "json/plain" and isinstance(payload.get("data"), str):
        try:
            return loads_lenient(payload["data"])
        except (ValueError, RecursionError):
            return payload["data"]
    data_b64 = payload.get("data_b64")
    if data_b64 is None:
        data_b64 = base64.b64encode(str(payload.get("data", "")).encode()).decode()
    return {"encoding": encoding, "data_base64": data_b64}


def decode_payloads(value: Any) -> Any:
    """A copy of ``value`` with every payload replaced by the value it holds."""
    if _is_payload(value):
        return payload_value(value)
    if isinstance(value, dict):
        return {k: decode_payloads(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode_payloads(v) for v in value]
    return value


def clip_payloads(value: Any, href: str | None, limit: int = PREVIEW_CHARS) -> Any:
    """A copy of ``value`` (store form) in which payloads longer than ``limit`` characters keep
    only their first ``limit`` characters, marked with the size and ``href``."""
    if _is_payload(value):
        data = value.get("data")
        if data is None:
            data = value.get("data_b64")
        if isinstance(data, str) and len(data) > limit:
            return {"metadata": value["metadata"], "clipped": data[:limit], "size": len(data),
                    "href": href}
        return value
    if isinstance(value, dict):
        return {k: clip_payloads(v, href, limit) for k, v in value.items()}
    if isinstance(value, list):
        return [clip_payloads(v, href, limit) for v in value]
    return value


def first_clipped(value: Any) -> Clipped | None:
    if isinstance(value, Clipped):
        return value
    items = value.values() if isinstance(value, dict) else value if isinstance(
        value, list) else ()
    for item in items:
        found = first_clipped(item)
        if found is not None:
            return found
    return None


def _display(value: Any) -> Any:
    if isinstance(value, Clipped):
        return f"{value.preview}… [{value.size:,} characters in all; open the full value]"
    return str(value)


def iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat().replace("+00:00", "Z")


def when(timestamp: float | None) -> str:
    """A readable UTC time to the millisecond."""
    if timestamp is None:
        return ""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"


def pretty(value: Any) -> str:
    """Indented JSON for display (the template escapes it)."""
    return json.dumps(value, indent=2, ensure_ascii=False, default=_display, sort_keys=False)


def short(value: Any, limit: int = 120) -> str:
    """A one-line preview of a value."""
    text = json.dumps(value, ensure_ascii=False, default=_display)
    return text if len(text) <= limit else text[:limit - 1] + "…"
