"""``temporalio.openai_agents`` (temporalio >= 1.3x, package ``temporalio-openai-agents``) is
the new home of ``temporalio.contrib.openai_agents``; this is the same module under that name,
so samples importing ``temporalio.openai_agents`` run with the import swapped."""

import sys as _sys

from ..contrib.openai_agents import *  # noqa: F403
from ..contrib.openai_agents import __all__ as _contrib_all
from ..contrib.openai_agents import testing, workflow

# ``import stalwart.openai_agents.workflow`` / ``.testing`` give the very same modules.
_sys.modules[__name__ + ".workflow"] = workflow
_sys.modules[__name__ + ".testing"] = testing

__all__ = sorted(_contrib_all)
