"""The in-process notifier: who a commit wakes, and how much room the pollers have."""

from __future__ import annotations

from stalwart._store.wakeup import EXTERNAL, Notifier


async def test_an_unknown_commit_elsewhere_wakes_every_waiter_but_the_sweepers() -> None:
    notifier = Notifier()
    poller = notifier.subscribe([("activity_task", "q"), ("activity_task", "*")])
    result = notifier.subscribe([("closed", "run")])
    sweeper = notifier.subscribe([("deadline", "*")])
    notifier.publish([EXTERNAL])
    # A sweeper reads the next due time on its own at least every 0.5 s.
    assert await poller.wait(0) and await result.wait(0)
    assert not await sweeper.wait(0)
    notifier.publish([("deadline", "")])
    assert await sweeper.wait(0)


async def test_room_adds_up_the_pollers_of_a_queue_once_each() -> None:
    notifier = Notifier()
    notifier.subscribe([("activity_task", "q"), ("activity_task", "*")], room=lambda: 3)
    notifier.subscribe([("activity_task", "*")], room=lambda: 2)
    notifier.subscribe([("activity_task", "other")], room=lambda: 7)
    notifier.subscribe([("activity_task", "q")])  # a waiter that claims nothing
    assert notifier.room(("activity_task", "q")) == 5
    assert notifier.room(("workflow_task", "q")) == 0


async def test_what_a_commit_hands_over_goes_to_the_waiters_of_its_key() -> None:
    notifier = Notifier()
    waiter = notifier.subscribe([("closed", "run")])
    other = notifier.subscribe([("closed", "other")])
    every = notifier.subscribe([("closed", "*")])
    notifier.publish([("closed", "run")], {("closed", "run"): "row"})
    assert await waiter.wait(0) and waiter.handed == {("closed", "run"): "row"}
    # A waiter on every key of the kind is woken, and reads what it wants itself.
    assert await every.wait(0) and every.handed == {}
    assert not await other.wait(0) and other.handed == {}
