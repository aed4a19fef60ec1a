"""When a schedule fires: cron parsing, calendar matching, intervals, skips, bounds, jitter.

A spec compiles once into a :class:`CompiledSpec` whose :meth:`CompiledSpec.next_nominal`
gives the first matching time strictly after a moment. Times are epoch seconds; calendar times
match wall-clock fields in the spec's time zone (UTC unless ``time_zone_name`` says otherwise),
intervals count from the Unix epoch in UTC, as Temporal's do.
"""

from __future__ import annotations

import bisect
import hashlib
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .types import ScheduleCalendarSpec, ScheduleIntervalSpec, ScheduleRange, ScheduleSpec

# (name, low, high) of each calendar field, in ScheduleCalendarSpec's order.
FIELD_BOUNDS: dict[str, tuple[int, int]] = {
    "second": (0, 59), "minute": (0, 59), "hour": (0, 23), "day_of_month": (1, 31),
    "month": (1, 12), "day_of_week": (0, 6), "year": (1970, 9999),
}
_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
_SHORTHANDS = {
    "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# How far ahead a search for the next matching time looks before deciding there is none.
SEARCH_YEARS = 100
_MAX_SKIPPED = 100_000
_US = 1_000_000


class SpecError(ValueError):
    """A schedule spec that cannot be used; the message names the field, the value and a fix."""


# -- cron ------------------------------------------------------------------------------------
def _cron_field_ranges(text: str, field: str, where: str) -> list[ScheduleRange]:
    low, high = FIELD_BOUNDS[field]
    names = _MONTHS if field == "month" else _DAYS if field == "day_of_week" else None
    if field == "day_of_week":
        high = 7  # cron's 7 is Sunday too

    def value(token: str) -> int:
        lowered = token.lower()
        if names is not None and lowered[:3] in names and not lowered.isdigit():
            return names.index(lowered[:3]) + (1 if field == "month" else 0)
        if not token.isdigit():
            raise SpecError(f"{where}: value {token!r} is not a number"
                            + (f" or a name ({names[0]}..{names[-1]})" if names else ""))
        number = int(token)
        if not low <= number <= high:
            raise SpecError(f"{where}: value {number} is outside {low}-{high}")
        return number

    ranges: list[ScheduleRange] = []
    for part in text.split(","):
        if not part:
            raise SpecError(f"{where}: empty list item in {text!r}")
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            if not step_text.isdigit() or int(step_text) < 1:
                raise SpecError(f"{where}: step {step_text!r} must be a positive "
                                "whole number")
            step = int(step_text)
        if part in ("*", "?"):
            start, end = low, FIELD_BOUNDS[field][1]
        elif "-" in part:
            first, last = part.split("-", 1)
            start, end = value(first), value(last)
            if end < start:
                raise SpecError(f"{where}: range {part!r} ends before it starts")
        else:
            start = value(part)
            end = FIELD_BOUNDS[field][1] if step > 1 else start
        if field == "day_of_week" and end == 7:
            if start == 7:
                start = end = 0
            else:
                end = 6
                if (7 - start) % step == 0:
                    ranges.append(ScheduleRange(0))
        ranges.append(ScheduleRange(start, end, step))
    return ranges


@dataclass
class ParsedCron:
    calendars: list[ScheduleCalendarSpec]
    intervals: list[ScheduleIntervalSpec]
    time_zone_name: str | None


def _duration(text: str, where: str) -> timedelta:
    match = re.fullmatch(r"(\d+)([smhd])", text)
    if match is None:
        raise SpecError(f"{where}: duration {text!r} must be a whole number with a unit s, m, "
                        "h or d, e.g. 30m")
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


def parse_cron(expression: str, where: str = "cron expression") -> ParsedCron:
    """Temporal's cron forms: 5 fields (minute hour day-of-month month day-of-week), 6 (plus
    year), 7 (second first, then year), ``@hourly`` and friends, ``@every 90m[/15m]``, an
    optional ``CRON_TZ=Zone`` or ``TZ=Zone`` prefix and a ``# comment`` suffix."""
    where = f"{where} {expression!r}"
    text = expression.split("#", 1)[0].strip()
    comment = expression.split("#", 1)[1].strip() if "#" in expression else None
    zone: str | None = None
    match = re.match(r"(?:CRON_TZ|TZ)=(\S+)\s+", text)
    if match is not None:
        zone = match.group(1)
        text = text[match.end():]
    if text.startswith("@every"):
        body = text[len("@every"):].strip()
        every_text, _, offset_text = body.partition("/")
        every = _duration(every_text, where)
        offset = _duration(offset_text, where) if offset_text else None
        return ParsedCron([], [ScheduleIntervalSpec(every, offset)], zone)
    text = _SHORTHANDS.get(text.lower(), text)
    fields = text.split()
    if len(fields) == 5:
        names = ["minute", "hour", "day_of_month", "month", "day_of_week"]
    elif len(fields) == 6:
        names = ["minute", "hour", "day_of_month", "month", "day_of_week", "year"]
    elif len(fields) == 7:
        names = ["second", "minute", "hour", "day_of_month", "month", "day_of_week", "year"]
    else:
        raise SpecError(f"{where}: expected 5 fields (minute hour day-of-month month "
                        "day-of-week), 6 (plus year) or 7 (second first), or a shorthand such "
                        f"as @hourly; got {len(fields)} field(s)")
    ranges: dict[str, list[ScheduleRange]] = {"second": [ScheduleRange(0)]}
    for position, (name, value) in enumerate(zip(names, fields, strict=True), start=1):
        field_where = f"{where} field {position} ({name})"
        if name == "year" and value in ("*", "?"):
            ranges["year"] = []
            continue
        ranges[name] = _cron_field_ranges(value, name, field_where)
    calendar = ScheduleCalendarSpec(
        second=tuple(ranges["second"]), minute=tuple(ranges["minute"]),
        hour=tuple(ranges["hour"]), day_of_month=tuple(ranges["day_of_month"]),
        month=tuple(ranges["month"]), day_of_week=tuple(ranges["day_of_week"]),
        year=tuple(ranges.get("year", [])), comment=comment)
    return ParsedCron([calendar], [], zone)


# -- compiled calendars ----------------------------------------------------------------------
def _expand(ranges: Sequence[ScheduleRange], field: str, where: str) -> list[int]:
    low, high = FIELD_BOUNDS[field]
    values: set[int] = set()
    for item in ranges:
        if not isinstance(item, ScheduleRange):
            raise SpecError(f"{where}.{field}: expected ScheduleRange items, got {item!r}")
        if item.step < 1:
            raise SpecError(f"{where}.{field}: step {item.step} must be positive (0 means 1)")
        if not (low <= item.start <= high and low <= item.end <= high):
            raise SpecError(f"{where}.{field}: range {item.start}-{item.end} is outside "
                            f"{low}-{high}; use values {low}-{high}")
        values.update(range(item.start, item.end + 1, item.step))
    return sorted(values)


class CompiledCalendar:
    def __init__(self, spec: ScheduleCalendarSpec, where: str) -> None:
        self.seconds = _expand(spec.second, "second", where)
        self.minutes = _expand(spec.minute, "minute", where)
        self.hours = _expand(spec.hour, "hour", where)
        self.days = frozenset(_expand(spec.day_of_month, "day_of_month", where))
        self.months = frozenset(_expand(spec.month, "month", where))
        self.weekdays = frozenset(_expand(spec.day_of_week, "day_of_week", where))
        self.years: frozenset[int] | None = (
            frozenset(_expand(spec.year, "year", where)) if spec.year else None)
        self.empty = not (self.seconds and self.minutes and self.hours and self.days
                          and self.months and self.weekdays) or self.years == frozenset()

    def _date_matches(self, day: date) -> bool:
        return (day.day in self.days and day.month in self.months
                and (day.isoweekday() % 7) in self.weekdays
                and (self.years is None or day.year in self.years))

    def matches(self, local: datetime) -> bool:
        return (self._date_matches(local.date()) and local.hour in self.hours
                and local.minute in self.minutes and local.second in self.seconds)

    def _times_of_day(self, start: tuple[int, int, int]) -> Iterator[tuple[int, int, int]]:
        """Matching (hour, minute, second) at or after ``start``, in order."""
        h0, m0, s0 = start
        for hour in self.hours[bisect.bisect_left(self.hours, h0):]:
            minutes = self.minutes if hour > h0 else \
                self.minutes[bisect.bisect_left(self.minutes, m0):]
            for minute in minutes:
                if hour == h0 and minute == m0:
                    seconds = self.seconds[bisect.bisect_left(self.seconds, s0):]
                else:
                    seconds = self.seconds
                for second in seconds:
                    yield hour, minute, second

    def next_after(self, after: float, zone: tzinfo) -> float | None:
        """The first matching whole second strictly after ``after``."""
        if self.empty:
            return None
        start = math.floor(after) + 1
        local = datetime.fromtimestamp(start, zone).replace(tzinfo=None)
        day = local.date()
        first_time: tuple[int, int, int] | None = (local.hour, local.minute, local.second)
        limit = day.year + SEARCH_YEARS
        while day.year <= limit:
            if self.years is not None and day.year not in self.years:
                later = [y for y in self.years if y > day.year]
                if not later:
                    return None
                day, first_time = date(min(later), 1, 1), None
                continue
            if day.month not in self.months:
                day, first_time = _first_of_next_month(day), None
                continue
            if self._date_matches(day):
                for hour, minute, second in self._times_of_day(first_time or (0, 0, 0)):
                    found = _to_epoch(datetime(day.year, day.month, day.day, hour, minute,
                                               second), zone)
                    if found is not None and found > after:
                        return found
            day, first_time = day + timedelta(days=1), None
        return None


def _first_of_next_month(day: date) -> date:
    return date(day.year + 1, 1, 1) if day.month == 12 else date(day.year, day.month + 1, 1)


def _to_epoch(wall: datetime, zone: tzinfo) -> float | None:
    """Epoch seconds of a wall-clock time; None for a time a DST gap skips."""
    aware = wall.replace(tzinfo=zone)
    epoch = aware.timestamp()
    if datetime.fromtimestamp(epoch, zone).replace(tzinfo=None) != wall:
        return None
    return epoch


# -- the compiled spec -----------------------------------------------------------------------
def resolve_zone(name: str | None) -> tzinfo:
    if not name or name == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise SpecError(f"ScheduleSpec.time_zone_name {name!r} is not a known IANA time zone "
                        f"({error}); use e.g. 'UTC' or 'Europe/Berlin'") from None


def naive_as_utc(value: datetime) -> datetime:
    """temporalio sends schedule times with protobuf's ``Timestamp.FromDatetime``, which
    reads a naive datetime as UTC (``datetime.utcnow()`` in Temporal's samples); so does
    Stalwart."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _epoch(value: datetime, where: str) -> float:
    return naive_as_utc(value).timestamp()


class CompiledSpec:
    """A validated spec that answers "when next?"."""

    def __init__(self, spec: ScheduleSpec) -> None:
        zone_name = spec.time_zone_name
        calendars: list[CompiledCalendar] = [
            CompiledCalendar(cal, f"ScheduleSpec.calendars[{i}]")
            for i, cal in enumerate(spec.calendars)]
        intervals: list[tuple[int, int]] = []
        for i, cron in enumerate(spec.cron_expressions):
            parsed = parse_cron(cron, f"ScheduleSpec.cron_expressions[{i}]")
            if parsed.time_zone_name:
                if zone_name and zone_name != parsed.time_zone_name:
                    raise SpecError(f"ScheduleSpec.cron_expressions[{i}] {cron!r} names time "
                                    f"zone {parsed.time_zone_name!r} but time_zone_name is "
                                    f"{zone_name!r}; give the zone in one place")
                zone_name = parsed.time_zone_name
            calendars += [CompiledCalendar(cal, f"ScheduleSpec.cron_expressions[{i}]")
                          for cal in parsed.calendars]
            intervals += [_interval(iv, f"ScheduleSpec.cron_expressions[{i}]")
                          for iv in parsed.intervals]
        intervals += [_interval(iv, f"ScheduleSpec.intervals[{i}]")
                      for i, iv in enumerate(spec.intervals)]
        self.zone = resolve_zone(zone_name)
        self.calendars = calendars
        self.intervals = intervals
        self.skip = [CompiledCalendar(cal, f"ScheduleSpec.skip[{i}]")
                     for i, cal in enumerate(spec.skip)]
        self.start_at = _epoch(spec.start_at, "ScheduleSpec.start_at") if spec.start_at \
            else None
        self.end_at = _epoch(spec.end_at, "ScheduleSpec.end_at") if spec.end_at else None
        if self.start_at is not None and self.end_at is not None \
                and self.end_at < self.start_at:
            raise SpecError(f"ScheduleSpec.end_at {spec.end_at} is before start_at "
                            f"{spec.start_at}; swap them or drop one")
        if spec.jitter is not None and spec.jitter < timedelta(0):
            raise SpecError(f"ScheduleSpec.jitter {spec.jitter} is negative; use a positive "
                            "duration or None")
        self.jitter = spec.jitter.total_seconds() if spec.jitter else 0.0

    def _raw_next(self, after: float) -> float | None:
        best: float | None = None
        for calendar in self.calendars:
            found = calendar.next_after(after, self.zone)
            if found is not None and (best is None or found < best):
                best = found
        after_us = math.floor(after * _US)
        for every_us, offset_us in self.intervals:
            found_us = ((after_us - offset_us) // every_us + 1) * every_us + offset_us
            found = found_us / _US
            if best is None or found < best:
                best = found
        return best

    def next_nominal(self, after: float) -> float | None:
        """The first time of the spec strictly after ``after`` (no jitter)."""
        if self.start_at is not None and after < self.start_at:
            after = math.nextafter(self.start_at, -math.inf)
        for _ in range(_MAX_SKIPPED):
            found = self._raw_next(after)
            if found is None or (self.end_at is not None and found > self.end_at):
                return None
            if not self.skip or not self._skipped(found):
                return found
            after = found
        return None

    def _skipped(self, when: float) -> bool:
        local = datetime.fromtimestamp(when, self.zone).replace(tzinfo=None)
        return any(cal.matches(local) for cal in self.skip)

    def actual(self, schedule_id: str, nominal: float) -> float:
        """The nominal time plus its jitter: deterministic per (schedule, time), below both
        ``jitter`` and the gap to the following time."""
        if self.jitter <= 0:
            return nominal
        following = self.next_nominal(nominal)
        limit = self.jitter if following is None else min(self.jitter, following - nominal)
        return nominal + jitter_fraction(schedule_id, nominal) * limit

    def times(self, schedule_id: str, after: float, count: int
              ) -> list[tuple[float, float]]:
        """The next ``count`` (nominal, actual) pairs after ``after``."""
        out: list[tuple[float, float]] = []
        while len(out) < count:
            nominal = self.next_nominal(after)
            if nominal is None:
                break
            out.append((nominal, self.actual(schedule_id, nominal)))
            after = nominal
        return out


def _interval(spec: ScheduleIntervalSpec, where: str) -> tuple[int, int]:
    if not isinstance(spec.every, timedelta):
        raise SpecError(f"{where}.every must be a timedelta, got {spec.every!r}")
    every_us = round(spec.every.total_seconds() * _US)
    if every_us < _US:
        raise SpecError(f"{where}.every is {spec.every}: an interval must be at least 1 second "
                        "(zero and negative intervals never advance)")
    offset_us = round(spec.offset.total_seconds() * _US) if spec.offset else 0
    if offset_us < 0:
        raise SpecError(f"{where}.offset is {spec.offset}: it must not be negative")
    return every_us, offset_us % every_us


def jitter_fraction(schedule_id: str, nominal: float) -> float:
    """A number in [0, 1) fixed by the schedule id and the time, so any process that fires
    the time computes the same jitter."""
    digest = hashlib.sha256(f"{schedule_id}\x00{nominal!r}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2 ** 64


def workflow_id_for(base_id: str, nominal: float) -> str:
    """Temporal's id for a scheduled start: the action's id and the scheduled second."""
    stamp = datetime.fromtimestamp(math.floor(nominal), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{base_id}-{stamp}"


__all__ = ["CompiledSpec", "SpecError", "jitter_fraction", "parse_cron", "workflow_id_for"]


def cron_workflow_next(expression: str, after: float, anchor: float | None = None) -> float:
    """The next time of a cron workflow's ``cron_schedule`` at or after ``after``: the same
    cron grammar a schedule's ``cron_expressions`` take.

    ``@every`` differs from a schedule's interval, as in Temporal (whose cron library steps
    from a time rather than from the epoch): it counts from ``anchor`` (the current run's due
    time; for a first run, ``after`` itself) in steps of the interval, to the first step not
    before ``after``. A first run is thus due exactly one interval after its start.
    """
    parsed = parse_cron(expression, "cron_schedule")
    if not parsed.calendars and len(parsed.intervals) == 1:
        every = parsed.intervals[0].every.total_seconds()
        found = (anchor if anchor is not None else after) + every
        if found < after:
            found += math.ceil((after - found) / every) * every
        return found
    spec = CompiledSpec(ScheduleSpec(cron_expressions=[expression]))
    result = spec.next_nominal(after)
    if result is None:
        raise SpecError(f"cron_schedule {expression!r} has no time after "
                        f"{datetime.fromtimestamp(after, UTC).isoformat()}; give a schedule "
                        "that recurs, e.g. '0 * * * *' for hourly")
    return result
