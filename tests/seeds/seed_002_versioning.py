"""Seed article 002's versioning snippet as written (own module: it reuses a class name)."""
# ruff: noqa: I001, F405
from __future__ import annotations


from stalwart import workflow

from tests.seeds.standins import *  # noqa: F403 - the snippets' undefined helpers


# -- seed 002: versioning with patching ------------------------------------------------------
@workflow.defn
class ResearchAgentWorkflow:
    @workflow.run
    async def run(self, topic: str) -> str:
        # Versioning gate — old executions use v1, new ones use v2
        if workflow.patched("research-v2-improved-synthesis"):
            # New code path for v2 deployments
            result = await workflow.execute_activity(synthesise_v2, topic)
        else:
            # Old code path — keeps existing executions working
            result = await workflow.execute_activity(synthesise_v1, topic)
        return result


