"""CI: every scenario on a real Temporal dev server and on Stalwart, compared; and Stalwart's
exports replayed by temporalio's own Replayer (see ``harness``)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.helpers.postgres import fresh_schema_url

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


# Scenarios whose operations the PostgreSQL store guesses (``Tx.assume_none``): starts under
# every id policy; signals and updates arriving while activities run, and children closing to
# their parent, which refute a sequential step's guess; update-with-start, which hands a run
# an update under its lock; describe's pending activities, read from columns a migration
# added. Run on PostgreSQL too.
ON_POSTGRES = ["child_outcomes", "describe_raw_pending", "signal_while_task_scheduled",
               "signals_and_updates",
               "start_policies", "update_with_start", "update_with_start_closes",
               "workflow_retry"]


@pytest.mark.parametrize("name", ON_POSTGRES)
def test_scenario_on_postgres_behaves_as_on_temporal(server: harness.TemporalServer,
                                                     name: str) -> None:
    with fresh_schema_url() as url:
        comparison = harness.run_scenario(name, server, store_url=url)
    assert comparison.ok, comparison.report()
