"""History events read as temporalio reads them: the schema table against temporalio's own
descriptors, every recorded Temporal history (``tests/differential/fixtures``) read field by
field on both sides, and the reading rules themselves (defaults, presence, enums, times)."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from stalwart._model.proto_schema import MESSAGES
from stalwart.api.enums.v1 import EventType, RetryState, TimeoutType
from stalwart.api.history.v1 import Duration, History, HistoryEvent, Timestamp
from stalwart.client import WorkflowHistory

from .proto_walk import walk_event

ROOT = Path(__file__).resolve().parents[2]
COMPAT_PYTHON = ROOT / ".venv-compat" / "bin" / "python"
FIXTURES = sorted((ROOT / "tests" / "differential" / "fixtures").glob("*/*.json"))
SCHEMA = {name: {field.name: ("[]" if field.repeated else "{}" if field.mapped else "")
                 + field.kind for field in spec.fields.values()}
          for name, spec in MESSAGES.items()}


def _compat() -> Path:
    if not COMPAT_PYTHON.exists():
        message = "needs .venv-compat with temporalio: run scripts/compat"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return COMPAT_PYTHON


_DESCRIPTOR_CHECK = r"""
import json, sys
from google.protobuf.descriptor import FieldDescriptor as F
from temporalio.api.history.v1 import message_pb2
KINDS = {F.TYPE_STRING: "str", F.TYPE_INT64: "i64", F.TYPE_INT32: "i32", F.TYPE_UINT32: "u32",
         F.TYPE_BOOL: "bool", F.TYPE_DOUBLE: "f64", F.TYPE_FLOAT: "f32", F.TYPE_BYTES: "bytes"}
SPECIAL = {"google.protobuf.Timestamp": "Timestamp", "google.protobuf.Duration": "Duration",
           "temporal.api.common.v1.Payload": "Payload"}
found = {}
def visit(d):
    short = d.full_name.rsplit(".", 1)[-1]
    if short in found or d.full_name in SPECIAL:
        return
    found[short] = d
    for f in d.fields:
        if f.message_type is not None:
            visit(f.message_type)
visit(message_pb2.HistoryEvent.DESCRIPTOR)
from temporalio.api.workflowservice.v1 import request_response_pb2
visit(request_response_pb2.DescribeWorkflowExecutionResponse.DESCRIPTOR)
def kind(f):
    if f.message_type is not None and f.message_type.GetOptions().map_entry:
        return "{}" + kind(f.message_type.fields_by_name["value"])
    is_repeated = f.is_repeated if hasattr(f, "is_repeated") else f.label == F.LABEL_REPEATED
    repeated = "[]" if is_repeated else ""
    if f.message_type is not None:
        name = f.message_type.full_name
        return repeated + SPECIAL.get(name, name.rsplit(".", 1)[-1])
    if f.enum_type is not None:
        return repeated + f.enum_type.name
    return repeated + KINDS[f.type]
schema = json.load(sys.stdin)
problems = []
for message, fields in schema.items():
    d = found.get(message)
    if d is None:
        problems.append(f"{message}: no such message in temporalio")
        continue
    for field, ours in fields.items():
        f = d.fields_by_name.get(field)
        if f is None:
            problems.append(f"{message}.{field}: no such field in temporalio")
        elif kind(f) != ours:
            problems.append(f"{message}.{field}: ours {ours}, temporalio's {kind(f)}")
print(json.dumps(problems))
"""


def test_the_schema_table_agrees_with_temporalios_descriptors() -> None:
    done = subprocess.run([str(_compat()), "-c", _DESCRIPTOR_CHECK], input=json.dumps(SCHEMA),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


def test_recorded_temporal_histories_read_the_same_field_by_field() -> None:
    assert len(FIXTURES) > 100
    done = subprocess.run(
        [str(_compat()), str(Path(__file__).with_name("proto_walk.py")),
         *map(str, FIXTURES)], input=json.dumps(SCHEMA), capture_output=True, text=True,
        timeout=300)
    assert done.returncode == 0, done.stderr
    theirs = json.loads(done.stdout)
    compared = 0
    for path in FIXTURES:
        history = WorkflowHistory.from_json("fixture", path.read_text())
        ours = [walk_event(event, SCHEMA) for event in history.events]
        expected = theirs[str(path)]
        assert len(ours) == len(expected), path.name
        for mine, their in zip(ours, expected, strict=True):
            # Stalwart keeps an event's time as a float: to the microsecond, give or take one.
            (my_seconds, my_micros), (seconds, micros) = mine.pop("time"), their.pop("time")
            assert abs((my_seconds - seconds) * 1_000_000 + my_micros - micros) <= 1
            assert mine == their, f"{path.parent.name}/{path.name} event {their['id']}"
            compared += 1
    assert compared > 2000


def _event(event_type: str, attributes: dict[str, Any], at: float = 1.5) -> HistoryEvent:
    return History([HistoryEvent(7, event_type, at, attributes)]).events[0]


def test_event_type_is_the_name_and_equals_temporals_number() -> None:
    event = _event("TimerFired", {"timerId": "1", "startedEventId": "5"})
    assert event.event_type == "TimerFired"
    assert event.event_type == EventType.EVENT_TYPE_TIMER_FIRED == 18
    assert EventType.EVENT_TYPE_TIMER_FIRED == event.event_type  # noqa: SIM300 - the reflected comparison
    assert event.event_type != EventType.EVENT_TYPE_TIMER_STARTED
    assert event.event_type in {"TimerFired"}
    assert int(event.event_type) == 18
    assert EventType(event.event_type) is EventType.EVENT_TYPE_TIMER_FIRED
    assert EventType.Name(event.event_type) == "EVENT_TYPE_TIMER_FIRED"
    assert EventType.Value("EVENT_TYPE_TIMER_FIRED") == 18
    assert ("EVENT_TYPE_TIMER_FIRED", 18) in EventType.items()
    with pytest.raises(ValueError, match="EventType"):
        EventType.Value("EVENT_TYPE_NOPE")


def test_attributes_read_as_the_message_with_defaults_and_presence() -> None:
    event = _event("ActivityTaskFailed", {
        "failure": {"message": "boom", "applicationFailureInfo": {"type": "Bad",
                                                                  "nonRetryable": True}},
        "scheduledEventId": "5", "startedEventId": "6",
        "retryState": "RETRY_STATE_NON_RETRYABLE_FAILURE"})
    assert event.WhichOneof("attributes") == "activity_task_failed_event_attributes"
    assert event.HasField("activity_task_failed_event_attributes")
    assert not event.HasField("timer_fired_event_attributes")
    attributes = event.activity_task_failed_event_attributes
    assert attributes.scheduled_event_id == 5 and attributes.started_event_id == 6
    assert attributes.retry_state == RetryState.RETRY_STATE_NON_RETRYABLE_FAILURE
    assert attributes.identity == ""
    assert attributes.failure.WhichOneof("failure_info") == "application_failure_info"
    assert attributes.failure.application_failure_info.non_retryable is True
    assert not attributes.failure.HasField("cause")
    assert attributes.failure.cause.message == ""  # an unset message reads as an empty one
    assert attributes.failure.timeout_failure_info.timeout_type == \
        TimeoutType.TIMEOUT_TYPE_UNSPECIFIED
    with pytest.raises(ValueError, match="scheduled_event_id"):
        attributes.HasField("scheduled_event_id")
    with pytest.raises(AttributeError, match="no field 'nope'"):
        _ = attributes.nope
    # Another type's attributes read as an empty message, as protobuf's unset oneof member.
    assert event.timer_fired_event_attributes.started_event_id == 0
    with pytest.raises(AttributeError):
        _ = event.not_an_event_attributes


def test_times_durations_and_payloads() -> None:
    event = _event("ActivityTaskScheduled", {
        "activityType": {"name": "charge"}, "startToCloseTimeout": "2.500s",
        "input": {"payloads": [{"metadata": {"encoding": "anNvbi9wbGFpbg=="},
                                "data": "IngiOw=="}]}}, at=1_700_000_000.25)
    assert event.event_time == Timestamp(1_700_000_000, 250_000_000)
    assert event.event_time.ToDatetime() == datetime(2023, 11, 14, 22, 13, 20, 250000)
    assert event.event_time.ToDatetime(UTC).tzinfo is UTC
    assert event.event_time.ToJsonString() == "2023-11-14T22:13:20.25Z"
    attributes = event.activity_task_scheduled_event_attributes
    assert attributes.start_to_close_timeout == Duration(2, 500_000_000)
    assert attributes.start_to_close_timeout.ToTimedelta() == timedelta(seconds=2.5)
    assert attributes.heartbeat_timeout.ToTimedelta() == timedelta(0)
    (payload,) = attributes.input.payloads
    assert payload.metadata == {"encoding": b"json/plain"} and payload.data == b'"x";'
    assert attributes.activity_type.name == "charge"
