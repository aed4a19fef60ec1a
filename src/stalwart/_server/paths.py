"""Workflow ids in addresses: any id, ``/``, ``.``, ``..`` and newlines included, must survive
a round trip through a browser or an HTTP client as one path segment.

``quote`` handles most of it (``/`` becomes ``%2F``), but ``.`` and ``..`` are dot segments,
which browsers and clients resolve away before sending, even when written ``%2E``. So those two
ids travel as ``~.`` and ``~..`` (never dot segments), and a literal ``~`` in an id is always
percent-encoded, so the escape cannot be confused with an id.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote_to_bytes

from starlette.routing import Route

_DOT_IDS = {".": "~.", "..": "~.."}
_ESCAPED = {b"~.": ".", b"~..": ".."}


def id_segment(workflow_id: str) -> str:
    """The path segment for ``workflow_id``."""
    return _DOT_IDS.get(workflow_id) or quote(workflow_id, safe="").replace("~", "%7E")


def segment_id(raw: bytes) -> str:
    """The workflow id in a raw (still percent-encoded) path segment.

    Raises:
        UnicodeDecodeError: the decoded bytes are not UTF-8.
    """
    escaped = _ESCAPED.get(raw)
    return escaped if escaped is not None else unquote_to_bytes(raw).decode("utf-8")


def any_character_route(route: Route) -> Route:
    """Let a ``{rest:path}`` route match decoded paths that hold newlines (an id ``a\\nb``
    arrives as ``%0A`` and is decoded before routing; ``.`` alone does not match it)."""
    route.path_regex = re.compile(route.path_regex.pattern, re.DOTALL)
    return route
