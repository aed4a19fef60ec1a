"""RetryPolicy: validation that names the field, and the retry delay schedule."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest

from stalwart.common import RetryPolicy, SearchAttributeKey


@pytest.mark.parametrize(("kwargs", "error", "field"), [
    ({"initial_interval": timedelta(0)}, ValueError, "initial_interval"),
    ({"initial_interval": timedelta(seconds=-1)}, ValueError, "initial_interval"),
    ({"initial_interval": 5}, ValueError, "initial_interval"),
    ({"backoff_coefficient": 0.5}, ValueError, "backoff_coefficient"),
    ({"initial_interval": timedelta(seconds=10), "maximum_interval": timedelta(seconds=5)},
     ValueError, "maximum_interval"),
    ({"maximum_attempts": -1}, ValueError, "maximum_attempts"),
    ({"maximum_attempts": 2.5}, ValueError, "maximum_attempts"),
    ({"non_retryable_error_types": "ValueError"}, TypeError, "non_retryable_error_types"),
])
def test_retry_policy_invalid_field_is_named(kwargs: dict[str, Any], error: type[Exception],
                                             field: str) -> None:
    with pytest.raises(error, match=f"RetryPolicy.{field}"):
        RetryPolicy(**kwargs)


def test_retry_policy_string_error_types_suggests_a_list() -> None:
    with pytest.raises(TypeError, match=r"\['ValueError'\]"):
        RetryPolicy(non_retryable_error_types="ValueError")


def test_retry_policy_accepts_boundary_values() -> None:
    policy = RetryPolicy(initial_interval=timedelta(milliseconds=1), backoff_coefficient=1.0,
                         maximum_interval=timedelta(milliseconds=1), maximum_attempts=0,
                         non_retryable_error_types=[])

    assert policy.maximum_attempts == 0


def test_retry_policy_json_round_trip() -> None:
    policy = RetryPolicy(initial_interval=timedelta(seconds=2), backoff_coefficient=3.0,
                         maximum_interval=timedelta(minutes=1), maximum_attempts=5,
                         non_retryable_error_types=["Fatal"])

    assert RetryPolicy._from_json(policy._to_json()) == RetryPolicy(
        initial_interval=timedelta(seconds=2), backoff_coefficient=3.0,
        maximum_interval=timedelta(minutes=1), maximum_attempts=5,
        non_retryable_error_types=["Fatal"])
    assert RetryPolicy._from_json(RetryPolicy()._to_json()) == RetryPolicy()


def _delays(policy: RetryPolicy, attempts: int, seed: int = 0) -> list[float]:
    rng = random.Random(seed)
    return [policy._retry_delay(a, rng).total_seconds() for a in range(1, attempts + 1)]


def test_retry_delay_grows_by_backoff_within_jitter() -> None:
    policy = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                         maximum_interval=timedelta(hours=1))

    for attempt, delay in enumerate(_delays(policy, 8), start=1):
        nominal = 2.0 ** (attempt - 1)
        assert nominal * 0.9 <= delay <= nominal * 1.1, (attempt, delay)


def test_retry_delay_is_capped_by_maximum_interval() -> None:
    policy = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=10.0,
                         maximum_interval=timedelta(seconds=30))

    delays = _delays(policy, 20)

    assert max(delays) <= 30.0
    assert all(27.0 <= d <= 30.0 for d in delays[3:])


def test_retry_delay_default_cap_is_hundred_times_initial() -> None:
    policy = RetryPolicy(initial_interval=timedelta(seconds=2))

    delays = _delays(policy, 30)

    assert max(delays) <= 200.0
    assert delays[-1] >= 180.0


def test_retry_delay_jitter_stays_within_ten_percent_and_varies() -> None:
    policy = RetryPolicy(initial_interval=timedelta(seconds=10), backoff_coefficient=1.0)
    rng = random.Random(42)

    delays = [policy._retry_delay(1, rng).total_seconds() for _ in range(500)]

    assert all(9.0 <= d <= 11.0 for d in delays)
    # Jitter exists to spread retries out, so the draws must not collapse to one value.
    assert max(delays) - min(delays) > 1.0
    assert min(delays) < 10.0 < max(delays)


def test_retry_delay_same_seed_same_schedule() -> None:
    policy = RetryPolicy()

    assert _delays(policy, 10, seed=3) == _delays(policy, 10, seed=3)
    assert _delays(policy, 10, seed=3) != _delays(policy, 10, seed=4)


def test_search_attribute_keys_name_their_python_types() -> None:
    keys: list[SearchAttributeKey[Any]] = [
        SearchAttributeKey.for_text("a"), SearchAttributeKey.for_keyword("b"),
        SearchAttributeKey.for_int("c"), SearchAttributeKey.for_float("d"),
        SearchAttributeKey.for_bool("e"), SearchAttributeKey.for_datetime("f"),
        SearchAttributeKey.for_keyword_list("g")]
    assert [k.value_type for k in keys] == [str, str, int, float, bool, datetime,
                                            Sequence[str]]
    assert keys[-1].origin_value_type is Sequence
    assert isinstance(["x"], keys[-1].origin_value_type)


def test_retry_policy_settled_form_fills_in_the_maximum_interval() -> None:
    policy = RetryPolicy(initial_interval=timedelta(seconds=3), maximum_attempts=2)
    assert policy._to_settled_json()["maximum_interval"] == 300.0
    bounded = RetryPolicy(maximum_interval=timedelta(seconds=5))
    assert bounded._to_settled_json()["maximum_interval"] == 5.0
    assert RetryPolicy._from_json(policy._to_settled_json()).maximum_interval == \
        timedelta(seconds=300)
