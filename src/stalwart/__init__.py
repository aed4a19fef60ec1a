"""Stalwart: durable execution for AI agents, in Python.

Import the submodules, as with ``temporalio``: ``stalwart.workflow``, ``stalwart.activity``,
``stalwart.client``, ``stalwart.worker``, ``stalwart.common``, ``stalwart.exceptions``,
``stalwart.converter`` and ``stalwart.testing``.
"""

__version__ = "0.1.0"
