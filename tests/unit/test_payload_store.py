"""The payload store's encoding: content hashes, prefix/suffix deltas, and the round trip of
history attributes through ``pack``/``unpack_rows`` on a real SQLite database."""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stalwart._store.ops import payloads
from stalwart._store.sqlite.connection import SqliteTx, migrate
from stalwart._store.tx import dumps


@pytest.fixture
def tx(tmp_path: Path) -> Iterator[SqliteTx]:
    path = str(tmp_path / "store.db")
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, path)
    payloads.RECENT.clear()
    try:
        yield SqliteTx(conn)
    finally:
        payloads.RECENT.clear()
        conn.close()


@settings(deadline=None)
@given(st.binary(max_size=300), st.binary(max_size=300))
def test_shared_ends_rebuild_the_bytes_exactly(base: bytes, data: bytes) -> None:
    prefix, suffix = payloads.shared_ends(base, data)
    assert prefix + suffix <= min(len(base), len(data))
    middle = data[prefix:len(data) - suffix]
    assert payloads.apply_delta(base, prefix, suffix, middle) == data
    # Maximal: one more byte of prefix would differ.
    if prefix < min(len(base), len(data)):
        assert base[prefix] != data[prefix]


@settings(deadline=None)
@given(st.lists(st.text(max_size=40), min_size=1, max_size=30), st.lists(st.text(max_size=40)))
def test_an_extended_json_list_shares_all_but_its_closing_bracket(
        old: list[str], new: list[str]) -> None:
    base = json.dumps(old).encode()
    data = json.dumps(old + new).encode()
    prefix, suffix = payloads.shared_ends(base, data)
    assert prefix + suffix >= len(base) - 1


def _payload(value: Any) -> dict[str, Any]:
    return {"metadata": {"encoding": "json/plain"}, "data": json.dumps(value)}


def _history_row(tx: SqliteTx, run_id: str, attributes: dict[str, Any]) -> str:
    return payloads.pack(tx, run_id, attributes)


def test_large_payloads_become_references_and_come_back_exactly(tx: SqliteTx) -> None:
    conversation = [{"role": "user", "content": "x" * 3000}]
    attributes = {"activity_type": "model", "input": [_payload(conversation)],
                  "header": {"trace": {"metadata": {"encoding": "json/plain"}, "data": "1"}}}
    text = _history_row(tx, "run-1", attributes)
    assert "x" * 100 not in text and '"@blob"' in text
    payloads.RECENT.clear()  # a new process: everything from the database
    assert payloads.unpack_rows(tx, "run-1", [text]) == [attributes]
    assert dumps(payloads.unpack_rows(tx, "run-1", [text])[0]) == dumps(attributes)


def test_binary_payloads_round_trip(tx: SqliteTx) -> None:
    raw = bytes(range(256)) * 8
    attributes = {"result": {"metadata": {"encoding": "binary/plain"},
                             "data_b64": base64.b64encode(raw).decode()}}
    text = _history_row(tx, "run-1", attributes)
    assert '"@blob64"' in text
    payloads.RECENT.clear()
    assert payloads.unpack_rows(tx, "run-1", [text]) == [attributes]


def test_small_payloads_stay_inline(tx: SqliteTx) -> None:
    attributes = {"input": [_payload({"a": 1})]}
    assert _history_row(tx, "run-1", attributes) == dumps(attributes)
    assert tx.one("SELECT COUNT(*) FROM payload_blobs")[0] == 0


def test_the_same_bytes_are_stored_once_per_run(tx: SqliteTx) -> None:
    attributes = {"input": [_payload(["y" * 5000])]}
    for _ in range(3):
        _history_row(tx, "run-1", attributes)
    _history_row(tx, "run-2", attributes)
    rows = tx.all("SELECT run_id, COUNT(*) FROM payload_blobs GROUP BY run_id ORDER BY run_id")
    assert rows == [("run-1", 1), ("run-2", 1)]


def test_a_growing_conversation_is_stored_as_differences(tx: SqliteTx) -> None:
    conversation: list[dict[str, str]] = []
    texts = []
    for turn in range(60):
        conversation.append({"role": "user", "content": f"{turn} " + "q" * 2000})
        texts.append(_history_row(tx, "run-1", {"input": [_payload(conversation)]}))
        conversation.append({"role": "assistant", "content": f"{turn} " + "a" * 2000})
    stored = tx.one("SELECT SUM(LENGTH(data)) FROM payload_blobs")[0]
    final = len(json.dumps(conversation))
    assert stored < 1.2 * final  # each delta is about the two new messages
    bases = tx.all("SELECT base FROM payload_blobs ORDER BY rowid")
    assert bases[0][0] is None and all(b[0] is not None for b in bases[1:])
    payloads.RECENT.clear()
    rebuilt = payloads.unpack_rows(tx, "run-1", texts)
    for index, attributes in enumerate(rebuilt):
        assert json.loads(attributes["input"][0]["data"]) == conversation[:2 * index + 1]


def test_a_delta_needs_its_base_in_the_database(tx: SqliteTx) -> None:
    first = {"input": [_payload(["z" * 4000])]}
    tx.run("BEGIN")
    _history_row(tx, "run-1", first)
    tx.run("ROLLBACK")  # the base was never committed, but this process remembers it
    second = {"input": [_payload(["z" * 4000, "w" * 100])]}
    text = _history_row(tx, "run-1", second)
    assert tx.all("SELECT base FROM payload_blobs") == [(None,)]
    payloads.RECENT.clear()
    assert payloads.unpack_rows(tx, "run-1", [text]) == [second]


def test_a_missing_blob_is_a_clear_error(tx: SqliteTx) -> None:
    text = _history_row(tx, "run-1", {"input": [_payload(["v" * 4000])]})
    tx.run("DELETE FROM payload_blobs")
    payloads.RECENT.clear()
    with pytest.raises(LookupError, match="missing from the store"):
        payloads.unpack_rows(tx, "run-1", [text])


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.text(max_size=8), children, max_size=5), max_leaves=30)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(_json_values, st.integers(0, 3000)), min_size=1, max_size=6))
def test_any_sequence_of_payloads_round_trips(tx: SqliteTx,
                                              values: list[tuple[Any, int]]) -> None:
    run_id = f"run-{len(values)}-{hash(repr(values)) & 0xffff}"
    rows = []
    for value, pad in values:
        attributes = {"input": [_payload([value, "p" * pad])], "n": pad}
        rows.append((attributes, _history_row(tx, run_id, attributes)))
    payloads.RECENT.clear()
    unpacked = payloads.unpack_rows(tx, run_id, [text for _, text in rows])
    assert [dumps(a) for a in unpacked] == [dumps(a) for a, _ in rows]


def test_the_agent_layers_model_requests_are_stored_as_differences(tx: SqliteTx) -> None:
    from stalwart.agents._types import ModelRequest
    from stalwart.converter import DataConverter

    converter = DataConverter.default.payload_converter
    tools = [{"type": "function", "function": {"name": f"tool_{i}", "description": "d" * 300,
                                               "parameters": {"type": "object"}}}
             for i in range(4)]
    messages: list[dict[str, str]] = [{"role": "system", "content": "be brief"}]
    texts, expected = [], []
    for step in range(1, 41):
        messages.append({"role": "user", "content": f"{step} " + "u" * 2000})
        request = ModelRequest(model="m", messages=list(messages), tools=tools,
                               stream_to="wf", stream_id=f"step-{step}")
        payload = converter.to_payloads([request])[0]
        expected.append(payload.data.decode())
        texts.append(_history_row(tx, "run-1", {"input": [
            {"metadata": {"encoding": "json/plain"}, "data": payload.data.decode()}]}))
        messages.append({"role": "assistant", "content": f"{step} " + "a" * 2000})
    stored = tx.one("SELECT SUM(LENGTH(data)) FROM payload_blobs")[0]
    # The messages once, plus the tool schemas (between the messages and the changing step id)
    # again with every call: linear, not the square.
    tools_bytes = len(json.dumps(tools))
    assert stored < len(json.dumps(messages)) + 40 * (tools_bytes + 200)
    payloads.RECENT.clear()
    rebuilt = payloads.unpack_rows(tx, "run-1", texts)
    assert [r["input"][0]["data"] for r in rebuilt] == expected
