"""Stores: the only shared state. ``open_store(url)`` picks the database's driver from the URL."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from types import ModuleType

from .. import exceptions as exc
from .._model.redact import scrub
from .base import Store

DEFAULT_SQLITE_FILE = "stalwart.db"
# A Temporal server's address as temporalio takes it ("localhost:7233", "dns:///host:7233",
# "[::1]:7233"; "http://localhost:7233" in older code): it names no store.
_SERVER_ADDRESS = re.compile(r"^(dns:///|https?://)?([\w.-]+|\[[0-9A-Fa-f:.]+\]):\d+/?$")

_log = logging.getLogger(__name__)


def resolve_url(url: str | None) -> str:
    """The explicit URL, else ``STALWART_URL``, else a SQLite file in the working directory.

    A Temporal server address (code written for temporalio connects to ``localhost:7233``)
    counts as no URL: there is no server, and the store is the one ``STALWART_URL`` or the
    default names."""
    if url and _SERVER_ADDRESS.match(url):
        _log.info("%r is a Temporal server address; Stalwart has no server and opens the store "
                  "STALWART_URL names, else ./%s", url, DEFAULT_SQLITE_FILE)
        url = None
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
    try:
        store: Store = await driver_of(resolved).open_store(resolved)
    except (ValueError, OSError, exc.StoreError) as error:
        # Errors quote the URL; the password must not reach a terminal or a log.
        error.args = tuple(scrub(a, resolved) if isinstance(a, str) else a for a in error.args)
        raise
    return store
