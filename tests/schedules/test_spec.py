"""Schedule times: cron forms, calendars, intervals, skips, bounds, time zones, jitter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from stalwart._schedules.spec import (
    CompiledSpec,
    SpecError,
    cron_workflow_next,
    jitter_fraction,
    parse_cron,
    workflow_id_for,
)
from stalwart.client import (
    ScheduleCalendarSpec,
    ScheduleIntervalSpec,
    ScheduleRange,
    ScheduleSpec,
)


def ts(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> float:
    return datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp()


def utc(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


def times(spec: ScheduleSpec, after: float, count: int) -> list[datetime]:
    return [utc(nominal) for nominal, _ in CompiledSpec(spec).times("s", after, count)]


def test_cron_five_fields_every_fifteen_minutes() -> None:
    got = times(ScheduleSpec(cron_expressions=["*/15 * * * *"]), ts(2026, 1, 1, 10, 7), 3)
    assert got == [datetime(2026, 1, 1, 10, 15, tzinfo=UTC),
                   datetime(2026, 1, 1, 10, 30, tzinfo=UTC),
                   datetime(2026, 1, 1, 10, 45, tzinfo=UTC)]


def test_cron_weekday_names_and_ranges_and_lists() -> None:
    # 09:30 Monday to Friday; 2026-01-02 is a Friday.
    got = times(ScheduleSpec(cron_expressions=["30 9 * * mon-fri"]), ts(2026, 1, 2, 12), 2)
    assert got == [datetime(2026, 1, 5, 9, 30, tzinfo=UTC),
                   datetime(2026, 1, 6, 9, 30, tzinfo=UTC)]
    got = times(ScheduleSpec(cron_expressions=["0 8,20 1 jan,jul *"]), ts(2026, 1, 1), 3)
    assert got == [datetime(2026, 1, 1, 8, tzinfo=UTC), datetime(2026, 1, 1, 20, tzinfo=UTC),
                   datetime(2026, 7, 1, 8, tzinfo=UTC)]


def test_cron_sunday_as_seven_and_day_fields_combine_with_and() -> None:
    # Temporal ANDs day-of-month and day-of-week: the 13th that is a Friday.
    got = times(ScheduleSpec(cron_expressions=["0 0 13 * 5"]), ts(2026, 1, 1), 2)
    assert got == [datetime(2026, 2, 13, tzinfo=UTC), datetime(2026, 3, 13, tzinfo=UTC)]
    assert times(ScheduleSpec(cron_expressions=["0 12 * * 7"]), ts(2026, 1, 1), 1) == \
        [datetime(2026, 1, 4, 12, tzinfo=UTC)]


def test_cron_six_and_seven_field_forms() -> None:
    six = times(ScheduleSpec(cron_expressions=["0 0 1 1 * 2028"]), ts(2026, 5, 1), 2)
    assert six == [datetime(2028, 1, 1, tzinfo=UTC)]
    seven = times(ScheduleSpec(cron_expressions=["*/20 0 12 * * * *"]), ts(2026, 5, 1), 3)
    assert seven == [datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC),
                     datetime(2026, 5, 1, 12, 0, 20, tzinfo=UTC),
                     datetime(2026, 5, 1, 12, 0, 40, tzinfo=UTC)]


@pytest.mark.parametrize(("shorthand", "expected"), [
    ("@hourly", datetime(2026, 3, 4, 6, tzinfo=UTC)),
    ("@daily", datetime(2026, 3, 5, tzinfo=UTC)),
    ("@weekly", datetime(2026, 3, 8, tzinfo=UTC)),
    ("@monthly", datetime(2026, 4, 1, tzinfo=UTC)),
    ("@yearly", datetime(2027, 1, 1, tzinfo=UTC)),
])
def test_cron_shorthands(shorthand: str, expected: datetime) -> None:
    assert times(ScheduleSpec(cron_expressions=[shorthand]), ts(2026, 3, 4, 5, 10), 1) == \
        [expected]


def test_cron_every_form_and_time_zone_prefix_and_comment() -> None:
    parsed = parse_cron("@every 90m/15m")
    assert parsed.intervals[0].every == timedelta(minutes=90)
    assert parsed.intervals[0].offset == timedelta(minutes=15)
    parsed = parse_cron("CRON_TZ=Europe/Berlin 0 9 * * * # morning")
    assert parsed.time_zone_name == "Europe/Berlin"
    assert parsed.calendars[0].comment == "morning"
    got = times(ScheduleSpec(cron_expressions=["CRON_TZ=Europe/Berlin 0 9 * * *"]),
                ts(2026, 1, 10), 1)
    assert got == [datetime(2026, 1, 10, 8, tzinfo=UTC)]  # 09:00 CET is 08:00 UTC


@pytest.mark.parametrize(("expression", "points_at"), [
    ("61 * * * *", "field 1 (minute): value 61 is outside 0-59"),
    ("0 24 * * *", "field 2 (hour): value 24 is outside 0-23"),
    ("0 0 0 * *", "field 3 (day_of_month): value 0 is outside 1-31"),
    ("0 0 * 13 *", "field 4 (month): value 13 is outside 1-12"),
    ("0 0 * * funday", "field 5 (day_of_week): value 'funday' is not a number"),
    ("0 0 * * 1/0", "step '0' must be a positive"),
    ("5-1 * * * *", "range '5-1' ends before it starts"),
    ("* * *", "expected 5 fields"),
    ("@every 0x", "must be a whole number with a unit"),
])
def test_cron_errors_point_at_the_bad_field(expression: str, points_at: str) -> None:
    with pytest.raises(SpecError) as info:
        CompiledSpec(ScheduleSpec(cron_expressions=[expression]))
    assert points_at in str(info.value)
    assert "ScheduleSpec.cron_expressions[0]" in str(info.value)


def test_calendar_spec_with_ranges_and_steps() -> None:
    calendar = ScheduleCalendarSpec(hour=(ScheduleRange(8, 18, 5),), minute=(ScheduleRange(30),),
                                    day_of_week=(ScheduleRange(1, 5),))
    got = times(ScheduleSpec(calendars=[calendar]), ts(2026, 1, 2, 14), 4)
    # Friday 2026-01-02 at 18:30, then Monday 08:30, 13:30, 18:30.
    assert got == [datetime(2026, 1, 2, 18, 30, tzinfo=UTC),
                   datetime(2026, 1, 5, 8, 30, tzinfo=UTC),
                   datetime(2026, 1, 5, 13, 30, tzinfo=UTC),
                   datetime(2026, 1, 5, 18, 30, tzinfo=UTC)]


def test_calendar_defaults_mean_midnight_daily_and_year_limits_it() -> None:
    calendar = ScheduleCalendarSpec(year=(ScheduleRange(2026),), month=(ScheduleRange(12),),
                                    day_of_month=(ScheduleRange(30, 31),))
    got = times(ScheduleSpec(calendars=[calendar]), ts(2026, 1, 1), 5)
    assert got == [datetime(2026, 12, 30, tzinfo=UTC), datetime(2026, 12, 31, tzinfo=UTC)]


def test_calendar_that_never_matches_has_no_times() -> None:
    never = ScheduleCalendarSpec(month=(ScheduleRange(2),), day_of_month=(ScheduleRange(30),))
    assert times(ScheduleSpec(calendars=[never]), ts(2026, 1, 1), 1) == []


@pytest.mark.parametrize(("calendar", "message"), [
    (ScheduleCalendarSpec(hour=(ScheduleRange(25),)), "calendars[0].hour: range 25-25 is "
     "outside 0-23"),
    (ScheduleCalendarSpec(day_of_week=(ScheduleRange(0, 9),)), "calendars[0].day_of_week: "
     "range 0-9 is outside 0-6"),
    (ScheduleCalendarSpec(minute=(ScheduleRange(0, 59, -5),)), "step -5 must be positive"),
])
def test_calendar_errors_name_field_and_value(calendar: ScheduleCalendarSpec,
                                              message: str) -> None:
    with pytest.raises(SpecError) as info:
        CompiledSpec(ScheduleSpec(calendars=[calendar]))
    assert message in str(info.value)


def test_interval_with_offset_counts_from_the_epoch() -> None:
    spec = ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(hours=1),
                                                        offset=timedelta(minutes=5))])
    got = times(spec, ts(2026, 6, 1, 10, 5), 3)
    assert got == [datetime(2026, 6, 1, 11, 5, tzinfo=UTC),
                   datetime(2026, 6, 1, 12, 5, tzinfo=UTC),
                   datetime(2026, 6, 1, 13, 5, tzinfo=UTC)]


@pytest.mark.parametrize("every", [timedelta(0), timedelta(seconds=-5),
                                   timedelta(milliseconds=10)])
def test_interval_of_zero_negative_or_subsecond_is_refused(every: timedelta) -> None:
    with pytest.raises(SpecError, match=r"intervals\[0\].every .* at least 1 second"):
        CompiledSpec(ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]))


def test_union_of_specs_minus_skip_within_bounds() -> None:
    spec = ScheduleSpec(
        intervals=[ScheduleIntervalSpec(every=timedelta(hours=6))],
        cron_expressions=["30 1 * * *"],
        skip=[ScheduleCalendarSpec(hour=(ScheduleRange(12),))],
        start_at=datetime(2026, 1, 1, 1, tzinfo=UTC),
        end_at=datetime(2026, 1, 1, 23, tzinfo=UTC))
    got = times(spec, ts(2025, 12, 31), 10)
    assert got == [datetime(2026, 1, 1, 1, 30, tzinfo=UTC),
                   datetime(2026, 1, 1, 6, tzinfo=UTC),
                   datetime(2026, 1, 1, 18, tzinfo=UTC)]


def test_end_before_start_is_refused_and_naive_datetimes_are_utc() -> None:
    with pytest.raises(SpecError, match=r"end_at .* is before start_at"):
        CompiledSpec(ScheduleSpec(start_at=datetime(2026, 2, 1, tzinfo=UTC),
                                  end_at=datetime(2026, 1, 1, tzinfo=UTC)))
    # Naive datetimes are UTC, as temporalio's protobuf Timestamp.FromDatetime reads them.
    assert CompiledSpec(ScheduleSpec(start_at=datetime(2026, 2, 1))).start_at == \
        datetime(2026, 2, 1, tzinfo=UTC).timestamp()
    with pytest.raises(SpecError, match="time_zone_name 'Mars/Base' is not a known"):
        CompiledSpec(ScheduleSpec(time_zone_name="Mars/Base"))


def test_time_zone_calendar_follows_daylight_saving() -> None:
    spec = ScheduleSpec(calendars=[ScheduleCalendarSpec(hour=(ScheduleRange(9),))],
                        time_zone_name="America/New_York")
    got = times(spec, ts(2026, 3, 6), 3)  # DST starts 2026-03-08 in New York
    assert got == [datetime(2026, 3, 6, 14, tzinfo=UTC), datetime(2026, 3, 7, 14, tzinfo=UTC),
                   datetime(2026, 3, 8, 13, tzinfo=UTC)]
    fixed = ScheduleSpec(calendars=[ScheduleCalendarSpec(hour=(ScheduleRange(9),))],
                         time_zone_name="Etc/GMT-5")  # a fixed UTC+5
    assert times(fixed, ts(2026, 3, 6), 1) == [datetime(2026, 3, 6, 4, tzinfo=UTC)]


def test_jitter_is_bounded_deterministic_and_below_the_next_time() -> None:
    spec = CompiledSpec(ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(minutes=1))],
                                     jitter=timedelta(seconds=20)))
    pairs = spec.times("jittery", ts(2026, 1, 1), 200)
    offsets = [actual - nominal for nominal, actual in pairs]
    assert all(0 <= offset < 20 for offset in offsets)
    assert len({round(offset, 6) for offset in offsets}) > 100  # spread, not constant
    assert pairs == spec.times("jittery", ts(2026, 1, 1), 200)  # same in any process
    assert spec.times("other", ts(2026, 1, 1), 200) != pairs  # seeded by the schedule too
    # A jitter longer than the interval is capped by the gap to the following time.
    wide = CompiledSpec(ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(seconds=10))],
                                     jitter=timedelta(hours=1)))
    assert all(0 <= actual - nominal < 10
               for nominal, actual in wide.times("w", ts(2026, 1, 1), 100))
    assert 0 <= jitter_fraction("x", 1.0) < 1


def test_workflow_id_is_action_id_and_scheduled_second() -> None:
    assert workflow_id_for("my-wf", ts(2026, 11, 23, 12)) == "my-wf-2026-11-23T12:00:00Z"


def test_cron_workflow_every_steps_from_the_run_not_the_epoch() -> None:
    # Differential scenario interval_alignment: Temporal's first run is due exactly one
    # interval after its start, and later runs step from the previous run's due time.
    assert cron_workflow_next("@every 7s", 1000.25) == 1007.25
    assert cron_workflow_next("@every 7s", 1010.0, anchor=1007.25) == 1014.25
    assert cron_workflow_next("@every 7s", 1030.0, anchor=1007.25) == 1035.25
    assert cron_workflow_next("@every 7s", 1014.25, anchor=1007.25) == 1014.25
    # Calendar crons keep their wall-clock times.
    assert cron_workflow_next("*/5 * * * *", 61.0) == 300.0
