"""Temporal's list-filter language, parsed into a small tree (no SQL here).

Grammar (case-insensitive keywords)::

    query      := [expr] [ORDER BY field [ASC|DESC] {, field [ASC|DESC]}]
    expr       := term {OR term}
    term       := factor {AND factor}
    factor     := NOT factor | '(' expr ')' | comparison
    comparison := field op value | field BETWEEN value AND value
                | field [NOT] IN '(' value {, value} ')' | field STARTS_WITH value
                | field IS [NOT] NULL
    op         := = | != | <> | < | > | <= | >=

Fields are the built-ins (WorkflowId, WorkflowType, ExecutionStatus, TaskQueue, StartTime,
CloseTime, RunId, ExecutionTime, HistoryLength) or custom search attribute names (optionally in
backquotes). A malformed query raises :class:`ListFilterError` with the position.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from ..exceptions import RPCError, RPCStatusCode

BUILTIN_FIELDS = {
    "workflowid": "WorkflowId", "workflowtype": "WorkflowType",
    "executionstatus": "ExecutionStatus", "taskqueue": "TaskQueue", "starttime": "StartTime",
    "closetime": "CloseTime", "runid": "RunId", "executiontime": "ExecutionTime",
    "historylength": "HistoryLength",
}


class ListFilterError(RPCError, ValueError):
    """A list query that does not parse; the message points at the position. An
    ``RPCError`` with status ``INVALID_ARGUMENT``, as Temporal's server refuses such a query
    (and a ``ValueError``, as it was before)."""

    def __init__(self, query: str, position: int, message: str) -> None:
        pointer = " " * position + "^"
        super().__init__(f"invalid list query at position {position}: {message}\n  {query}\n"
                         f"  {pointer}", RPCStatusCode.INVALID_ARGUMENT)
        self.position = position


@dataclass
class Comparison:
    field: str
    op: str  # =, !=, <, >, <=, >=, between, in, not in, starts_with, is null, is not null
    values: list[Any]
    position: int


@dataclass
class BoolOp:
    op: str  # and, or, not
    items: list[Any]


@dataclass
class ListQuery:
    where: Any | None
    order_by: list[tuple[str, bool]] = field(default_factory=list)  # (field, descending)


_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<number>-?\d+(?:\.\d+)?(?![\w.]))
  | (?P<op><=|>=|!=|<>|=|<|>)
  | (?P<punct>[(),])
  | (?P<ident>`[^`]+`|[A-Za-z_][\w.]*)
""", re.X)

_KEYWORDS = {"and", "or", "not", "between", "in", "starts_with", "order", "by", "asc", "desc",
             "is", "null"}


@dataclass
class _Token:
    kind: str
    text: str
    position: int

    @property
    def lower(self) -> str:
        return self.text.lower()


def _tokenize(query: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(query):
        match = _TOKEN.match(query, position)
        if match is None:
            raise ListFilterError(query, position, f"unexpected character {query[position]!r}")
        kind = match.lastgroup or ""
        if kind != "ws":
            tokens.append(_Token(kind, match.group(), position))
        position = match.end()
    return tokens


# Bounds that keep a query's tree within what the parser's recursion and the databases'
# expression limits (SQLite: depth 1000) can take.
MAX_NESTING = 24
MAX_COMPARISONS = 500
MAX_IN_VALUES = 1000


class _Parser:
    def __init__(self, query: str) -> None:
        self.query = query
        self.tokens = _tokenize(query)
        self.index = 0
        self.depth = 0
        self.comparisons = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def error(self, message: str, token: _Token | None = None) -> ListFilterError:
        token = token or self.peek()
        return ListFilterError(self.query, token.position if token else len(self.query), message)

    def take(self) -> _Token:
        token = self.peek()
        if token is None:
            raise self.error("unexpected end of query")
        self.index += 1
        return token

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token is not None and token.kind == "ident" and token.lower == word:
            self.index += 1
            return True
        return False

    def expect_punct(self, char: str) -> None:
        token = self.take()
        if token.text != char:
            raise self.error(f"expected {char!r}, found {token.text!r}", token)

    def parse(self) -> ListQuery:
        where = None
        token = self.peek()
        if token is not None and not (token.kind == "ident" and token.lower == "order"):
            where = self.expr()
        order_by = []
        if self.keyword("order"):
            if not self.keyword("by"):
                raise self.error("expected BY after ORDER")
            while True:
                name = self.field_name()
                descending = False
                if self.keyword("desc"):
                    descending = True
                else:
                    self.keyword("asc")
                order_by.append((name, descending))
                token = self.peek()
                if token is None or token.text != ",":
                    break
                self.take()
        if self.peek() is not None:
            raise self.error(f"unexpected {self.peek().text!r}")  # type: ignore[union-attr]
        return ListQuery(where, order_by)

    def expr(self) -> Any:
        items = [self.term()]
        while self.keyword("or"):
            items.append(self.term())
        return items[0] if len(items) == 1 else BoolOp("or", items)

    def term(self) -> Any:
        items = [self.factor()]
        while self.keyword("and"):
            items.append(self.factor())
        return items[0] if len(items) == 1 else BoolOp("and", items)

    def factor(self) -> Any:
        if self.depth >= MAX_NESTING:
            raise self.error(f"the query nests NOT and parentheses more than {MAX_NESTING} "
                             "levels deep")
        self.depth += 1
        try:
            if self.keyword("not"):
                return BoolOp("not", [self.factor()])
            token = self.peek()
            if token is not None and token.text == "(":
                self.take()
                inner = self.expr()
                self.expect_punct(")")
                return inner
            self.comparisons += 1
            if self.comparisons > MAX_COMPARISONS:
                raise self.error(f"the query has more than {MAX_COMPARISONS} comparisons")
            return self.comparison()
        finally:
            self.depth -= 1

    def field_name(self) -> str:
        token = self.take()
        if token.kind != "ident" or (token.lower in _KEYWORDS and not token.text.startswith("`")):
            raise self.error(f"expected a field name, found {token.text!r}", token)
        name = token.text.strip("`")
        return BUILTIN_FIELDS.get(name.lower(), name)

    def value(self) -> Any:
        token = self.take()
        if token.kind == "string":
            body = token.text[1:-1]
            if "\x00" in body:
                # No stored name holds NUL (PostgreSQL text cannot).
                raise self.error("a string value holds a NUL character", token)
            return re.sub(r"\\(.)", r"\1", body)
        if token.kind == "number":
            if "." in token.text:
                number = float(token.text)
                if not math.isfinite(number):
                    raise self.error(f"number {token.text[:30]} is out of range", token)
                return number
            # Stores compare with 64-bit integers; a longer number matches nothing sensible.
            if len(token.text.lstrip("-")) > 19 or not -2**63 <= int(token.text) < 2**63:
                raise self.error(f"integer {token.text[:30]} is out of range (at most 64 bits)",
                                 token)
            return int(token.text)
        if token.kind == "ident" and token.lower in ("true", "false"):
            return token.lower == "true"
        raise self.error(f"expected a value (a quoted string, a number, true or false), "
                         f"found {token.text!r}", token)

    def comparison(self) -> Comparison:
        start = self.peek()
        name = self.field_name()
        position = start.position if start else 0
        token = self.peek()
        if token is None:
            raise self.error(f"expected an operator after {name}")
        if token.kind == "op":
            self.take()
            op = "!=" if token.text == "<>" else token.text
            return Comparison(name, op, [self.value()], position)
        if self.keyword("between"):
            low = self.value()
            if not self.keyword("and"):
                raise self.error("expected AND in BETWEEN ... AND ...")
            return Comparison(name, "between", [low, self.value()], position)
        negate = self.keyword("not")
        if self.keyword("in"):
            self.expect_punct("(")
            values = [self.value()]
            while self.peek() is not None and self.peek().text == ",":  # type: ignore[union-attr]
                self.take()
                values.append(self.value())
                if len(values) > MAX_IN_VALUES:
                    raise self.error(f"IN lists at most {MAX_IN_VALUES} values")
            self.expect_punct(")")
            return Comparison(name, "not in" if negate else "in", values, position)
        if negate:
            raise self.error("expected IN after NOT")
        if self.keyword("starts_with"):
            return Comparison(name, "starts_with", [self.value()], position)
        if self.keyword("is"):
            negated = self.keyword("not")
            if not self.keyword("null"):
                raise self.error("expected NULL after IS")
            return Comparison(name, "is not null" if negated else "is null", [], position)
        raise self.error(f"expected an operator (=, !=, <, >, <=, >=, BETWEEN, IN, STARTS_WITH) "
                         f"after {name}, found {token.text!r}", token)


def parse_list_query(query: str | None) -> ListQuery:
    """Parse a list filter; an empty query matches everything."""
    if not query or not query.strip():
        return ListQuery(None)
    parsed = _Parser(query).parse()
    _check_builtin_types(query, parsed.where)
    return parsed


_TEXT_FIELDS = ("WorkflowId", "WorkflowType", "TaskQueue", "RunId", "ExecutionStatus")


def _check_builtin_types(query: str, node: Any) -> None:
    """Built-in fields compare with values of their own type (a database that types its
    columns, as PostgreSQL does, refuses text = integer rather than finding nothing)."""
    if isinstance(node, BoolOp):
        for item in node.items:
            _check_builtin_types(query, item)
        return
    if not isinstance(node, Comparison):
        return
    if node.op == "starts_with" and node.field in BUILTIN_FIELDS.values() and \
            node.field not in _TEXT_FIELDS:
        raise ListFilterError(query, node.position, f"STARTS_WITH takes a text field; "
                              f"{node.field} is not one")
    for value in node.values:
        if node.field in _TEXT_FIELDS and not isinstance(value, str):
            raise ListFilterError(query, node.position, f"{node.field} takes a quoted string, "
                                  f"e.g. {node.field} = 'value', got {value!r}")
        if node.field == "HistoryLength" and (isinstance(value, bool | str)):
            raise ListFilterError(query, node.position,
                                  f"HistoryLength takes a number, got {value!r}")
