"""Request validation for the JSON API: every rejection names the field and says what fits.

Malformed requests (unparseable JSON, a query parameter of the wrong form) are 400; a JSON body
of the wrong shape is 422. Names and payloads are checked by the same rules as the Python
client's (``_model.limits``), so nothing a client sends reaches the store in a form the store
would choke on (lone surrogates, NUL, names past an index entry, integers past SQLite's range,
NaN or infinite numbers).
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from .._model import limits
from .._store.base import ExecutionStatus
from .readmodel import ListFilter

MAX_BODY_BYTES = 4 * 1024 * 1024
MAX_NAME_CHARS = limits.MAX_NAME_BYTES
MAX_REASON_CHARS = limits.MAX_REASON_BYTES
MAX_LIST_LIMIT = 1000
MAX_HISTORY_LIMIT = 1000
MAX_WAIT_SECONDS = 300.0
# Ten years: far beyond any real timeout and well inside what timedelta and SQLite hold.
MAX_TIMEOUT_SECONDS = 10 * 365 * 24 * 3600.0
MAX_OFFSET = 2**62

STATUS_NAMES = {s.name.lower(): s for s in ExecutionStatus}


class ApiError(Exception):
    """An error answer: HTTP status, machine-readable code, readable message."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            error["field"] = self.field
        return {"error": error}


def parse_json_body(raw: bytes) -> dict[str, Any]:
    """The request body as a JSON object (an empty body counts as ``{}``)."""
    if not raw.strip():
        return {}
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "invalid_json", "request body is not UTF-8 text") from None
    try:
        data = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError:
        raise ApiError(400, "invalid_json", "request body is nested too deeply") from None
    except ValueError as error:
        raise ApiError(400, "invalid_json", f"request body is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise ApiError(422, "validation_error",
                       f"request body must be a JSON object, got {type(data).__name__}")
    try:
        limits.check_depth("request body", data)
    except ValueError as error:
        raise ApiError(422, "validation_error", str(error)) from None
    # Lone surrogates parse (JSON allows "\ud800") but cannot be stored as UTF-8.
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ApiError(400, "invalid_json",
                       "request body holds invalid Unicode (a lone surrogate escape)") from None
    return data


def parse_json_value(text: str) -> Any:
    """One JSON value, by the same rules as a request body (no NaN, no infinities, no lone
    surrogates, bounded depth)."""
    try:
        value = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
        limits.check_depth("the value", value)
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except RecursionError:
        raise ApiError(422, "validation_error", "the value is nested too deeply") from None
    except UnicodeEncodeError:
        raise ApiError(422, "validation_error",
                       "the value holds invalid Unicode (a lone surrogate)") from None
    except ValueError as error:
        raise ApiError(422, "validation_error", f"not valid JSON ({error})") from None
    return value


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text[:40]} is too large for a floating-point number")
    return number


class Body:
    """Typed access to the fields of a JSON object body; rejects fields it was not asked for."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data
        self._seen: set[str] = set()

    def _get(self, name: str) -> Any:
        self._seen.add(name)
        return self._data.get(name)

    def text(self, name: str, *, required: bool = False, limit: int = MAX_NAME_CHARS
             ) -> str | None:
        value = self._get(name)
        if value is None:
            if required:
                raise ApiError(422, "validation_error", f"field '{name}' is required", name)
            return None
        if not isinstance(value, str):
            raise ApiError(422, "validation_error",
                           f"field '{name}' must be a string, got {_json_type(value)}", name)
        try:
            if limit == MAX_NAME_CHARS:
                limits.check_name(f"field '{name}'", value)
            else:
                limits.check_text(f"field '{name}'", value, limit)
        except ValueError as error:
            raise ApiError(422, "validation_error", str(error), name) from None
        return value

    def required_text(self, name: str) -> str:
        value = self.text(name, required=True)
        assert value is not None
        return value

    def args(self, name: str = "args") -> list[Any]:
        value = self._get(name)
        if value is None:
            return []
        if not isinstance(value, list):
            raise ApiError(422, "validation_error",
                           f"field '{name}' must be a JSON array of arguments, got "
                           f"{_json_type(value)}; wrap a single argument as [value]", name)
        return value

    def number(self, name: str, *, default: float | None, minimum: float, maximum: float
               ) -> float | None:
        value = self._get(name)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ApiError(422, "validation_error",
                           f"field '{name}' must be a number of seconds, got {_json_type(value)}",
                           name)
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if not math.isfinite(number) or number <= minimum or number > maximum:
            raise ApiError(422, "validation_error",
                           f"field '{name}' must be more than {minimum:g} and at most "
                           f"{maximum:g} seconds, got {value}", name)
        return number

    def choice(self, name: str, choices: dict[str, int]) -> int | None:
        value = self._get(name)
        if value is None:
            return None
        if not isinstance(value, str) or value.upper() not in choices:
            raise ApiError(422, "validation_error",
                           f"field '{name}' must be one of {', '.join(sorted(choices))}, got "
                           f"{json.dumps(value)[:100]}", name)
        return choices[value.upper()]

    def done(self) -> None:
        unknown = sorted(set(self._data) - self._seen)
        if unknown:
            raise ApiError(422, "validation_error",
                           f"unknown field '{unknown[0]}'; accepted fields: "
                           f"{', '.join(sorted(self._seen))}", unknown[0])


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


# -- query parameters -------------------------------------------------------------------------

def query_text(params: Any, name: str) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    try:
        return limits.check_name(f"query parameter '{name}'", value)
    except ValueError as error:
        raise ApiError(400, "invalid_parameter", str(error), name) from None


def query_int(params: Any, name: str, *, default: int, minimum: int, maximum: int) -> int:
    value = params.get(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ApiError(400, "invalid_parameter",
                       f"query parameter '{name}' must be an integer, got {value[:50]!r}",
                       name) from None
    if not minimum <= number <= maximum:
        raise ApiError(400, "invalid_parameter",
                       f"query parameter '{name}' must be between {minimum} and {maximum}, "
                       f"got {number}", name)
    return number


def query_time(params: Any, name: str) -> float | None:
    """An ISO 8601 time (UTC unless it says otherwise) or Unix seconds."""
    value = query_text(params, name)
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        pass
    else:
        if math.isfinite(number) and abs(number) < 1e11:
            return number
        raise ApiError(400, "invalid_parameter",
                       f"query parameter '{name}' is not a usable Unix time: {value[:50]!r}", name)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "T", 1))
    except ValueError:
        raise ApiError(400, "invalid_parameter",
                       f"query parameter '{name}' must be an ISO 8601 time such as "
                       f"2025-01-31T12:00:00Z or Unix seconds, got {value[:50]!r}", name) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def list_filter(params: Any) -> ListFilter:
    status_text = query_text(params, "status")
    status = None
    if status_text is not None:
        status = STATUS_NAMES.get(status_text.lower())
        if status is None:
            raise ApiError(400, "invalid_parameter",
                           f"query parameter 'status' must be one of "
                           f"{', '.join(STATUS_NAMES)}, got {status_text[:50]!r}", "status")
    return ListFilter(
        status=status, workflow_type=query_text(params, "workflow_type"),
        workflow_id_prefix=query_text(params, "id_prefix"),
        task_queue=query_text(params, "task_queue"),
        started_after=query_time(params, "started_after"),
        started_before=query_time(params, "started_before"))
