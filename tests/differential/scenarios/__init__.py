"""Scenarios of the differential harness, each written against ``temporalio``'s API.

The contract (one module per scenario, ``<name>.py``)::

    \"\"\"What this scenario exercises.\"\"\"
    from temporalio import activity, workflow
    from temporalio.client import Client
    # ... @activity.defn / @workflow.defn definitions ...
    WORKFLOWS = [...]      # registered on a worker polling `task_queue` while run() executes
    ACTIVITIES = [...]
    async def run(client: Client, task_queue: str) -> object:
        \"\"\"Drives the scenario; returns a JSON-serialisable observation (results, query and
        update answers, caught error types and messages...). Workflow ids derive from
        task_queue so runs never collide.\"\"\"

Optional: ``KNOWN_DIFFERENCES = {"result" | "error" | "events" | "events:<label>" |
"attributes" | "attributes:<label>": "reason"}``
(a literal dict) for a difference that is intended, with its reason. An exception escaping
``run()`` is recorded (type name and message) and compared. Every workflow the client starts is
followed, with its children and continue-as-new runs, and their event types are compared.
Custom search attributes: use the ones the harness registers on the dev server
(``harness.SEARCH_ATTRIBUTES``: ``CustomKeywordField``, ``CustomIntField``, ``CustomBoolField``,
``CustomDoubleField``, ``CustomDatetimeField``, ``CustomTextField``).

Optional, for integrations: ``PLUGINS = [...]``, given to ``Client.connect(..., plugins=)`` on
each side (written against ``temporalio.contrib...``, which the import swap makes Stalwart's
``stalwart.contrib...`` on Stalwart's side) and to both ``Replayer``s; and ``LLM_STAND_IN = [...]``
(a literal list), the replies of an OpenAI-compatible stand-in server the harness starts
afresh for each side, in request order, each ``{"text": ...}`` and/or ``{"tool_calls":
[[name, arguments], ...]}``. The side finds it at ``os.environ["DIFFERENTIAL_OPENAI_BASE_URL"]``
(``.../v1``, for ``AsyncOpenAI(base_url=...)``). What each side sent the stand-in is compared
too (``KNOWN_DIFFERENCES`` key ``model_requests``).

Keep the order of events deterministic (wait for an effect, e.g. with ``_util.settle`` or
``_util.wait_for_query``, before causing the next), or the two servers may legitimately
interleave them differently.
"""
