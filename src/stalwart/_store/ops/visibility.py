"""Store operations for visibility: search attributes, memo, list filters and counts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..._model.list_filter import BoolOp, Comparison, ListFilterError, ListQuery
from ..base import ExecutionRow
from ..tx import Tx
from .executions import EXECUTION_COLUMNS, row_to_execution
from .search_attributes import NUMERIC_TYPES
from .visibility_lengths import matching_runs, mentions_history_length

_BUILTIN_COLUMNS = {
    "WorkflowId": "e.workflow_id", "WorkflowType": "e.workflow_type",
    "TaskQueue": "e.task_queue", "RunId": "e.run_id", "ExecutionStatus": "e.status",
    "StartTime": "e.start_time", "ExecutionTime": "e.start_time", "CloseTime": "e.close_time",
    # A known field, never compiled: it is compared and ordered by Temporal's count of the
    # run's events (visibility_lengths).
    "HistoryLength": "(e.next_event_id - 1)",
}
_TIME_FIELDS = {"StartTime", "ExecutionTime", "CloseTime"}
_STATUS_BY_NAME = {
    "running": 1, "completed": 2, "failed": 3, "canceled": 4, "cancelled": 4,
    "terminated": 5, "continuedasnew": 6, "continued_as_new": 6, "timedout": 7,
    "timed_out": 7,
}


class _Compiler:
    def __init__(self, tx: Tx, query_text: str) -> None:
        self.tx = tx
        self.query_text = query_text
        self.params: list[Any] = []
        self._types: dict[str, str] | None = None

    def error(self, position: int, message: str) -> ListFilterError:
        return ListFilterError(self.query_text, position, message)

    def custom_type(self, comparison: Comparison) -> str:
        if self._types is None:
            self._types = {str(name): str(kind) for name, kind in self.tx.all(
                "SELECT name, type FROM search_attribute_types")}
        kind = self._types.get(comparison.field)
        if kind is None:
            known = ", ".join(sorted([*_BUILTIN_COLUMNS, *self._types])) or "none"
            raise self.error(comparison.position,
                             f"unknown field {comparison.field!r}; known fields: {known}")
        return kind

    def compile(self, node: Any) -> str:
        if isinstance(node, BoolOp):
            if node.op == "not":
                return f"NOT ({self.compile(node.items[0])})"
            joiner = " AND " if node.op == "and" else " OR "
            return "(" + joiner.join(self.compile(item) for item in node.items) + ")"
        assert isinstance(node, Comparison)
        if node.field in _BUILTIN_COLUMNS:
            return self.builtin(node)
        return self.custom(node)

    def convert_builtin(self, node: Comparison, value: Any) -> Any:
        if node.field in _TIME_FIELDS:
            return _timestamp(self, node, value)
        if node.field == "ExecutionStatus":
            if isinstance(value, int):
                return value
            status = _STATUS_BY_NAME.get(str(value).replace(" ", "").lower())
            if status is None:
                raise self.error(node.position, f"unknown ExecutionStatus {value!r}; use one "
                                 "of Running, Completed, Failed, Canceled, Terminated, "
                                 "ContinuedAsNew, TimedOut")
            return status
        return value

    def builtin(self, node: Comparison) -> str:
        column = _BUILTIN_COLUMNS[node.field]
        values = [self.convert_builtin(node, v) for v in node.values]
        return self.condition(column, node, values)

    def condition(self, column: str, node: Comparison, values: list[Any]) -> str:
        op = node.op
        if op in ("=", "!=", "<", ">", "<=", ">="):
            self.params.append(values[0])
            return f"{column} {op} ?"
        if op == "between":
            self.params += values
            return f"{column} BETWEEN ? AND ?"
        if op in ("in", "not in"):
            self.params += values
            marks = ", ".join("?" * len(values))
            return f"{column} {'NOT IN' if op == 'not in' else 'IN'} ({marks})"
        if op == "starts_with":
            prefix = str(values[0])
            self.params += [prefix, prefix + "\U0010ffff"]
            # Compared by code point, so the range holds exactly the values with the prefix
            # whatever the database's collation.
            column += self.tx.dialect.binary_collation
            return f"({column} >= ? AND {column} < ?)"
        return f"{column} {'IS NULL' if op == 'is null' else 'IS NOT NULL'}"

    def custom(self, node: Comparison) -> str:
        kind = self.custom_type(node)
        column = "v.value_num" if kind in NUMERIC_TYPES else "v.value_text"
        values: list[Any] = []
        for value in node.values:
            if kind == "Datetime":
                values.append(_timestamp(self, node, value))
            elif kind == "Bool":
                values.append(1.0 if value in (True, "true", 1) else 0.0)
            elif kind in NUMERIC_TYPES:
                if not isinstance(value, int | float):
                    raise self.error(node.position, f"{node.field} is {kind}; compare it with a "
                                     f"number, not {value!r}")
                values.append(float(value))
            else:
                values.append(str(value))
        if node.op in ("is null", "is not null"):
            self.params.append(node.field)
            negate = "NOT " if node.op == "is null" else ""
            return (f"e.run_id {negate}IN (SELECT run_id FROM search_attribute_values "
                    "WHERE name = ?)")
        negated = node.op in ("!=", "not in")
        inner = Comparison(node.field, {"!=": "=", "not in": "in"}.get(node.op, node.op),
                           values, node.position)
        self.params.append(node.field)
        condition = self.condition(column, inner, values)
        return (f"e.run_id {'NOT ' if negated else ''}IN (SELECT v.run_id FROM "
                f"search_attribute_values v WHERE v.name = ? AND {condition})")

    def order(self, order_by: list[tuple[str, bool]]) -> str:
        if not order_by:
            return "ORDER BY e.start_time DESC, e.run_id"
        parts = []
        for name, descending in order_by:
            column = _BUILTIN_COLUMNS.get(name)
            if column is None:
                raise self.error(0, f"ORDER BY {name}: only built-in fields can be ordered by "
                                 f"({', '.join(sorted(_BUILTIN_COLUMNS))})")
            parts.append(f"{column} {'DESC' if descending else 'ASC'}")
        return "ORDER BY " + ", ".join(parts) + ", e.run_id"


def _timestamp(compiler: _Compiler, node: Comparison, value: Any) -> float:
    if isinstance(value, int | float):
        return float(value)
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise compiler.error(node.position, f"{node.field} takes an ISO 8601 time such as "
                             f"'2026-01-31T12:00:00Z', got {value!r}") from None


def _where(tx: Tx, query_text: str, query: ListQuery
           ) -> tuple[_Compiler, str]:
    compiler = _Compiler(tx, query_text)
    where = f"WHERE {compiler.compile(query.where)}" if query.where is not None else ""
    return compiler, where


def list_by_query(tx: Tx, query_text: str, query: ListQuery, limit: int,
                  offset: int) -> list[ExecutionRow]:
    if mentions_history_length(query):
        return matching_runs(tx, _Compiler(tx, query_text), query)[offset:offset + limit]
    compiler, where = _where(tx, query_text, query)
    order = compiler.order(query.order_by)
    columns = ", ".join(f"e.{c.strip()}" for c in EXECUTION_COLUMNS.split(","))
    rows = tx.all(f"SELECT {columns} FROM executions e {where} {order} LIMIT ? OFFSET ?",
                  (*compiler.params, limit, offset))
    return [row_to_execution(r) for r in rows]


def count_by_query(tx: Tx, query_text: str, query: ListQuery) -> int:
    if mentions_history_length(query):
        return len(matching_runs(tx, _Compiler(tx, query_text), query))
    compiler, where = _where(tx, query_text, query)
    row = tx.one(f"SELECT COUNT(*) FROM executions e {where}", compiler.params)
    return int(row[0])


