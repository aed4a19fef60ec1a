"""``stalwart db``: schema migration, status and retention cleanup for operators."""

from __future__ import annotations

import asyncio
import json
import re
import time
from datetime import timedelta

import click

from .. import exceptions as exc
from .._model.redact import redact_url
from .._store import open_store

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta:
    match = _DURATION.match(text.strip())
    if match is None:
        raise click.BadParameter(f"{text[:60]!r} is not a duration; write a number and a unit, "
                                 "e.g. 30d, 12h, 90m", param_hint="--older-than")
    try:
        return timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})
    except OverflowError:
        raise click.BadParameter(f"{text[:60]!r} is longer than any date can reach; give a "
                                 "shorter duration", param_hint="--older-than") from None


@click.group()
def db() -> None:
    """Migrate the store, see its status, clean up old runs."""


def _run(coro: object) -> object:
    try:
        return asyncio.run(coro)  # type: ignore[arg-type]
    except (exc.StalwartError, ValueError, OverflowError) as error:
        raise click.ClickException(str(error)) from error


@db.command("migrate")
@click.pass_context
def migrate(ctx: click.Context) -> None:
    """Create or upgrade the schema now (it also happens on connect), e.g. ahead of a deploy."""
    async def body() -> dict[str, object]:
        store = await open_store(ctx.obj["url"])
        try:
            return await store.status()
        finally:
            await store.close()

    status = _run(body())
    assert isinstance(status, dict)
    click.echo(f"schema version {status['schema_version']}: up to date")


@db.command("status")
@click.pass_context
def status(ctx: click.Context) -> None:
    """Schema version and row counts."""
    async def body() -> dict[str, object]:
        store = await open_store(ctx.obj["url"])
        try:
            return {"url": redact_url(store.url), **await store.status()}
        finally:
            await store.close()

    data = _run(body())
    assert isinstance(data, dict)
    if ctx.obj["output"] == "json":
        click.echo(json.dumps(data, indent=2))
    else:
        click.echo("\n".join(f"{key:>24}: {value}" for key, value in data.items()))


@db.command("cleanup")
@click.option("--older-than", required=True,
              help="Delete runs closed longer ago than this (30d, 12h, 90m, 2w).")
@click.option("--batch", type=click.IntRange(1, 100_000), default=1000, show_default=True,
              help="Runs deleted per transaction.")
@click.pass_context
def cleanup(ctx: click.Context, older_than: str, batch: int) -> None:
    """Retention: delete closed runs (and their histories) older than --older-than.
    Open runs are never touched."""
    cutoff = time.time() - parse_duration(older_than).total_seconds()

    async def body() -> int:
        store = await open_store(ctx.obj["url"])
        total = 0
        try:
            while True:
                deleted = await store.delete_closed_runs(cutoff, batch)
                total += deleted
                if deleted < batch:
                    return total
        finally:
            await store.close()

    deleted = _run(body())
    click.echo(json.dumps({"deleted_runs": deleted}) if ctx.obj["output"] == "json"
               else f"Deleted {deleted} closed runs older than {older_than}")
