"""The one input boundary: what a client may hand the store, checked the same way for the
Python client, the HTTP API, the web UI and the CLI (they all go through the client).

- Names (workflow ids, run ids, types, task queues, signal/query/update names and ids): text of
  at most ``MAX_NAME_BYTES`` UTF-8 bytes, so every name fits a PostgreSQL b-tree index entry,
  with no control characters (no NUL, which PostgreSQL cannot store; no newline, which breaks
  addresses and log lines; no escape sequences that would reach a terminal raw).
- Payloads: at most ``max_payload_bytes()`` each (2 MB by default, as in Temporal; set
  ``STALWART_MAX_PAYLOAD_BYTES`` to change it), JSON without ``NaN`` or ``Infinity`` (they
  are not JSON, and a value no JSON reader accepts would make the run unreadable) and nested
  at most ``MAX_PAYLOAD_DEPTH`` levels.

Every violation is a ``ValueError`` (or ``TypeError`` for a wrong type) whose message names the
field, shows the value (shortened) and says what the limit is.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

MAX_NAME_BYTES = 1000
MAX_REASON_BYTES = 10_000
DEFAULT_MAX_PAYLOAD_BYTES = 2 * 1024 * 1024
MAX_PAYLOAD_DEPTH = 100
PAYLOAD_LIMIT_ENV = "STALWART_MAX_PAYLOAD_BYTES"

# C0 and C1 controls and DEL; line/paragraph separators and bidirectional overrides, which
# reorder or split what a reader sees.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
# Free text (reasons) may hold line breaks and tabs, nothing else of the above.
_TEXT_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def shorten(value: Any, limit: int = 60) -> str:
    """``repr`` of a value, cut to about ``limit`` characters (control characters escaped)."""
    text = repr(value)
    if len(text) <= limit:
        return text
    size = f" ({len(value)} characters)" if isinstance(value, str | bytes) else ""
    return text[:limit - 1] + "…" + size


def max_payload_bytes() -> int:
    raw = os.environ.get(PAYLOAD_LIMIT_ENV)
    if not raw:
        return DEFAULT_MAX_PAYLOAD_BYTES
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1024:
        raise ValueError(f"{PAYLOAD_LIMIT_ENV}={shorten(raw)} must be a whole number of bytes, "
                         "at least 1024")
    return value


# Names that refer to what exists (a handle's workflow and run id) are checked only for what
# no store can hold: a run started before these rules, or by workflow code, may have an id
# with a newline, and it must still be reachable to be inspected or terminated.
MAX_REFERENCE_BYTES = 4 * MAX_NAME_BYTES


def check_reference(field: str, value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{field} must be a string, got {type(value).__name__} "
                        f"{shorten(value)}")
    if not value:
        raise ValueError(f"{field} must not be empty")
    size = _utf8_size(field, value)
    if size > MAX_REFERENCE_BYTES:
        raise ValueError(f"{field} {shorten(value)} is {size} UTF-8 bytes long; no stored "
                         f"name is longer than {MAX_REFERENCE_BYTES} bytes")
    if "\x00" in value:
        raise ValueError(f"{field} {shorten(value)} holds a NUL character, which no stored "
                         "name holds")
    return value


def check_optional_name(field: str, value: Any) -> str | None:
    return None if value is None else check_name(field, value)


def check_name(field: str, value: Any) -> str:
    """A name as the store keys it; returns it unchanged."""
    if not isinstance(value, str):
        raise TypeError(f"{field} must be a string, got {type(value).__name__} "
                        f"{shorten(value)}")
    if not value or value.isspace():
        raise ValueError(f"{field} must not be {'blank' if value else 'empty'}")
    size = _utf8_size(field, value)
    if size > MAX_NAME_BYTES:
        raise ValueError(f"{field} {shorten(value)} is {size} UTF-8 bytes long; the limit is "
                         f"{MAX_NAME_BYTES} bytes")
    match = _CONTROL.search(value)
    if match is not None:
        raise ValueError(f"{field} {shorten(value)} holds the control character "
                         f"U+{ord(match.group()):04X} at position {match.start()}; names "
                         "must be printable text (no NUL, newline, tab or escape sequences)")
    return value


def check_text(field: str, value: Any, limit: int = MAX_REASON_BYTES) -> str | None:
    """Free text such as a termination reason: line breaks allowed, other controls not."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{field} must be a string, got {type(value).__name__} "
                        f"{shorten(value)}")
    size = _utf8_size(field, value)
    if size > limit:
        raise ValueError(f"{field} {shorten(value)} is {size} UTF-8 bytes long; the limit is "
                         f"{limit} bytes")
    match = _TEXT_CONTROL.search(value)
    if match is not None:
        raise ValueError(f"{field} {shorten(value)} holds the control character "
                         f"U+{ord(match.group()):04X} at position {match.start()}")
    return value


def _utf8_size(field: str, value: str) -> int:
    try:
        return len(value.encode("utf-8"))
    except UnicodeEncodeError as error:
        raise ValueError(f"{field} {shorten(value)} holds invalid Unicode (a lone surrogate "
                         f"at position {error.start}); use valid UTF-8 text") from None


def check_payloads(field: str, payloads: Iterable[Mapping[str, Any]]) -> None:
    """Payloads in their store form (``{"metadata": ..., "data" | "data_b64": ...}``)."""
    limit = max_payload_bytes()
    for index, payload in enumerate(payloads):
        where = f"{field}[{index}]"
        data = payload.get("data")
        if isinstance(data, str):
            size = _utf8_size(where, data)
        else:
            encoded = payload.get("data_b64")
            size = len(encoded) * 3 // 4 if isinstance(encoded, str) else 0
        if size > limit:
            raise ValueError(f"{where} is {size} bytes once encoded; the limit is {limit} bytes "
                             f"per payload (set {PAYLOAD_LIMIT_ENV} to change it, or keep "
                             "large data outside the history and pass a reference)")
        metadata = payload.get("metadata") or {}
        if isinstance(data, str) and metadata.get("encoding") == "json/plain":
            check_json_text(where, data)


def check_json_text(field: str, text: str) -> Any:
    """Parses JSON text that must be standard JSON within the depth limit; returns the value."""
    # Brackets bound the depth from above; only a text with many of them needs the walk.
    may_be_deep = text.count("[") + text.count("{") > MAX_PAYLOAD_DEPTH
    try:
        value = _STRICT_JSON.decode(text)
    except _NotJson as error:
        raise ValueError(f"{field} holds {error}, which is not a JSON number; replace NaN and "
                         "infinite floats (e.g. with None or a string) before sending") from None
    except RecursionError:
        raise ValueError(f"{field} is nested too deeply; the limit is {MAX_PAYLOAD_DEPTH} "
                         "levels") from None
    except ValueError as error:
        raise ValueError(f"{field} is not valid JSON: {error}") from None
    if may_be_deep:
        check_depth(field, value)
    return value


def check_value(field: str, value: Any) -> None:
    """A plain JSON-like Python value: finite numbers, bounded depth."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, float) and (item != item or item in (float("inf"), float("-inf"))):
            raise ValueError(f"{field} holds {item!r}, which is not a JSON number; replace NaN "
                             "and infinite floats before sending")
        if isinstance(item, dict | list | tuple):
            if depth > MAX_PAYLOAD_DEPTH:
                raise ValueError(f"{field} is nested more than {MAX_PAYLOAD_DEPTH} levels deep")
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)


def check_depth(field: str, value: Any) -> None:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > MAX_PAYLOAD_DEPTH:
                raise ValueError(f"{field} is nested more than {MAX_PAYLOAD_DEPTH} levels deep")
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)


class _NotJson(ValueError):
    pass


def _refuse_constant(name: str) -> Any:
    raise _NotJson(name)


# One decoder for every check: ``json.loads`` with an option builds a new decoder (and its
# scanner) on each call, and the client checks every payload it sends.
_STRICT_JSON = json.JSONDecoder(parse_constant=_refuse_constant)


def dumps_strict(value: Any, **options: Any) -> str:
    """``json.dumps`` whose output every JSON reader accepts: NaN and infinities (which a
    worker's result may hold) are written as the strings "NaN", "Infinity", "-Infinity"."""
    try:
        return json.dumps(value, allow_nan=False, **options)
    except ValueError:
        return json.dumps(_finite(value), allow_nan=False, **options)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
