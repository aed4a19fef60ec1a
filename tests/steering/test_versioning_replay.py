"""Changing workflow code safely: ``workflow.patched``/``deprecate_patch`` and the Replayer
that checks recorded histories against new code."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest

from stalwart import activity, workflow
from stalwart._model.events import HistoryEvent
from stalwart.client import Client, WorkflowHistory
from stalwart.exceptions import NondeterminismError
from stalwart.worker import Replayer, Worker
from tests.helpers.waiting import eventually

from ._support import ACTIVITY_TIMEOUT, RESULT_TIMEOUT

# Which branch each live (not replaying) run took.
branches: list[str] = []


@activity.defn
async def pack(order: str) -> str:
    return f"packed {order}"


@activity.defn
async def pack_with_care(order: str) -> str:
    return f"carefully packed {order}"


@activity.defn
async def ship(parcel: str) -> str:
    return f"shipped {parcel}"


@workflow.defn(name="Shipping")
class ShippingV1:
    """The code as first deployed."""

    @workflow.run
    async def run(self, order: str) -> str:
        parcel = await workflow.execute_activity(pack, order,
                                                 start_to_close_timeout=ACTIVITY_TIMEOUT)
        shipped: str = await workflow.execute_activity(
            ship, parcel, start_to_close_timeout=ACTIVITY_TIMEOUT)
        return shipped


@workflow.defn(name="Shipping")
class ShippingV2:
    """A compatible change: new runs pack with care, old runs keep their path."""

    @workflow.run
    async def run(self, order: str) -> str:
        if workflow.patched("careful-packing"):
            if not workflow.unsafe.is_replaying():
                branches.append("new")
            parcel = await workflow.execute_activity(pack_with_care, order,
                                                     start_to_close_timeout=ACTIVITY_TIMEOUT)
        else:
            if not workflow.unsafe.is_replaying():
                branches.append("old")
            parcel = await workflow.execute_activity(pack, order,
                                                     start_to_close_timeout=ACTIVITY_TIMEOUT)
        shipped: str = await workflow.execute_activity(
            ship, parcel, start_to_close_timeout=ACTIVITY_TIMEOUT)
        return shipped


@workflow.defn(name="Shipping")
class ShippingV3:
    """Once no run without the patch remains: the old branch is gone."""

    @workflow.run
    async def run(self, order: str) -> str:
        workflow.deprecate_patch("careful-packing")
        parcel = await workflow.execute_activity(pack_with_care, order,
                                                 start_to_close_timeout=ACTIVITY_TIMEOUT)
        shipped: str = await workflow.execute_activity(
            ship, parcel, start_to_close_timeout=ACTIVITY_TIMEOUT)
        return shipped


@workflow.defn(name="Shipping")
class ShippingV4:
    """The patch call is gone too: runs that recorded its marker under V3 still replay."""

    @workflow.run
    async def run(self, order: str) -> str:
        parcel = await workflow.execute_activity(pack_with_care, order,
                                                 start_to_close_timeout=ACTIVITY_TIMEOUT)
        shipped: str = await workflow.execute_activity(
            ship, parcel, start_to_close_timeout=ACTIVITY_TIMEOUT)
        return shipped


@workflow.defn(name="Shipping")
class ShippingBroken:
    """An incompatible change: the first activity differs, with no patch to guard it."""

    @workflow.run
    async def run(self, order: str) -> str:
        parcel = await workflow.execute_activity(pack_with_care, order,
                                                 start_to_close_timeout=ACTIVITY_TIMEOUT)
        shipped: str = await workflow.execute_activity(
            ship, parcel, start_to_close_timeout=ACTIVITY_TIMEOUT)
        return shipped


ACTIVITIES = [pack, pack_with_care, ship]


async def run_with(client: Client, task_queue: str, cls: type, workflow_id: str) -> str:
    async with Worker(client, task_queue=task_queue, workflows=[cls], activities=ACTIVITIES):
        handle = await client.start_workflow("Shipping", "book", id=workflow_id,
                                             task_queue=task_queue)
        result: str = await asyncio.wait_for(handle.result(), RESULT_TIMEOUT)
        return result


def patch_id(marker: HistoryEvent) -> str:
    """The patch a ``core_patch`` marker records, from its JSON payload as Temporal has it."""
    payload = marker.attributes["details"]["patch-data"]["payloads"][0]
    return str(json.loads(base64.b64decode(payload["data"]))["id"])


async def history_of(client: Client, workflow_id: str) -> WorkflowHistory:
    return await client.get_workflow_handle(workflow_id).fetch_history()


@pytest.fixture(autouse=True)
def _reset() -> None:
    branches.clear()


async def test_replayer_replays_history_from_store(client: Client, task_queue: str) -> None:
    assert await run_with(client, task_queue, ShippingV1, "old") == "shipped packed book"
    result = await Replayer(workflows=[ShippingV1]).replay_workflow(
        await history_of(client, "old"))
    assert result.replay_failure is None


async def test_replayer_replays_history_round_tripped_through_json(client: Client,
                                                                   task_queue: str) -> None:
    await run_with(client, task_queue, ShippingV1, "old")
    exported = (await history_of(client, "old")).to_json()
    imported = WorkflowHistory.from_json("old", exported)
    assert len(imported.events) == len((await history_of(client, "old")).events)
    result = await Replayer(workflows=[ShippingV1]).replay_workflow(imported)
    assert result.replay_failure is None


async def test_replayer_incompatible_change_names_event_and_commands(
        client: Client, task_queue: str) -> None:
    await run_with(client, task_queue, ShippingV1, "old")
    history = await history_of(client, "old")
    scheduled = next(e for e in history.events if e.event_type == "ActivityTaskScheduled")
    with pytest.raises(NondeterminismError) as info:
        await Replayer(workflows=[ShippingBroken]).replay_workflow(history)
    message = str(info.value)
    assert f"event {scheduled.event_id}" in message
    assert "'pack'" in message  # what the history has
    assert "'pack_with_care'" in message  # what the code now produces
    assert "patched" in message  # and how to fix it


async def test_patched_old_history_replays_through_old_branch(client: Client,
                                                              task_queue: str) -> None:
    await run_with(client, task_queue, ShippingV1, "old")
    result = await Replayer(workflows=[ShippingV2]).replay_workflow(
        await history_of(client, "old"))
    assert result.replay_failure is None
    assert branches == []  # replay only, no live run took a branch


async def test_patched_new_run_takes_new_branch(client: Client, task_queue: str) -> None:
    assert await run_with(client, task_queue, ShippingV2, "new") == \
        "shipped carefully packed book"
    assert branches == ["new"]
    events = (await history_of(client, "new")).events
    markers = [e for e in events if e.event_type == "MarkerRecorded"]
    assert [patch_id(m) for m in markers] == ["careful-packing"]
    result = await Replayer(workflows=[ShippingV2]).replay_workflow(
        await history_of(client, "new"))
    assert result.replay_failure is None


async def test_patched_running_workflow_keeps_old_branch_after_deploy(
        client: Client, task_queue: str) -> None:
    """A run started by old code and resumed by new code stays on the old branch."""
    async with Worker(client, task_queue=task_queue, workflows=[ShippingV1],
                      activities=[ship]):  # ``pack`` is missing: the run stalls after start
        handle = await client.start_workflow("Shipping", "book", id="mid",
                                             task_queue=task_queue)

        async def scheduled() -> bool:
            return any(e.event_type == "ActivityTaskScheduled"
                       for e in (await handle.fetch_history()).events)

        await eventually(scheduled, what="the first activity to be scheduled")
    async with Worker(client, task_queue=task_queue, workflows=[ShippingV2],
                      activities=ACTIVITIES):
        assert await asyncio.wait_for(handle.result(), RESULT_TIMEOUT) == \
            "shipped packed book"
    assert "new" not in branches


async def test_deprecate_patch_replays_patched_history_and_marks_new_runs(
        client: Client, task_queue: str) -> None:
    await run_with(client, task_queue, ShippingV2, "patched")
    result = await Replayer(workflows=[ShippingV3]).replay_workflow(
        await history_of(client, "patched"))
    assert result.replay_failure is None
    assert await run_with(client, task_queue, ShippingV3, "deprecated") == \
        "shipped carefully packed book"
    events = (await history_of(client, "deprecated")).events
    markers = [e for e in events if e.event_type == "MarkerRecorded"]
    assert [patch_id(m) for m in markers] == ["careful-packing"]


async def test_a_deprecated_patch_marker_is_optional_on_replay_both_ways(
        client: Client, task_queue: str) -> None:
    # As temporalio's Replayer does: code without the deprecate_patch call replays a history
    # that has its marker (V3 -> V4), and code with it replays one recorded with plain
    # patched() code that never reached it (here: the marker of another patch).
    assert await run_with(client, task_queue, ShippingV3, "deprecated") == \
        "shipped carefully packed book"
    result = await Replayer(workflows=[ShippingV4]).replay_workflow(
        await history_of(client, "deprecated"))
    assert result.replay_failure is None
    assert await run_with(client, task_queue, ShippingV4, "plain") == \
        "shipped carefully packed book"
    result = await Replayer(workflows=[ShippingV3]).replay_workflow(
        await history_of(client, "plain"))
    assert result.replay_failure is None
    # A marker of a patch that is not deprecated stays required.
    await run_with(client, task_queue, ShippingV2, "patched-v2")
    with pytest.raises(NondeterminismError, match="core_patch 'careful-packing'"):
        await Replayer(workflows=[ShippingV4]).replay_workflow(
            await history_of(client, "patched-v2"))


async def test_replay_workflows_collects_failures(client: Client, task_queue: str) -> None:
    await run_with(client, task_queue, ShippingV1, "old")
    await run_with(client, task_queue, ShippingV2, "new")
    old, new = await history_of(client, "old"), await history_of(client, "new")
    # The first deployment's code replays its own run but not the patched one.
    results = await Replayer(workflows=[ShippingV1]).replay_workflows(
        [old, new], raise_on_replay_failure=False)
    assert list(results.replay_failures) == [new.run_id]
    assert isinstance(results.replay_failures[new.run_id], NondeterminismError)
    results = await Replayer(workflows=[ShippingV2]).replay_workflows(
        [old, new], raise_on_replay_failure=False)
    assert results.replay_failures == {}
    with pytest.raises(NondeterminismError):
        await Replayer(workflows=[ShippingV1]).replay_workflows([old, new])
