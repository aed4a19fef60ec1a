"""Histories recorded on a real Temporal server (``tests/differential/fixtures``, re-recorded
by ``scripts/record-temporal-histories``) replay on Stalwart's Replayer, and a changed
workflow is caught as nondeterministic with both sides named."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import ModuleType

import pytest

from stalwart import exceptions, workflow
from stalwart.client import WorkflowHistory
from stalwart.worker import Replayer

from . import harness, side

FIXTURES = sorted(harness.FIXTURE_DIR.glob("*/*.json"))
# Histories a real Temporal server wrote under conditions re-recording does not bring back
# (e.g. a loaded machine: local-activity markers split across heartbeated workflow tasks).
EXTRA_FIXTURES = sorted((Path(__file__).parent / "extra_fixtures").glob("*/*.json"))


@pytest.fixture
def load() -> Iterator[object]:
    """Loads a scenario module through the import swap, and removes both afterwards."""
    before = set(sys.modules)
    finder_count = len(sys.meta_path)
    side.install_import_swap()

    def load_scenario(name: str) -> ModuleType:
        return side.load_scenario(name)

    yield load_scenario
    if len(sys.meta_path) > finder_count:
        sys.meta_path.pop(0)
    for name in set(sys.modules) - before:
        if name == "temporalio" or name.startswith(("temporalio.", side.SCENARIOS)):
            del sys.modules[name]


def read_fixture(path: Path) -> WorkflowHistory:
    data = json.loads(path.read_text())
    workflow_id = data["events"][0]["workflowExecutionStartedEventAttributes"]["workflowId"]
    return WorkflowHistory.from_json(workflow_id, data)


def test_every_scenario_has_fixtures() -> None:
    recorded = {p.parent.name for p in FIXTURES}
    missing = sorted(set(harness.scenario_names()) - recorded - set(harness.RUNS_NOT_FOLLOWED))
    assert not missing, f"no recorded Temporal history for {missing}: run " \
        "scripts/record-temporal-histories " + " ".join(missing)


@pytest.mark.parametrize("path", FIXTURES + EXTRA_FIXTURES,
                         ids=[f"{p.parent.name}/{p.stem}" for p in FIXTURES + EXTRA_FIXTURES])
async def test_temporal_history_replays_on_stalwart(path: Path, load: object) -> None:
    scenario = load(path.parent.name)  # type: ignore[operator]
    history = read_fixture(path)
    await Replayer(workflows=scenario.WORKFLOWS,
                   plugins=getattr(scenario, "PLUGINS", [])).replay_workflow(history)


@workflow.defn(name="RetryWorkflow")
class ChangedRetryWorkflow:
    """activity_retry's workflow after an incompatible change: a timer where the first
    activity was."""

    @workflow.run
    async def run(self, key: str) -> dict[str, str]:
        await workflow.sleep(timedelta(seconds=1))
        return {}


async def test_changed_workflow_is_reported_nondeterministic_with_both_sides() -> None:
    history = read_fixture(harness.FIXTURE_DIR / "activity_retry" / "tq-retry#0.json")
    with pytest.raises(exceptions.NondeterminismError) as raised:
        await Replayer(workflows=[ChangedRetryWorkflow]).replay_workflow(history)
    message = str(raised.value)
    assert "ActivityTaskScheduled(activity #1 'flaky')" in message
    assert "TimerStarted(#1)" in message
    assert "at event 5" in message  # Temporal's own event id of the recorded command
