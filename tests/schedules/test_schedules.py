"""Schedules end to end in one process: firing, overlap policies, steering, listing, time
skipping. Starts are made deterministic with backfills of a past year and triggers wherever
the test is about policy rather than about the clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from stalwart.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleBackfill,
    ScheduleCalendarSpec,
    ScheduleDescription,
    ScheduleHandle,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from stalwart.testing import WorkflowEnvironment
from stalwart.worker import Worker
from tests.helpers.waiting import eventually

from .workflows import Hold, Tick

# Only 2020 matches: no time of this spec falls due while a test runs, so every start a test
# sees comes from its own backfill or trigger.
PAST_HOURLY = "0 * * * * 2020"
BACKFILL_3 = ScheduleBackfill(start_at=datetime(2020, 1, 1, 0, tzinfo=UTC),
                              end_at=datetime(2020, 1, 1, 2, tzinfo=UTC))
IDS_3 = [f"hold-2020-01-01T0{h}:00:00Z" for h in range(3)]


@pytest.fixture
async def worker(client: Client, task_queue: str) -> AsyncIterator[Worker]:
    async with Worker(client, task_queue=task_queue, workflows=[Tick, Hold]) as running:
        yield running


def hold_schedule(task_queue: str, overlap: ScheduleOverlapPolicy,
                  **policy: object) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(Hold.run, "x", id="hold", task_queue=task_queue),
        spec=ScheduleSpec(cron_expressions=[PAST_HOURLY]),
        policy=SchedulePolicy(overlap=overlap, **policy))  # type: ignore[arg-type]


async def open_ids(client: Client) -> list[str]:
    rows = await client.store.list_executions(status=1, workflow_id_prefix="hold-")
    return sorted(r.workflow_id for r in rows)


async def all_runs(client: Client, prefix: str) -> list[str]:
    rows = await client.store.list_executions(workflow_id_prefix=prefix, limit=10_000)
    return sorted(r.workflow_id for r in rows)


async def finish(client: Client, workflow_id: str) -> None:
    await client.get_workflow_handle(workflow_id).signal(Hold.finish)


async def described(handle: ScheduleHandle) -> ScheduleDescription:
    return await handle.describe()


async def test_schedule_every_second_starts_workflows_named_by_scheduled_time(
        client: Client, task_queue: str, worker: Worker) -> None:
    handle = await client.create_schedule("every-second", Schedule(
        action=ScheduleActionStartWorkflow(Tick.run, "t", id="tick", task_queue=task_queue),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(seconds=1))])))

    async def three_done() -> list[str]:
        rows = await client.store.list_executions(status=2, workflow_id_prefix="tick-")
        return [r.workflow_id for r in rows] if len(rows) >= 3 else []

    done = await eventually(three_done, timeout=15, what="three scheduled runs completed")
    stamps = sorted(datetime.strptime(i.removeprefix("tick-"), "%Y-%m-%dT%H:%M:%SZ")
                    for i in done)
    assert all(b - a == timedelta(seconds=1) for a, b in pairwise(stamps))
    result = await client.get_workflow_handle(done[0]).result()
    assert result == "t"
    description = await handle.describe()
    assert description.info.num_actions >= 3
    recent = description.info.recent_actions
    assert {r.action.workflow_id for r in recent} >= set(done)  # type: ignore[attr-defined]
    assert all(r.started_at >= r.scheduled_at for r in recent)
    await handle.delete()


async def test_overlap_skip_starts_one_and_counts_the_rest(
        client: Client, task_queue: str, worker: Worker) -> None:
    handle = await client.create_schedule(
        "skip", hold_schedule(task_queue, ScheduleOverlapPolicy.SKIP), backfill=[BACKFILL_3])
    assert await open_ids(client) == IDS_3[:1]
    info = (await handle.describe()).info
    assert (info.num_actions, info.num_actions_skipped_overlap) == (1, 2)
    assert [r.workflow_id for r in info.running_actions] == IDS_3[:1]  # type: ignore[attr-defined]


async def test_overlap_allow_all_starts_every_time(
        client: Client, task_queue: str, worker: Worker) -> None:
    handle = await client.create_schedule(
        "all", hold_schedule(task_queue, ScheduleOverlapPolicy.ALLOW_ALL),
        backfill=[BACKFILL_3])
    assert await open_ids(client) == IDS_3
    assert len((await handle.describe()).info.running_actions) == 3


async def test_overlap_buffer_one_runs_one_more_after_the_running_one_closes(
        client: Client, task_queue: str, worker: Worker) -> None:
    handle = await client.create_schedule(
        "one", hold_schedule(task_queue, ScheduleOverlapPolicy.BUFFER_ONE),
        backfill=[BACKFILL_3])
    assert await open_ids(client) == IDS_3[:1]
    assert (await handle.describe()).info.num_actions_skipped_overlap == 1
    await finish(client, IDS_3[0])

    async def second_open() -> bool:
        return await open_ids(client) == [IDS_3[1]]

    await eventually(second_open, what="the buffered start to run after the first closed")
    await finish(client, IDS_3[1])

    async def settled() -> bool:
        return not (await described(handle)).info.running_actions

    await eventually(settled, what="no open run")
    assert await all_runs(client, "hold-") == IDS_3[:2]  # the third was dropped
    assert (await handle.describe()).info.num_actions == 2


async def test_overlap_buffer_all_runs_them_one_after_another(
        client: Client, task_queue: str, worker: Worker) -> None:
    await client.create_schedule(
        "buffer-all", hold_schedule(task_queue, ScheduleOverlapPolicy.BUFFER_ALL),
        backfill=[BACKFILL_3])
    for expected in IDS_3:
        async def only(expected: str = expected) -> bool:
            return await open_ids(client) == [expected]

        await eventually(only, what=f"{expected} running alone")
        await finish(client, expected)
    assert await all_runs(client, "hold-") == IDS_3


async def test_overlap_terminate_other_terminates_the_running_one(
        client: Client, task_queue: str, worker: Worker) -> None:
    handle = await client.create_schedule(
        "term", hold_schedule(task_queue, ScheduleOverlapPolicy.TERMINATE_OTHER),
        backfill=[BACKFILL_3])
    assert await open_ids(client) == IDS_3[2:]
    for workflow_id in IDS_3[:2]:
        row = await client.store.get_execution(workflow_id, None)
        assert row is not None and row.status == 5  # TERMINATED
    assert (await handle.describe()).info.num_actions == 3


async def test_overlap_cancel_other_starts_after_the_cancelled_run_closes(
        client: Client, task_queue: str, worker: Worker) -> None:
    handle = await client.create_schedule(
        "cancel", hold_schedule(task_queue, ScheduleOverlapPolicy.CANCEL_OTHER))
    await handle.backfill(ScheduleBackfill(start_at=BACKFILL_3.start_at,
                                           end_at=BACKFILL_3.start_at))

    async def first_cancelled_second_open() -> bool:
        first = await client.store.get_execution(IDS_3[0], None)
        return first is not None and first.status == 4 and await open_ids(client) == IDS_3[1:2]

    await handle.backfill(ScheduleBackfill(
        start_at=BACKFILL_3.start_at + timedelta(hours=1),
        end_at=BACKFILL_3.start_at + timedelta(hours=1)))
    await eventually(first_cancelled_second_open, what="cancelled first, second running")


async def test_pause_unpause_trigger_update_describe_delete(
        client: Client, task_queue: str, worker: Worker) -> None:
    handle = await client.create_schedule("steer", Schedule(
        action=ScheduleActionStartWorkflow(Tick.run, "t", id="steer", task_queue=task_queue),
        spec=ScheduleSpec(calendars=[ScheduleCalendarSpec(hour=(ScheduleRange(3),))]),
        state=ScheduleState(note="created")))
    description = await handle.describe()
    times = description.info.next_action_times
    assert len(times) == 10 and all(t.hour == 3 and t.minute == 0 for t in times)
    assert all(b - a == timedelta(days=1) for a, b in pairwise(times))
    assert description.schedule.state.note == "created"
    assert description.schedule.policy.catchup_window == timedelta(days=365)
    assert description.info.num_actions == 0 and description.info.last_updated_at is None

    await handle.pause(note="quiet please")
    description = await handle.describe()
    assert description.schedule.state.paused and description.schedule.state.note == \
        "quiet please"
    # Temporal lists the spec's next times while paused too (differential: interval_alignment).
    assert len(description.info.next_action_times) == 10

    await handle.trigger()  # runs even while paused
    description = await handle.describe()
    assert description.info.num_actions == 1
    started = description.info.recent_actions[0].action.workflow_id  # type: ignore[attr-defined]
    assert started.startswith("steer-")
    assert await client.get_workflow_handle(started).result() == "t"

    await handle.unpause()
    description = await handle.describe()
    assert not description.schedule.state.paused
    assert description.schedule.state.note == "Unpaused via Python SDK"
    assert description.info.last_updated_at is not None

    def to_every_minute(update: ScheduleUpdateInput) -> ScheduleUpdate:
        schedule = update.description.schedule
        schedule.spec = ScheduleSpec(cron_expressions=["* * * * *"])
        schedule.state.note = "every minute now"
        return ScheduleUpdate(schedule=schedule)

    await handle.update(to_every_minute)
    description = await handle.describe()
    assert description.schedule.state.note == "every minute now"
    gaps = [b - a for a, b in pairwise(description.info.next_action_times)]
    assert gaps and all(gap == timedelta(minutes=1) for gap in gaps)
    assert description.schedule.action.args  # type: ignore[attr-defined]

    await handle.update(lambda _: None)  # None leaves it as it was
    assert (await handle.describe()).schedule.state.note == "every minute now"

    await handle.delete()
    with pytest.raises(Exception, match="not found"):
        await handle.describe()


async def test_create_refuses_duplicate_ids_and_bad_specs(client: Client, task_queue: str
                                                          ) -> None:
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(Tick.run, "t", id="dup", task_queue=task_queue),
        spec=ScheduleSpec(cron_expressions=["@daily"]))
    await client.create_schedule("dup", schedule)
    with pytest.raises(ScheduleAlreadyRunningError, match="'dup' exists"):
        await client.create_schedule("dup", schedule)
    bad = Schedule(action=schedule.action, spec=ScheduleSpec(cron_expressions=["0 25 * * *"]))
    with pytest.raises(ValueError, match=r"field 2 \(hour\): value 25 is outside 0-23"):
        await client.create_schedule("bad", bad)
    with pytest.raises(ValueError, match="limited_actions=True needs remaining_actions"):
        await client.create_schedule("limited", Schedule(
            action=schedule.action, spec=schedule.spec,
            state=ScheduleState(limited_actions=True)))


async def test_list_schedules_reports_every_schedule(client: Client, task_queue: str) -> None:
    for name in ("b-list", "a-list"):
        await client.create_schedule(name, Schedule(
            action=ScheduleActionStartWorkflow("Tick", "t", id=name, task_queue=task_queue),
            spec=ScheduleSpec(cron_expressions=["@hourly"]),
            state=ScheduleState(paused=name == "b-list", note=name)),
            memo={"owner": name})
    listed = [entry async for entry in client.list_schedules()]
    assert [entry.id for entry in listed] == ["a-list", "b-list"]
    first, second = listed
    assert first.schedule is not None and second.schedule is not None
    assert first.schedule.action.workflow == "Tick"  # type: ignore[attr-defined]
    assert (first.schedule.state.paused, second.schedule.state.paused) == (False, True)
    assert first.info is not None and len(first.info.next_action_times) == 5
    assert await first.memo_value("owner") == "a-list"
    awaited = [entry.id async for entry in await client.list_schedules()]
    assert awaited == ["a-list", "b-list"]


async def test_limited_actions_stop_after_the_remaining_count(
        client: Client, task_queue: str, worker: Worker) -> None:
    handle = await client.create_schedule("limited", Schedule(
        action=ScheduleActionStartWorkflow(Tick.run, "t", id="lim", task_queue=task_queue),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(seconds=1))]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.ALLOW_ALL),
        state=ScheduleState(limited_actions=True, remaining_actions=2)))

    async def exhausted() -> bool:
        description = await handle.describe()
        return description.schedule.state.remaining_actions == 0 and \
            description.info.num_actions == 2

    await eventually(exhausted, timeout=15, what="two actions taken")
    assert (await handle.describe()).info.next_action_times == []
    assert len(await all_runs(client, "lim-")) == 2


async def test_pause_on_failure_pauses_with_a_note(
        client: Client, task_queue: str, worker: Worker) -> None:
    handle = await client.create_schedule(
        "fragile", hold_schedule(task_queue, ScheduleOverlapPolicy.SKIP, pause_on_failure=True),
        backfill=[ScheduleBackfill(start_at=BACKFILL_3.start_at, end_at=BACKFILL_3.start_at)])
    await client.get_workflow_handle(IDS_3[0]).signal(Hold.fail)

    async def paused() -> bool:
        return (await described(handle)).schedule.state.paused

    await eventually(paused, what="the schedule paused after the failure")
    assert IDS_3[0] in ((await handle.describe()).schedule.state.note or "")


async def test_hourly_and_daily_schedules_with_time_skipping() -> None:
    async with await WorkflowEnvironment.start_time_skipping() as env:
        client = env.client
        hourly = await client.create_schedule("hourly", Schedule(
            action=ScheduleActionStartWorkflow(Tick.run, "h", id="hourly", task_queue="skip"),
            spec=ScheduleSpec(cron_expressions=["@hourly"])))
        daily = await client.create_schedule("daily", Schedule(
            action=ScheduleActionStartWorkflow(Tick.run, "d", id="daily", task_queue="skip"),
            spec=ScheduleSpec(calendars=[ScheduleCalendarSpec(hour=(ScheduleRange(9),))])))
        async with Worker(client, task_queue="skip", workflows=[Tick]):
            # Any 48 hours hold two 09:00s; env.sleep skips through them timer by timer.
            await env.sleep(timedelta(days=2))
            assert (await daily.describe()).info.num_actions >= 2
        hours = await all_runs(client, "hourly-")
        days = await all_runs(client, "daily-")
        assert all(i.endswith(":00:00Z") for i in hours) and len(hours) >= 24
        stamps = [datetime.strptime(i.removeprefix("hourly-"), "%Y-%m-%dT%H:%M:%SZ")
                  for i in hours]
        assert all(b - a == timedelta(hours=1) for a, b in pairwise(stamps))
        assert all(i.endswith("T09:00:00Z") for i in days)
        info = (await hourly.describe()).info
        assert info.num_actions == len(hours) and info.num_actions_missed_catchup_window == 0
