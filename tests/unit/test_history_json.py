"""Histories in Temporal's JSON form: exact round trips and Temporal's field shapes."""

from __future__ import annotations

import base64
import json
import random
from typing import Any

from stalwart._model.events import EventType, HistoryEvent
from stalwart._model.history_json import history_from_json, history_to_json
from stalwart.converter import DataConverter, _payload_to_json

T0 = 1_700_000_000.25


def stored(value: Any) -> dict[str, Any]:
    return _payload_to_json(DataConverter.default.payload_converter.to_payload(value))


def sample_history() -> list[HistoryEvent]:
    return [
        HistoryEvent(1, EventType.WORKFLOW_EXECUTION_STARTED, T0, {
            "workflow_id": "wf-1", "workflow_type": "Agent", "task_queue": "tq",
            "input": [stored({"prompt": "héllo"}), stored(None), stored(b"\x00\x01")],
            "execution_timeout": None, "random_seed": 42, "first_run_id": "run-1",
            "continued_run_id": None, "attempt": 1, "identity": "client"}),
        HistoryEvent(2, EventType.WORKFLOW_TASK_COMPLETED, T0 + 0.5,
                     {"workflow_time": T0 + 0.5, "identity": "worker"}),
        HistoryEvent(3, EventType.ACTIVITY_TASK_SCHEDULED, T0 + 0.5, {
            "seq": 1, "activity_id": "1", "activity_type": "call_llm", "task_queue": "tq",
            "input": [stored("prompt")], "schedule_to_close_timeout": None,
            "start_to_close_timeout": 30.0, "heartbeat_timeout": None,
            "retry_policy": {"initial_interval": 1.0, "backoff_coefficient": 2.0,
                             "maximum_interval": None, "maximum_attempts": 0,
                             "non_retryable_error_types": []},
            "cancellation_type": 0}),
        HistoryEvent(4, EventType.TIMER_STARTED, T0 + 0.5,
                     {"seq": 1, "timer_id": "1", "start_to_fire_timeout": 60}),
        HistoryEvent(5, EventType.ACTIVITY_TASK_FAILED, T0 + 2, {
            "seq": 1, "attempt": 3, "failure": {
                "message": "failed", "source": "Stalwart", "stack_trace": "",
                "activity_failure_info": {"activity_type": "call_llm", "retry_state": 4},
                "cause": {"message": "rate limited", "application_failure_info": {
                    "type": "RateLimit", "non_retryable": False,
                    "details": [stored({"retry_after": 3})], "next_retry_delay": None}}}}),
        HistoryEvent(6, EventType.WORKFLOW_EXECUTION_SIGNALED, T0 + 3,
                     {"signal_name": "user_message", "input": [], "identity": "client"}),
        HistoryEvent(7, EventType.WORKFLOW_TASK_COMPLETED, T0 + 3,
                     {"workflow_time": T0 + 3, "identity": "worker"}),
        HistoryEvent(8, EventType.MARKER_RECORDED, T0 + 3,
                     {"marker_name": "core_patch", "patch_id": "v2", "deprecated": False}),
        HistoryEvent(9, EventType.WORKFLOW_EXECUTION_COMPLETED, T0 + 3,
                     {"result": stored(["done", 1])}),
    ]


def test_history_json_round_trip_is_exact() -> None:
    history = sample_history()

    exported = history_to_json(history)
    reimported = history_from_json(json.loads(json.dumps(exported)))

    assert reimported == history
    assert [type(e.event_type) for e in reimported] == [str] * len(history)


def test_history_json_event_types_use_temporal_enum_names() -> None:
    exported = history_to_json(sample_history())

    assert [e["eventType"] for e in exported["events"]] == [
        "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED", "EVENT_TYPE_WORKFLOW_TASK_COMPLETED",
        "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED", "EVENT_TYPE_TIMER_STARTED",
        "EVENT_TYPE_ACTIVITY_TASK_FAILED", "EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED",
        "EVENT_TYPE_WORKFLOW_TASK_COMPLETED", "EVENT_TYPE_MARKER_RECORDED",
        "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED",
    ]


def test_history_json_event_shape_matches_temporal() -> None:
    first = history_to_json(sample_history())["events"][0]

    assert first["eventId"] == "1"
    assert first["eventTime"] == "2023-11-14T22:13:20.250000000Z"
    attrs = first["workflowExecutionStartedEventAttributes"]
    assert attrs["workflowId"] == "wf-1"
    assert attrs["randomSeed"] == 42
    assert attrs["continuedRunId"] is None


def test_history_json_payloads_are_base64_in_temporal_form() -> None:
    attrs = history_to_json(sample_history())["events"][0][
        "workflowExecutionStartedEventAttributes"]

    json_payload, null_payload, bytes_payload = attrs["input"]["payloads"]
    assert json_payload == {
        "metadata": {"encoding": base64.b64encode(b"json/plain").decode()},
        "data": base64.b64encode('{"prompt":"héllo"}'.encode()).decode(),
    }
    assert null_payload == {"metadata": {"encoding": base64.b64encode(b"binary/null").decode()},
                            "data": ""}
    assert base64.b64decode(bytes_payload["data"]) == b"\x00\x01"


def test_history_json_nested_failure_payloads_are_converted() -> None:
    event = history_to_json(sample_history())["events"][4]
    cause = event["activityTaskFailedEventAttributes"]["failure"]["cause"]

    details = cause["applicationFailureInfo"]["details"]["payloads"]
    assert json.loads(base64.b64decode(details[0]["data"])) == {"retry_after": 3}
    assert cause["applicationFailureInfo"]["nextRetryDelay"] is None


def test_history_json_empty_payload_list_round_trips() -> None:
    signal = sample_history()[5]

    exported = history_to_json([signal])

    assert exported["events"][0]["workflowExecutionSignaledEventAttributes"]["input"] == []
    assert history_from_json(exported) == [signal]


def test_history_json_accepts_plain_event_type_names() -> None:
    data = {"events": [{"eventId": "1", "eventTime": "2024-01-01T00:00:00Z",
                        "eventType": "TimerFired",
                        "timerFiredEventAttributes": {"seq": 1, "timerId": "1"}}]}

    (event,) = history_from_json(data)

    assert event.event_type == EventType.TIMER_FIRED
    assert event.attributes == {"seq": 1, "timer_id": "1"}
    assert event.timestamp == 1_704_067_200.0


def test_history_json_float_timestamps_round_trip_exactly() -> None:
    # Store timestamps are time.time() floats with sub-microsecond digits.
    rng = random.Random(5)
    events = [HistoryEvent(i, EventType.TIMER_FIRED, rng.uniform(1e9, 4e9), {"seq": i})
              for i in range(1, 2001)]

    exported = history_to_json(events)

    assert history_from_json(json.loads(json.dumps(exported))) == events
    assert exported["events"][0]["eventTime"].endswith("Z")


def test_history_json_reads_temporal_nanosecond_and_offset_times() -> None:
    data = {"events": [
        {"eventId": "1", "eventTime": "2024-01-01T00:00:00.123456789Z",
         "eventType": "EVENT_TYPE_TIMER_FIRED", "timerFiredEventAttributes": {}},
        {"eventId": "2", "eventTime": "2024-01-01T01:00:00.5+01:00",
         "eventType": "EVENT_TYPE_TIMER_FIRED", "timerFiredEventAttributes": {}},
    ]}

    first, second = history_from_json(data)

    assert first.timestamp == 1_704_067_200.123456789
    assert second.timestamp == 1_704_067_200.5
