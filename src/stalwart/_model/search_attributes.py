"""Search attributes: typed keys and values, and their store form (mirrors temporalio.common).

Store form: ``{"Name": {"type": "Keyword", "value": <json>}}``; datetimes as ISO strings.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum
from typing import Any, Generic, TypeVar, get_origin

T = TypeVar("T")


class SearchAttributeIndexedValueType(IntEnum):
    TEXT = 1
    KEYWORD = 2
    INT = 3
    DOUBLE = 4
    BOOL = 5
    DATETIME = 6
    KEYWORD_LIST = 7


_TYPE_NAMES = {
    SearchAttributeIndexedValueType.TEXT: "Text",
    SearchAttributeIndexedValueType.KEYWORD: "Keyword",
    SearchAttributeIndexedValueType.INT: "Int",
    SearchAttributeIndexedValueType.DOUBLE: "Double",
    SearchAttributeIndexedValueType.BOOL: "Bool",
    SearchAttributeIndexedValueType.DATETIME: "Datetime",
    SearchAttributeIndexedValueType.KEYWORD_LIST: "KeywordList",
}
TYPES_BY_NAME = {name: kind for kind, name in _TYPE_NAMES.items()}
_VALUE_TYPES: dict[SearchAttributeIndexedValueType, Any] = {
    SearchAttributeIndexedValueType.TEXT: str,
    SearchAttributeIndexedValueType.KEYWORD: str,
    SearchAttributeIndexedValueType.INT: int,
    SearchAttributeIndexedValueType.DOUBLE: float,
    SearchAttributeIndexedValueType.BOOL: bool,
    SearchAttributeIndexedValueType.DATETIME: datetime,
    SearchAttributeIndexedValueType.KEYWORD_LIST: Sequence[str],
}


@dataclass(frozen=True)
class SearchAttributeKey(Generic[T]):
    """A typed search attribute name; create with the ``for_*`` constructors."""

    name: str
    indexed_value_type: SearchAttributeIndexedValueType

    @property
    def value_type_name(self) -> str:
        return _TYPE_NAMES[self.indexed_value_type]

    @property
    def value_type(self) -> Any:
        """The Python type of the key's values (``Sequence[str]`` for a keyword list)."""
        return _VALUE_TYPES[self.indexed_value_type]

    @property
    def origin_value_type(self) -> type:
        """``value_type`` without generics, usable with ``isinstance``."""
        value_type = self.value_type
        origin: type = get_origin(value_type) or value_type
        return origin

    @staticmethod
    def for_text(name: str) -> SearchAttributeKey[str]:
        return SearchAttributeKey(name, SearchAttributeIndexedValueType.TEXT)

    @staticmethod
    def for_keyword(name: str) -> SearchAttributeKey[str]:
        return SearchAttributeKey(name, SearchAttributeIndexedValueType.KEYWORD)

    @staticmethod
    def for_int(name: str) -> SearchAttributeKey[int]:
        return SearchAttributeKey(name, SearchAttributeIndexedValueType.INT)

    @staticmethod
    def for_float(name: str) -> SearchAttributeKey[float]:
        return SearchAttributeKey(name, SearchAttributeIndexedValueType.DOUBLE)

    @staticmethod
    def for_bool(name: str) -> SearchAttributeKey[bool]:
        return SearchAttributeKey(name, SearchAttributeIndexedValueType.BOOL)

    @staticmethod
    def for_datetime(name: str) -> SearchAttributeKey[datetime]:
        return SearchAttributeKey(name, SearchAttributeIndexedValueType.DATETIME)

    @staticmethod
    def for_keyword_list(name: str) -> SearchAttributeKey[Sequence[str]]:
        return SearchAttributeKey(name, SearchAttributeIndexedValueType.KEYWORD_LIST)

    def value_set(self, value: T) -> SearchAttributeUpdate[T]:
        return SearchAttributeUpdate(self, value)

    def value_unset(self) -> SearchAttributeUpdate[T]:
        return SearchAttributeUpdate(self, None)


@dataclass(frozen=True)
class SearchAttributePair(Generic[T]):
    key: SearchAttributeKey[T]
    value: T


@dataclass(frozen=True)
class SearchAttributeUpdate(Generic[T]):
    key: SearchAttributeKey[T]
    value: T | None


class TypedSearchAttributes(Sequence[SearchAttributePair[Any]]):
    """An immutable collection of typed search attributes."""

    empty: TypedSearchAttributes
    search_attributes: Sequence[SearchAttributePair[Any]]

    def __init__(self, search_attributes: Sequence[SearchAttributePair[Any]] = ()) -> None:
        names = [pair.key.name for pair in search_attributes]
        if len(names) != len(set(names)):
            raise ValueError(f"duplicate search attribute names in {names}")
        self.search_attributes = list(search_attributes)

    def __len__(self) -> int:
        return len(self.search_attributes)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, SearchAttributeKey):
            for pair in self.search_attributes:
                if pair.key.name == index.name:
                    return pair.value
            raise KeyError(index.name)
        return self.search_attributes[index]

    def __iter__(self) -> Iterator[SearchAttributePair[Any]]:
        return iter(self.search_attributes)

    def __contains__(self, key: object) -> bool:
        name = key.name if isinstance(key, SearchAttributeKey) else key
        return any(pair.key.name == name for pair in self.search_attributes)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TypedSearchAttributes) and \
            self.search_attributes == other.search_attributes

    def __hash__(self) -> int:
        return hash(tuple(self.search_attributes))

    def __repr__(self) -> str:
        return f"TypedSearchAttributes({self.search_attributes!r})"

    def get(self, key: SearchAttributeKey[T], default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def updated(self, *updates: SearchAttributeUpdate[Any]) -> TypedSearchAttributes:
        current = {pair.key.name: pair for pair in self.search_attributes}
        for update in updates:
            if update.value is None:
                current.pop(update.key.name, None)
            else:
                current[update.key.name] = SearchAttributePair(update.key, update.value)
        return TypedSearchAttributes(list(current.values()))


TypedSearchAttributes.empty = TypedSearchAttributes()


def check_value(key: SearchAttributeKey[Any], value: Any) -> Any:
    """The store form of ``value``, or a TypeError naming the attribute, type and value."""
    kind = key.indexed_value_type
    expected: tuple[type, ...]
    if kind in (SearchAttributeIndexedValueType.TEXT, SearchAttributeIndexedValueType.KEYWORD):
        expected = (str,)
    elif kind == SearchAttributeIndexedValueType.INT:
        expected = (int,)
    elif kind == SearchAttributeIndexedValueType.DOUBLE:
        expected = (int, float)
    elif kind == SearchAttributeIndexedValueType.BOOL:
        expected = (bool,)
    elif kind == SearchAttributeIndexedValueType.DATETIME:
        if not isinstance(value, datetime):
            raise TypeError(f"search attribute {key.name!r} is Datetime; got "
                            f"{type(value).__name__} {value!r}: pass a datetime")
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    else:
        if isinstance(value, str) or not isinstance(value, Sequence) or not all(
                isinstance(v, str) for v in value):
            raise TypeError(f"search attribute {key.name!r} is KeywordList; got {value!r}: "
                            "pass a list of strings")
        return list(value)
    bad_bool = kind != SearchAttributeIndexedValueType.BOOL and isinstance(value, bool)
    if not isinstance(value, expected) or bad_bool:
        raise TypeError(f"search attribute {key.name!r} is {key.value_type_name}; got "
                        f"{type(value).__name__} {value!r}")
    return value


def to_store(attributes: TypedSearchAttributes | Mapping[str, Sequence[Any]] | None
             ) -> dict[str, dict[str, Any]]:
    """Typed or dict-form (``{"Name": [values]}``) attributes to the store form."""
    if attributes is None:
        return {}
    out: dict[str, dict[str, Any]] = {}
    if isinstance(attributes, TypedSearchAttributes):
        for pair in attributes:
            out[pair.key.name] = {"type": pair.key.value_type_name,
                                  "value": check_value(pair.key, pair.value)}
        return out
    if not isinstance(attributes, Mapping):
        raise TypeError("search_attributes must be TypedSearchAttributes or a dict of "
                        f"name -> list of values, got {type(attributes).__name__}")
    for name, values in attributes.items():
        if isinstance(values, str) or not isinstance(values, Sequence):
            raise TypeError(f"search attribute {name!r}: the dict form takes a list of values, "
                            f"got {values!r}; write {{{name!r}: [{values!r}]}}")
        out[name] = _guess(name, list(values))
    return out


def _guess(name: str, values: list[Any]) -> dict[str, Any]:
    if len(values) != 1:
        return {"type": "KeywordList", "value": [str(v) for v in values]}
    value = values[0]
    if isinstance(value, bool):
        return {"type": "Bool", "value": value}
    if isinstance(value, int):
        return {"type": "Int", "value": value}
    if isinstance(value, float):
        return {"type": "Double", "value": value}
    if isinstance(value, datetime):
        key: SearchAttributeKey[datetime] = SearchAttributeKey.for_datetime(name)
        return {"type": "Datetime", "value": check_value(key, value)}
    return {"type": "Keyword", "value": str(value)}


def from_store(stored: Mapping[str, Mapping[str, Any]] | None) -> TypedSearchAttributes:
    pairs: list[SearchAttributePair[Any]] = []
    for name, entry in (stored or {}).items():
        kind = TYPES_BY_NAME[entry["type"]]
        value = entry["value"]
        if kind == SearchAttributeIndexedValueType.DATETIME:
            value = datetime.fromisoformat(value)
        pairs.append(SearchAttributePair(SearchAttributeKey(name, kind), value))
    return TypedSearchAttributes(pairs)


def to_dict_form(stored: Mapping[str, Mapping[str, Any]] | None) -> dict[str, list[Any]]:
    """The older ``{"Name": [values]}`` form."""
    out: dict[str, list[Any]] = {}
    for pair in from_store(stored):
        value = pair.value
        out[pair.key.name] = list(value) if isinstance(value, list) else [value]
    return out
