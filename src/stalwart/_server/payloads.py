"""Turning stored payloads into plain JSON values for the API and the UI.

Payloads are kept in their store form (``{"metadata": ..., "data": ...}``); JSON ones become the
value they hold, others stay visible as their encoding plus base64 data. The server has no
payload codec, so encrypted payloads show as what the store holds.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any


def _is_payload(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("metadata"), dict) and (
        "data" in value or "data_b64" in value)


def payload_value(payload: dict[str, Any]) -> Any:
    encoding = payload["metadata"].get("encoding", "")
    if encoding == "binary/null":
        return None
    if encoding == "json/plain" and isinstance(payload.get("data"), str):
        try:
            return json.loads(payload["data"])
        except ValueError:
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
    return json.dumps(value, indent=2, ensure_ascii=False, default=str, sort_keys=False)


def short(value: Any, limit: int = 120) -> str:
    """A one-line preview of a value."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[:limit - 1] + "…"
