"""The store's operations for callers outside an event loop: each call blocks its thread.

The agent layer reads and writes its side tables from activity threads and from user code that
may have no event loop; it uses this, over the same drivers, schema and operations as the
``Store`` the engine uses.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from . import driver_of

T = TypeVar("T")


class BlockingStore(Protocol):
    url: str

    def write(self, fn: Callable[..., T], *args: Any) -> T: ...

    def read(self, fn: Callable[..., T], *args: Any) -> T: ...

    def close(self) -> None: ...


def open_blocking(url: str) -> BlockingStore:
    """Open (creating or migrating) the database at ``url``, a SQLite or PostgreSQL URL."""
    store: BlockingStore = driver_of(url).open_blocking(url)
    return store
