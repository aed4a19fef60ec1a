"""CI: every scenario on a real Temporal dev server and on Stalwart, compared; and Stalwart's
exports replayed by temporalio's own Replayer (see ``harness``)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from . import harness

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def server() -> Iterator[harness.TemporalServer]:
    if not harness.TEMPORAL_CLI.exists() or not harness.COMPAT_PYTHON.exists():
        message = ("the differential harness needs .venv-compat with temporalio and the "
                   "temporal CLI: run scripts/compat")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with harness.temporal_server() as running:
        yield running


@pytest.mark.parametrize("name", harness.scenario_names())
def test_scenario_behaves_as_on_temporal(server: harness.TemporalServer, name: str) -> None:
    comparison = harness.run_scenario(name, server)
    assert comparison.ok, comparison.report()
