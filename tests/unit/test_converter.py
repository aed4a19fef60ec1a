"""Payload and failure conversion: round trips, readable errors, picklable exceptions."""

from __future__ import annotations

import datetime
import enum
import json
import pickle
import uuid
from dataclasses import dataclass, field
from typing import Any, Optional, Union

import pydantic
import pytest

from stalwart import exceptions as exc
from stalwart.converter import (
    AdvancedJSONEncoder,
    BinaryNullPayloadConverter,
    CompositePayloadConverter,
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    EncodingPayloadConverter,
    JSONPlainPayloadConverter,
    JSONTypeConverter,
    Payload,
    _payload_from_json,
    _payload_to_json,
    value_to_type,
)

converter = DataConverter.default
payloads = converter.payload_converter
failures = converter.failure_converter


def round_trip(value: Any, hint: Any = None) -> Any:
    """Through a payload and its store form, as a value travels through the store."""
    stored = _payload_to_json(payloads.to_payload(value))
    return payloads.from_payload(_payload_from_json(stored), hint)


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


@dataclass
class Address:
    street: str
    zip_code: int


@dataclass
class Customer:
    name: str
    address: Address
    tags: list[str] = field(default_factory=list)
    previous: list[Address] = field(default_factory=list)
    color: Color = Color.RED
    born: datetime.date | None = None


class Message(pydantic.BaseModel):
    role: str
    content: str
    tokens: int = 0


class Conversation(pydantic.BaseModel):
    messages: list[Message]
    started: datetime.datetime


@pytest.mark.parametrize("value", [
    None, True, False, 0, -7, 2**53, 1.5, "", "héllo ✓", [], {}, [1, "a", None],
    {"a": {"b": [1, 2, {"c": None}]}, "d": [[1], [2, 3]]},
])
def test_round_trip_plain_values(value: Any) -> None:
    assert round_trip(value) == value


def test_round_trip_none_and_bytes_use_binary_encodings() -> None:
    none_payload = payloads.to_payload(None)
    bytes_payload = payloads.to_payload(b"\x00\xffraw")

    assert none_payload.encoding == "binary/null"
    assert bytes_payload.encoding == "binary/plain"
    assert round_trip(None) is None
    assert round_trip(b"\x00\xffraw") == b"\x00\xffraw"
    assert _payload_to_json(bytes_payload) == {"metadata": {"encoding": "binary/plain"},
                                               "data_b64": "AP9yYXc="}


def test_json_payload_store_form_is_readable_text() -> None:
    # The bytes are temporalio's: keys sorted, non-ASCII escaped.
    assert _payload_to_json(payloads.to_payload({"k": "ü", "a": 1})) == {
        "metadata": {"encoding": "json/plain"}, "data": '{"a":1,"k":"\\u00fc"}'}
    assert payloads.from_payload(payloads.to_payload({"k": "ü", "a": 1})) == {"a": 1, "k": "ü"}


def test_round_trip_nested_dataclasses() -> None:
    customer = Customer("Ada", Address("Main St", 12345), ["vip"],
                        [Address("Old Rd", 1), Address("Older Rd", 2)], Color.BLUE,
                        datetime.date(1815, 12, 10))

    result = round_trip(customer, Customer)

    assert result == customer
    assert isinstance(result.previous[1], Address)
    assert result.color is Color.BLUE


def test_round_trip_dataclass_missing_field_uses_default() -> None:
    assert value_to_type(Customer, {"name": "x", "address": {"street": "s", "zip_code": 1}}) \
        == Customer("x", Address("s", 1))


def test_round_trip_pydantic_models() -> None:
    conversation = Conversation(
        messages=[Message(role="user", content="hi"), Message(role="ai", content="yo",
                                                               tokens=3)],
        started=datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.UTC))

    result = round_trip(conversation, Conversation)

    assert result == conversation
    assert isinstance(result.messages[0], Message)


def test_round_trip_enums() -> None:
    assert round_trip(Color.BLUE, Color) is Color.BLUE
    assert round_trip(Level.HIGH, Level) is Level.HIGH
    assert round_trip(Color.RED) == "red"


@pytest.mark.parametrize(("value", "hint"), [
    (datetime.datetime(2024, 1, 2, 3, 4, 5, 678, tzinfo=datetime.UTC), datetime.datetime),
    (datetime.datetime(2024, 1, 2, 3, 4, 5), datetime.datetime),
    (datetime.date(2024, 2, 29), datetime.date),
    (datetime.time(23, 59, 1), datetime.time),
    (datetime.timedelta(days=1, seconds=3, microseconds=500), datetime.timedelta),
    (uuid.UUID("12345678-1234-5678-1234-567812345678"), uuid.UUID),
    (b"bytes in json", bytes),
])
def test_round_trip_typed_scalars(value: Any, hint: Any) -> None:
    result = value_to_type(hint, round_trip(value))

    assert result == value
    assert type(result) is type(value)


@pytest.mark.parametrize(("value", "hint", "expected"), [
    (None, Optional[Address], None),  # noqa: UP045 - the typing spelling is what users write
    ({"street": "s", "zip_code": 1}, Optional[Address], Address("s", 1)),  # noqa: UP045
    (3, Union[str, int], 3),  # noqa: UP007
    ("x", int | str, "x"),
    ([{"street": "a", "zip_code": 1}], list[Address], [Address("a", 1)]),
    ({"a": {"street": "b", "zip_code": 2}}, dict[str, Address], {"a": Address("b", 2)}),
    ({"1": "one"}, dict[str, str], {"1": "one"}),
    ([1, "a"], tuple[int, str], (1, "a")),
    ([1, 2, 3], tuple[int, ...], (1, 2, 3)),
    (["red", "blue"], list[Color], [Color.RED, Color.BLUE]),
    (["2024-01-01"], set[datetime.date], {datetime.date(2024, 1, 1)}),
    (1, float, 1.0),
])
def test_value_to_type_generic_hints(value: Any, hint: Any, expected: Any) -> None:
    result = value_to_type(hint, round_trip(value))

    assert result == expected
    assert type(result) is type(expected)


def test_value_to_type_union_mismatch_names_every_option() -> None:
    with pytest.raises(TypeError, match="matches none of"):
        value_to_type(int | Address, "text")


def test_value_to_type_wrong_primitive_names_both_types() -> None:
    with pytest.raises(TypeError, match="expected int, got str 'x'"):
        value_to_type(int, "x")
    with pytest.raises(TypeError, match="expected str, got int 3"):
        value_to_type(str, 3)


def test_value_to_type_numbers_convert_as_temporalio_does() -> None:
    # temporalio's converter turns any JSON number (a bool too) into the hinted number type.
    assert value_to_type(int, True) == 1 and type(value_to_type(int, True)) is int
    assert value_to_type(int, 2.0) == 2 and type(value_to_type(int, 2.0)) is int
    assert value_to_type(float, 3) == 3.0 and type(value_to_type(float, 3)) is float


@dataclass
class Basket:
    items: list[Any]


def test_unserializable_value_names_type_and_path() -> None:
    with pytest.raises(TypeError) as caught:
        payloads.to_payloads([Basket(items=[1, 2, object()])])

    message = str(caught.value)
    assert "args[0].items[2]" in message
    assert "builtins.object" in message


def test_unserializable_value_in_dict_and_later_argument_names_path() -> None:
    with pytest.raises(TypeError, match=r"args\[1\]\['key'\]\[0\].*set_iterator"):
        payloads.to_payloads(["fine", {"key": [iter(set())]}])


def test_unserializable_dict_key_names_the_key() -> None:
    with pytest.raises(TypeError, match=r"args\[0\]: dict key \(1, 2\) of type tuple"):
        payloads.to_payloads([{(1, 2): "v"}])


def test_unknown_encoding_is_a_non_retryable_decode_error() -> None:
    with pytest.raises(exc.ApplicationError, match="unknown encoding 'secret/aes'") as caught:
        payloads.from_payloads([Payload({"encoding": b"secret/aes"}, b"...")])

    assert caught.value.non_retryable
    assert caught.value.type == "PayloadDecodeError"


def _failure_round_trip(error: BaseException) -> BaseException:
    return failures.from_failure(failures.to_failure(error, payloads), payloads)


def test_failure_round_trip_application_error() -> None:
    error = exc.ApplicationError("rate limited", {"retry_after": 3}, "second", type="RateLimit",
                                 non_retryable=True,
                                 next_retry_delay=datetime.timedelta(seconds=7),
                                 category=exc.ApplicationErrorCategory.BENIGN)

    result = _failure_round_trip(error)

    assert isinstance(result, exc.ApplicationError)
    assert result.message == "rate limited"
    assert result.type == "RateLimit"
    assert result.non_retryable is True
    assert list(result.details) == [{"retry_after": 3}, "second"]
    assert result.next_retry_delay == datetime.timedelta(seconds=7)
    assert result.category == exc.ApplicationErrorCategory.BENIGN
    assert result.failure is not None
    assert result.failure["application_failure_info"]["type"] == "RateLimit"
    # Also read as temporalio reads its Failure message: fields as attributes.
    assert result.failure.message == "rate limited"
    assert result.failure.application_failure_info.type == "RateLimit"
    assert result.failure.HasField("application_failure_info")
    assert not result.failure.HasField("timeout_failure_info")
    assert result.failure.timeout_failure_info is None
    assert isinstance(result.failure.stack_trace, str)  # "" when absent, as in protobuf


def test_failure_of_plain_exception_keeps_class_name_and_stack_trace() -> None:
    try:
        raise KeyError("missing")
    except KeyError as raised:
        failure = failures.to_failure(raised, payloads)

    assert failure["application_failure_info"]["type"] == "KeyError"
    assert failure["application_failure_info"]["non_retryable"] is False
    assert "raise KeyError" in failure["stack_trace"]
    result = failures.from_failure(failure, payloads)
    assert isinstance(result, exc.ApplicationError)
    assert result.type == "KeyError"


def test_failure_with_unserializable_details_is_still_recorded() -> None:
    failure = failures.to_failure(exc.ApplicationError("x", object()), payloads)

    details = failure["application_failure_info"]["details"]
    assert "unserializable details" in payloads.from_payload(_payload_from_json(details[0]))


def test_failure_round_trip_timeout_error() -> None:
    error = exc.TimeoutError("heartbeat missed", type=exc.TimeoutType.HEARTBEAT,
                             last_heartbeat_details=[{"page": 4}])

    result = _failure_round_trip(error)

    assert isinstance(result, exc.TimeoutError)
    assert result.type == exc.TimeoutType.HEARTBEAT
    assert list(result.last_heartbeat_details) == [{"page": 4}]


def test_failure_round_trip_cancelled_error() -> None:
    result = _failure_round_trip(exc.CancelledError("stop", "why"))

    assert isinstance(result, exc.CancelledError)
    assert result.message == "stop"
    assert list(result.details) == ["why"]
    assert exc.is_cancelled_exception(result)


def test_failure_round_trip_activity_error_with_cause_chain() -> None:
    root = exc.ApplicationError("disk full", type="IOError")
    middle = exc.TimeoutError("took too long", type=exc.TimeoutType.START_TO_CLOSE)
    middle.__cause__ = root
    error = exc.ActivityError("activity failed", scheduled_event_id=5, started_event_id=6,
                              identity="w1", activity_type="save", activity_id="3",
                              retry_state=exc.RetryState.MAXIMUM_ATTEMPTS_REACHED)
    error.__cause__ = middle

    result = _failure_round_trip(error)

    assert isinstance(result, exc.ActivityError)
    assert (result.scheduled_event_id, result.started_event_id, result.identity,
            result.activity_type, result.activity_id, result.retry_state) == \
        (5, 6, "w1", "save", "3", exc.RetryState.MAXIMUM_ATTEMPTS_REACHED)
    assert isinstance(result.__cause__, exc.TimeoutError)
    assert result.__cause__.type == exc.TimeoutType.START_TO_CLOSE
    assert isinstance(result.__cause__.__cause__, exc.ApplicationError)
    assert result.__cause__.__cause__.type == "IOError"
    assert not exc.is_cancelled_exception(result)


def test_failure_round_trip_activity_cancelled_counts_as_cancellation() -> None:
    error = exc.ActivityError("cancelled", scheduled_event_id=1, started_event_id=2,
                              identity="", activity_type="a", activity_id="1",
                              retry_state=exc.RetryState.CANCEL_REQUESTED)
    error.__cause__ = exc.CancelledError()

    assert exc.is_cancelled_exception(_failure_round_trip(error))


def test_failure_round_trip_child_terminated_and_server_errors() -> None:
    child = exc.ChildWorkflowError("child failed", namespace="default", workflow_id="c",
                                   run_id="r", workflow_type="Child", initiated_event_id=3,
                                   started_event_id=4, retry_state=exc.RetryState.TIMEOUT)
    child_result = _failure_round_trip(child)
    terminated = _failure_round_trip(exc.TerminatedError("bye"))
    server = _failure_round_trip(exc.ServerError("refused", non_retryable=True))

    assert isinstance(child_result, exc.ChildWorkflowError)
    assert (child_result.workflow_id, child_result.run_id, child_result.retry_state) == \
        ("c", "r", exc.RetryState.TIMEOUT)
    assert isinstance(terminated, exc.TerminatedError)
    assert isinstance(server, exc.ServerError)
    assert server.non_retryable


def test_from_failure_without_info_is_a_failure_error() -> None:
    result = failures.from_failure({"message": "opaque"}, payloads)

    assert type(result) is exc.FailureError
    assert result.message == "opaque"


def _activity_error() -> exc.ActivityError:
    error = exc.ActivityError("failed", scheduled_event_id=1, started_event_id=2, identity="w",
                              activity_type="t", activity_id="1",
                              retry_state=exc.RetryState.NON_RETRYABLE_FAILURE)
    return error


@pytest.mark.parametrize("error", [
    exc.ApplicationError("m", {"d": 1}, type="T", non_retryable=True,
                         next_retry_delay=datetime.timedelta(seconds=2)),
    exc.TimeoutError("t", type=exc.TimeoutType.SCHEDULE_TO_CLOSE, last_heartbeat_details=[1]),
    exc.CancelledError("c", "detail"),
    exc.TerminatedError("gone"),
    exc.ServerError("s", non_retryable=True),
    _activity_error(),
    exc.ChildWorkflowError("c", namespace="n", workflow_id="w", run_id="r", workflow_type="T",
                           initiated_event_id=1, started_event_id=2, retry_state=None),
    exc.WorkflowAlreadyStartedError("wf", "Type", run_id="r1"),
    exc.WorkflowContinuedAsNewError("r2"),
    exc.WorkflowNotFoundError("missing"),
    exc.NondeterminismError("differs"),
    exc.StoreError("broken"),
    exc.WorkflowQueryFailedError("no handler"),
    exc.AsyncActivityCancelledError("gone"),
], ids=lambda e: type(e).__name__)
def test_public_exceptions_survive_pickling(error: exc.StalwartError) -> None:
    result = pickle.loads(pickle.dumps(error))

    assert type(result) is type(error)
    assert str(result) == str(error)
    for attribute in ("type", "non_retryable", "next_retry_delay", "workflow_id", "run_id",
                      "activity_type", "retry_state", "new_execution_run_id",
                      "scheduled_event_id"):
        if hasattr(error, attribute):
            assert getattr(result, attribute) == getattr(error, attribute), attribute
    for sequence in ("details", "last_heartbeat_details"):
        if hasattr(error, sequence):
            assert list(getattr(result, sequence)) == list(getattr(error, sequence)), sequence


@pytest.mark.parametrize("error", [
    exc.WorkflowFailureError(cause=exc.ApplicationError("inner", type="X")),
    exc.WorkflowUpdateFailedError(exc.ApplicationError("inner", type="X")),
], ids=lambda e: type(e).__name__)
def test_client_errors_pickle_with_their_cause(error: exc.StalwartError) -> None:
    result = pickle.loads(pickle.dumps(error))

    assert type(result) is type(error)
    assert str(result) == str(error)
    assert isinstance(result.cause, exc.ApplicationError)
    assert result.cause.type == "X"


class _Point:
    def __init__(self, x: int, y: int) -> None:
        self.x, self.y = x, y


class _PointAsText(EncodingPayloadConverter):
    @property
    def encoding(self) -> str:
        return "text/point"

    def to_payload(self, value: Any) -> Payload | None:
        if not isinstance(value, _Point):
            return None
        return Payload({"encoding": b"text/point"}, f"{value.x},{value.y}".encode())

    def from_payload(self, payload: Payload, type_hint: Any = None) -> Any:
        x, y = payload.data.decode().split(",")
        return _Point(int(x), int(y))


def test_composite_converter_tries_encodings_in_order() -> None:
    converter = CompositePayloadConverter(BinaryNullPayloadConverter(), _PointAsText(),
                                          JSONPlainPayloadConverter())
    payloads = converter.to_payloads([None, _Point(1, 2), {"a": 1}])
    assert [p.encoding for p in payloads] == ["binary/null", "text/point", "json/plain"]
    none, point, mapping = converter.from_payloads(payloads)
    assert none is None and (point.x, point.y) == (1, 2) and mapping == {"a": 1}
    with pytest.raises(TypeError, match="no payload converter takes a _Point"):
        CompositePayloadConverter(BinaryNullPayloadConverter()).to_payloads([_Point(0, 0)])


class _UpperText(EncodingPayloadConverter):
    """Takes every ``str`` (a converter placed before JSON that takes plain JSON values)."""

    @property
    def encoding(self) -> str:
        return "text/upper"

    def to_payload(self, value: Any) -> Payload | None:
        return Payload({"encoding": b"text/upper"}, value.upper().encode()) \
            if isinstance(value, str) else None

    def from_payload(self, payload: Payload, type_hint: Any = None) -> Any:
        return payload.data.decode()


def test_plain_json_values_reach_a_converter_placed_before_json() -> None:
    # Plain JSON values skip straight to JSON only past the built-in converters that decline
    # them; a converter of the application's in between still gets them, also when it is
    # added to an existing converter's mapping after first use.
    converter = DataConverter.default.payload_converter
    assert [p.encoding for p in converter.to_payloads(["a", 1, [2], {"b": 3}, True, 1.5])] \
        == ["json/plain"] * 6
    custom = CompositePayloadConverter(BinaryNullPayloadConverter(), _UpperText(),
                                       JSONPlainPayloadConverter())
    assert [p.encoding for p in custom.to_payloads(["a", 1])] == ["text/upper", "json/plain"]
    grown = CompositePayloadConverter(BinaryNullPayloadConverter(), JSONPlainPayloadConverter())
    assert grown.to_payloads(["a"])[0].encoding == "json/plain"
    grown.converters = {b"binary/null": BinaryNullPayloadConverter(),
                        b"text/upper": _UpperText(), b"json/plain": JSONPlainPayloadConverter()}
    assert grown.to_payloads(["a"])[0].data == b"A"


class _PointFromList(JSONTypeConverter):
    def to_typed_value(self, hint: Any, value: Any) -> Any:
        if hint is _Point:
            return _Point(*value)
        return JSONTypeConverter.Unhandled


def test_json_type_converters_run_before_the_default_and_inside_containers() -> None:
    json_converter = JSONPlainPayloadConverter(custom_type_converters=[_PointFromList()])
    payload = json_converter.to_payload([[3, 4], [5, 6]])
    assert payload is not None
    points = json_converter.from_payload(payload, list[_Point])
    assert [(p.x, p.y) for p in points] == [(3, 4), (5, 6)]
    assert json_converter.from_payload(payload, list[list[int]]) == [[3, 4], [5, 6]]


def test_advanced_json_encoder_handles_what_payloads_carry() -> None:
    @dataclass
    class Item:
        when: datetime.datetime
        id: uuid.UUID

    when = datetime.datetime(2026, 1, 2, tzinfo=datetime.UTC)
    text = json.dumps({"item": Item(when, uuid.UUID(int=1))}, cls=AdvancedJSONEncoder)
    assert json.loads(text) == {"item": {"when": when.isoformat(),
                                         "id": str(uuid.UUID(int=1))}}


def test_encoded_attributes_hide_message_and_stack_trace_in_a_payload() -> None:
    encoding = DataConverter(failure_converter_class=DefaultFailureConverterWithEncodedAttributes)
    try:
        try:
            raise ValueError("secret inner")
        except ValueError as inner:
            raise exc.ApplicationError("secret outer", type="Leak") from inner
    except exc.ApplicationError as error:
        failure = encoding.failure_converter.to_failure(error, encoding.payload_converter)
    assert failure["message"] == "Encoded failure" and failure["stack_trace"] == ""
    assert failure["cause"]["message"] == "Encoded failure"
    assert "secret" not in json.dumps({k: v for k, v in failure.items()
                                       if k not in ("encoded_attributes", "cause")})
    # Any converter reads it back (the writer chose to encode).
    rebuilt = DataConverter.default.failure_converter.from_failure(
        failure, DataConverter.default.payload_converter)
    assert isinstance(rebuilt, exc.ApplicationError) and rebuilt.message == "secret outer"
    assert rebuilt.type == "Leak" and "secret outer" in (rebuilt.failure or {})["stack_trace"]
    assert isinstance(rebuilt.__cause__, exc.ApplicationError)
    assert rebuilt.__cause__.message == "secret inner"
