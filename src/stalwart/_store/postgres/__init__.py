"""PostgreSQL store: many worker processes on many hosts share one database."""

from __future__ import annotations

from .store import PostgresStore

__all__ = ["PostgresStore"]
