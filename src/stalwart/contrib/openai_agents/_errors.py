"""The integration's errors."""

from __future__ import annotations

from ...exceptions import StalwartError

__all__ = ["AgentsWorkflowError"]


class AgentsWorkflowError(StalwartError):
    """Fails the workflow (not just the workflow task): the Agents SDK raised an error that
    should end the run, or the run was configured in a way Stalwart cannot run durably.

    ``OpenAIAgentsPlugin`` registers it as a workflow failure type on every worker.
    """
