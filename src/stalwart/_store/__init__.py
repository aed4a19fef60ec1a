"""Stores: the only shared state. ``open_store(url)`` picks the database's driver from the URL."""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType

from .base import Store

DEFAULT_SQLITE_FILE = "stalwart.db"


def resolve_url(url: str | None) -> str:
    """The explicit URL, else ``STALWART_URL``, else a SQLite file in the working directory."""
    if url:
        return url
    env = os.environ.get("STALWART_URL")
    if env:
        return env
    return f"sqlite:///{Path.cwd() / DEFAULT_SQLITE_FILE}"


def driver_of(url: str) -> ModuleType:
    """The ``store`` module of the database ``url`` names (imported only when used)."""
    if url.startswith("sqlite:"):
        from .sqlite import store as sqlite_store

        return sqlite_store
    if url.startswith(("postgresql:", "postgres:")):
        try:
            from .postgres import store as postgres_store
        except ImportError as error:
            raise ValueError(
                f"store URL {url!r}: the PostgreSQL driver is not installed ({error}); "
                "install it with: pip install 'stalwart[postgres]'"
            ) from error
        return postgres_store
    raise ValueError(
        f"store URL {url!r} is not understood: use sqlite:///path/to/file.db or "
        "postgresql://user@host:port/database (or set STALWART_URL)"
    )


async def open_store(url: str | None) -> Store:
    resolved = resolve_url(url)
    store: Store = await driver_of(resolved).open_store(resolved)
    return store
