"""List filters that name ``HistoryLength``: compared with Temporal's count of each run's
events (what ``describe()`` and the list items show), not with the store's row count.

The count is not a column: each candidate run's stored rows are followed by
``TemporalLength`` (types and a few attributes, no payloads), so such a query reads the
histories of the runs its other conditions leave; queries without ``HistoryLength`` are
compiled to SQL alone. Every other condition is still evaluated by the database: each becomes
a 0/1 column of the candidate query and the boolean expression is evaluated here.
"""

from __future__ import annotations

import time
from typing import Any

from ..._model.events import HistoryEvent
from ..._model.list_filter import BoolOp, Comparison, ListQuery
from ..._model.temporal_history import TemporalLength
from ..base import ExecutionRow, ExecutionStatus
from ..tx import Tx, loads
from .executions import EXECUTION_COLUMNS, row_to_execution

FIELD = "HistoryLength"


def mentions_history_length(query: ListQuery) -> bool:
    return _mentions(query.where) or any(name == FIELD for name, _ in query.order_by)


def _mentions(node: Any) -> bool:
    if isinstance(node, BoolOp):
        return any(_mentions(item) for item in node.items)
    return isinstance(node, Comparison) and node.field == FIELD


def matching_runs(tx: Tx, compiler: Any, query: ListQuery) -> list[ExecutionRow]:
    """The runs the query selects, in its order, with ``HistoryLength`` as Temporal counts."""
    leaves: list[Comparison] = []
    _collect(query.where, leaves)
    # 1, 0 or NULL (unknown, as for a NULL column): the database's three-valued logic.
    cases = "".join(f", CASE WHEN {compiler.compile(leaf)} THEN 1 "
                    f"WHEN NOT ({compiler.compile(leaf)}) THEN 0 END" for leaf in leaves)
    order = compiler.order([(name, desc) for name, desc in query.order_by if name != FIELD])
    columns = ", ".join(f"e.{c.strip()}" for c in EXECUTION_COLUMNS.split(","))
    rows = tx.all(f"SELECT {columns}{cases} FROM executions e {order}", compiler.params)
    width = len(EXECUTION_COLUMNS.split(","))
    chosen: list[tuple[ExecutionRow, int]] = []
    for row in rows:
        execution = row_to_execution(row[:width])
        truths = dict(zip(map(id, leaves), row[width:], strict=True))
        length = temporal_length(tx, execution)
        if query.where is None or _holds(query.where, truths, length) is True:
            chosen.append((execution, length))
    for name, descending in reversed(query.order_by):
        if name == FIELD:  # a stable sort keeps the database's order among equal counts
            chosen.sort(key=lambda pair: pair[1], reverse=descending)
    return [execution for execution, _ in chosen]


def temporal_length(tx: Tx, execution: ExecutionRow) -> int:
    counter = TemporalLength()
    counter.feed_stored(HistoryEvent(r[0], r[1], r[2], loads(r[3])) for r in tx.all(
        "SELECT event_id, event_type, timestamp, attributes FROM history WHERE run_id = ? "
        "ORDER BY event_id", (execution.run_id,)))
    running = execution.status == ExecutionStatus.RUNNING
    if running:
        for event_type, timestamp, attributes in tx.all(
                "SELECT event_type, timestamp, attributes FROM inbox WHERE run_id = ? "
                "ORDER BY id", (execution.run_id,)):
            counter.feed_input(HistoryEvent(0, event_type, timestamp, loads(attributes)))
    return counter.shown(running=running, now=time.time())


def _collect(node: Any, leaves: list[Comparison]) -> None:
    if isinstance(node, BoolOp):
        for item in node.items:
            _collect(item, leaves)
    elif isinstance(node, Comparison) and node.field != FIELD:
        leaves.append(node)


def _holds(node: Any, truths: dict[int, Any], length: int) -> bool | None:
    """True, False or None (unknown), as SQL evaluates the same expression."""
    if isinstance(node, BoolOp):
        if node.op == "not":
            inner = _holds(node.items[0], truths, length)
            return None if inner is None else not inner
        results = [_holds(item, truths, length) for item in node.items]
        decisive = node.op == "or"  # the value that settles it: True for or, False for and
        if decisive in results:
            return decisive
        return None if None in results else not decisive
    assert isinstance(node, Comparison)
    if node.field != FIELD:
        truth = truths[id(node)]
        return None if truth is None else bool(truth)
    return _compare(node, length)


def _compare(node: Comparison, length: int) -> bool:
    if node.op == "starts_with":
        return str(length).startswith(str(node.values[0]))
    op, values = node.op, [float(v) for v in node.values]
    if op == "is null":
        return False
    if op == "is not null":
        return True
    if op == "between":
        return values[0] <= length <= values[1]
    if op in ("in", "not in"):
        return (length in values) == (op == "in")
    first = values[0]
    return {"=": length == first, "!=": length != first, "<": length < first,
            ">": length > first, "<=": length <= first, ">=": length >= first}[op]
