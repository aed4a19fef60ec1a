"""Workflow streams: durable, ordered, offset-addressed streams of a workflow's progress.

Names mirror ``temporalio.contrib.workflow_streams``: :class:`WorkflowStream` on the workflow
side, :class:`WorkflowStreamClient` for activities and clients, :class:`WorkflowStreamItem` for
what readers get. Unlike Temporal's, which carries items in signals and updates, Stalwart
keeps them in a table of its store: publishing costs no workflow history, and readers resume
from any offset after any disconnect. See ``docs/streams.md``.
"""

from ..._client_streams import TopicHandle, WorkflowStreamClient, WorkflowStreamItem
from ..._workflow_streams import WorkflowStream, WorkflowTopicHandle

__all__ = [
    "TopicHandle",
    "WorkflowStream",
    "WorkflowStreamClient",
    "WorkflowStreamItem",
    "WorkflowTopicHandle",
]
