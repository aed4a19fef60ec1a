"""``stalwart inbox``: the runs waiting for a person, and deciding for them."""

from __future__ import annotations

import asyncio
import getpass
import socket
from typing import Any

import click

from .._model import limits
from ..agents import inbox as inbox_ops
from ..client import Client


def _default_identity() -> str:
    try:
        user = getpass.getuser()
    except Exception:  # no user name in this environment
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def _run(coro: Any) -> Any:
    try:
        return asyncio.run(coro)
    except inbox_ops.InboxError as error:
        raise click.ClickException(error.message) from None


@click.group()
def inbox() -> None:
    """Steps of running workflows that wait for a person (approvals, questions, budgets)."""


@inbox.command("list")
@click.option("--type", "workflow_type", default=None, help="Only this workflow type.")
@click.pass_context
def list_steps(ctx: click.Context, workflow_type: str | None) -> None:
    """List every waiting step, oldest first."""
    from .main import _emit, _table

    async def go() -> list[dict[str, Any]]:
        client = await Client.connect(ctx.obj["url"])
        try:
            items = await inbox_ops.list_inbox(client, workflow_type=workflow_type)
        finally:
            await client.close()
        return [item.to_json() for item in items]

    rows = _run(go())
    _emit(ctx, rows, lambda: _table(rows, ["workflow_id", "step_id", "kind", "asks", "since",
                                           "until"]))


@inbox.command("decide")
@click.option("--workflow-id", "-w", required=True, help="The waiting workflow.")
@click.option("--step", "step_id", required=True, help="The step id (see 'inbox list').")
@click.option("--approve/--reject", "approved", required=True, help="The decision.")
@click.option("--by", default=None, help="Who decides (default: user@host); recorded.")
@click.option("--reason", default="", help="Why (recorded).")
@click.option("--answer", default=None, help="A JSON answer (e.g. a new budget).")
@click.pass_context
def decide(ctx: click.Context, workflow_id: str, step_id: str, approved: bool,
           by: str | None, reason: str, answer: str | None) -> None:
    """Approve or reject a waiting step; the decision and who made it go into the history."""
    from .main import _emit

    value = None
    if answer is not None:
        try:
            value = limits.check_json_text("--answer", answer)
        except ValueError as error:
            raise click.BadParameter(f"{error}; strings need quotes, e.g. --answer '\"yes\"'",
                                     param_hint="--answer") from None
    identity = inbox_ops.check_identity(by or _default_identity(), "--by") if by is not None \
        else _default_identity()

    async def go() -> dict[str, Any]:
        client = await Client.connect(ctx.obj["url"])
        try:
            return await inbox_ops.decide(client, workflow_id, None, step_id,
                                          approved=approved, by=f"{identity} (CLI)",
                                          reason=reason, answer=value)
        finally:
            await client.close()

    outcome = _run(go())
    _emit(ctx, outcome, lambda: f"{'approved' if approved else 'rejected'} step {step_id} of "
          f"{workflow_id} as {identity}")
