"""Temporal's semantics, scenario by scenario, on both stores.

Each module in ``tests/differential/scenarios`` is written against ``temporalio``; here it runs
with its imports swapped to ``stalwart`` and its observation must equal the one a real Temporal
dev server gave for it (``temporal_observations.json``, recorded with temporalio 1.35; the
differential harness re-runs the scenarios on Temporal itself).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from stalwart.client import Client
from stalwart.worker import Worker

SCENARIOS = Path(__file__).parent.parent / "differential" / "scenarios"
OBSERVED_ON_TEMPORAL: dict[str, Any] = json.loads(
    (Path(__file__).parent / "temporal_observations.json").read_text())


def load_scenario(name: str) -> types.ModuleType:
    path = SCENARIOS / f"{name}.py"
    module = types.ModuleType(f"stalwart_scenario_{name}")
    module.__file__ = str(path)
    module.__package__ = "tests.differential.scenarios"  # for `from ._util import ...`
    source = path.read_text().replace("temporalio", "stalwart")
    sys.modules[module.__name__] = module  # definitions are looked up by their module
    exec(compile(source, str(path), "exec"), module.__dict__)
    return module


async def observe(client: Client, task_queue: str, name: str) -> Any:
    scenario = load_scenario(name)
    with concurrent.futures.ThreadPoolExecutor(4) as executor:
        async with Worker(client, task_queue=task_queue, workflows=scenario.WORKFLOWS,
                          activities=scenario.ACTIVITIES, activity_executor=executor):
            try:
                result = await asyncio.wait_for(scenario.run(client, task_queue), 60)
                return json.loads(json.dumps({"result": result}, default=str))
            except Exception as error:
                return {"error": [type(error).__name__, str(error)]}


@pytest.mark.parametrize("name", sorted(OBSERVED_ON_TEMPORAL))
async def test_scenario_observes_what_temporal_does(client: Client, task_queue: str,
                                                    name: str) -> None:
    assert await observe(client, task_queue, name) == OBSERVED_ON_TEMPORAL[name]


def test_every_observation_has_its_scenario() -> None:
    # Scenarios without a stored observation are compared live, on a Temporal dev server, by
    # the differential harness (tests/differential/test_differential.py), which runs them all.
    scenarios = {p.stem for p in SCENARIOS.glob("*.py") if not p.stem.startswith("_")}
    assert set(OBSERVED_ON_TEMPORAL) <= scenarios
