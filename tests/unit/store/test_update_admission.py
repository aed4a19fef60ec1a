"""An update admitted to a run stays found by its id after the run closes.

An update-with-start admits its update in the start's transaction, then asks for it again by
id to wait for its outcome. If that update closes the workflow in between (or anything else
does), asking again must find the update, not refuse a closed run.
"""

from __future__ import annotations

import pytest

from stalwart._store.database import DatabaseStore
from stalwart.exceptions import WorkflowNotFoundError

from .helpers import T0, start


async def test_an_update_admitted_before_its_run_closed_is_found_after(
        store: DatabaseStore) -> None:
    run_id = await start(store, "cart")
    assert await store.update_workflow("cart", run_id, "u-1", "add", [], T0) == run_id
    await store.terminate_workflow("cart", None, "closed meanwhile", [], "test", T0 + 1)
    # The same update, pinned to that run: found, with the outcome the close gave it.
    assert await store.update_workflow("cart", run_id, "u-1", "add", [], T0 + 2) == run_id
    assert await store.get_update(run_id, "u-1") is not None
    # Any other update of the closed run is refused, as before.
    with pytest.raises(WorkflowNotFoundError, match="already completed"):
        await store.update_workflow("cart", run_id, "u-2", "add", [], T0 + 2)
    with pytest.raises(WorkflowNotFoundError, match="already completed"):
        await store.update_workflow("cart", None, "u-1", "add", [], T0 + 2)
