"""Property tests (hypothesis) at the input boundary, on SQLite and PostgreSQL: generated list
filters and generated payloads either work or fail with a clear ValueError/TypeError, never
anything else, and the store is intact afterwards. Example counts are bounded so the suite stays
quick; the generation is derandomized so a failure reproduces."""

from __future__ import annotations

import json
import math
import sqlite3
import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stalwart._model.list_filter import ListFilterError, parse_list_query
from stalwart.client import Client
from stalwart.converter import DataConverter, _payload_from_json

IDLE_QUEUE = "properties-idle"  # no worker polls it: started runs stay inert
SETTINGS = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))

# -- list filters -----------------------------------------------------------------------------

_FIELDS = st.sampled_from(["WorkflowId", "WorkflowType", "ExecutionStatus", "TaskQueue",
                           "StartTime", "CloseTime", "RunId", "HistoryLength", "ExecutionTime",
                           "`WorkflowId`", "CustomKeywordField", "workflowid", "Nope"])
_VALUES = st.one_of(
    st.text(max_size=12).map(lambda t: "'" + t.replace("'", "''") + "'"),
    st.text(max_size=12).map(lambda t: '"' + t.replace('"', '\\"') + '"'),
    st.integers(-10**20, 10**20).map(str), st.floats(allow_nan=False).map(repr),
    st.sampled_from(["'Running'", "'Completed'", "'2025-01-31T12:00:00Z'", "true", "'x'",
                     "'2025-13-45'", "''"]))
_OPS = st.sampled_from(["=", "!=", "<>", "<", ">", "<=", ">=", "STARTS_WITH"])


@st.composite
def _comparison(draw: st.DrawFn) -> str:
    field = draw(_FIELDS)
    kind = draw(st.integers(0, 4))
    if kind == 0:
        return f"{field} BETWEEN {draw(_VALUES)} AND {draw(_VALUES)}"
    if kind == 1:
        values = draw(st.lists(_VALUES, min_size=1, max_size=4))
        return f"{field} {draw(st.sampled_from(['IN', 'NOT IN']))} ({', '.join(values)})"
    if kind == 2:
        return f"{field} IS {draw(st.sampled_from(['NULL', 'NOT NULL']))}"
    return f"{field} {draw(_OPS)} {draw(_VALUES)}"


_EXPRESSIONS = st.recursive(
    _comparison(),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from([" AND ", " OR ", " and ", " or "]), inner).map(
            "".join),
        inner.map(lambda e: f"NOT ({e})"), inner.map(lambda e: f"({e})")),
    max_leaves=8)
_QUERIES = st.one_of(
    _EXPRESSIONS,
    st.tuples(_EXPRESSIONS, _FIELDS, st.sampled_from(["", " ASC", " DESC"])).map(
        lambda t: f"{t[0]} ORDER BY {t[1]}{t[2]}"),
    st.text(max_size=60),  # anything at all
    st.integers(1, 3000).map(lambda n: "(" * n + "WorkflowId = 'a'" + ")" * n),
    st.integers(1, 3000).map(lambda n: "NOT " * n + "WorkflowId = 'a'"))


@SETTINGS
@given(query=_QUERIES)
def test_list_filter_parser_either_parses_or_says_where(query: str) -> None:
    try:
        parse_list_query(query)
    except ListFilterError as error:
        assert "position" in str(error)


@SETTINGS
@given(query=_QUERIES)
async def test_list_filters_run_or_fail_clearly_on_the_store(client: Client,
                                                             query: str) -> None:
    await _ensure_runs(client)
    try:
        count = (await client.count_workflows(query)).count
        listed = [w async for w in client.list_workflows(query, limit=5)]
    except ValueError as error:
        assert str(error)
    else:
        assert count >= len(listed) >= 0
    await _intact(client)


# -- payloads ---------------------------------------------------------------------------------

_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(-10**30, 10**30),
                     st.floats(), st.text(), st.text(st.characters(codec="utf-8")))


def _nested(depth: int) -> Any:
    value: Any = 1
    for index in range(depth):
        value = [value] if index % 2 else {"k": value}
    return value


_PAYLOADS = st.one_of(
    st.recursive(_SCALARS, lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4),
        st.tuples(inner, inner)), max_leaves=12),
    st.integers(1, 1200).map(_nested),
    st.integers(0, 5000).map(lambda n: 10 ** n),
    st.sampled_from([math.nan, math.inf, -math.inf, [1.0, math.nan], {"x": {"y": math.inf}},
                     "\ud800", "nul\x00byte", "x" * 3_000_000]))


@SETTINGS
@given(value=_PAYLOADS)
async def test_payloads_are_stored_faithfully_or_refused_clearly(client: Client,
                                                                 value: Any) -> None:
    workflow_id = f"payload-{uuid.uuid4().hex}"
    try:
        handle = await client.start_workflow("Sink", value, id=workflow_id,
                                             task_queue=IDLE_QUEUE)
    except (ValueError, TypeError) as error:
        assert str(error)
    else:
        first = await client.store.get_history(handle.result_run_id or "", 0, 1)
        stored = first[0].attributes["input"][0]
        decoded = DataConverter.default.payload_converter.from_payload(
            _payload_from_json(stored))
        assert _normal(decoded) == _normal(value)
        await handle.terminate(reason="checked")
    await _intact(client)


def _normal(value: Any) -> Any:
    return json.loads(json.dumps(value, allow_nan=False))


# -- the store is intact after every example ---------------------------------------------------

async def _intact(client: Client) -> None:
    url = client.store.url
    if url.startswith("sqlite:"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # And usable: a read through the same client still answers.
    assert (await client.count_workflows("WorkflowType = 'Sink'")).count >= 0


async def _ensure_runs(client: Client) -> None:
    if (await client.count_workflows("WorkflowType = 'Sink'")).count == 0:
        for index in range(3):
            await client.start_workflow("Sink", index, id=f"seed-{index}",
                                        task_queue=IDLE_QUEUE)
