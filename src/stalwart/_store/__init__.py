"""Stores: the only shared state. ``open_store(url)`` picks the backend from the URL."""

from __future__ import annotations

import os
from pathlib import Path

from .. import exceptions as exc
from .._model.redact import scrub
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


async def open_store(url: str | None) -> Store:
    resolved = resolve_url(url)
    try:
        return await _open_store(resolved)
    except (ValueError, OSError, exc.StoreError) as error:
        # Errors quote the URL; the password must not reach a terminal or a log.
        error.args = tuple(scrub(a, resolved) if isinstance(a, str) else a for a in error.args)
        raise


async def _open_store(resolved: str) -> Store:
    if resolved.startswith("sqlite:"):
        from .sqlite.store import SqliteStore

        return await SqliteStore.open(resolved)
    if resolved.startswith(("postgresql:", "postgres:")):
        try:
            from .postgres import PostgresStore
        except ImportError as error:
            raise ValueError(
                f"store URL {resolved!r}: the PostgreSQL driver is not installed ({error}); "
                "install it with: pip install 'stalwart[postgres]'"
            ) from error
        return await PostgresStore.open(resolved)
    raise ValueError(
        f"store URL {resolved!r} is not understood: use sqlite:///path/to/file.db or "
        "postgresql://user@host:port/database (or set STALWART_URL)"
    )
