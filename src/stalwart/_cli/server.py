"""``stalwart server start-dev``: the web UI, JSON API and metrics over a store."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import click

from .._model.redact import redact_url


@click.group()
def server() -> None:
    """Run the dev server (web UI, HTTP API, metrics)."""


@server.command("start-dev")
@click.option("--db-filename", "-f", default=None, type=click.Path(dir_okay=False),
              help="SQLite store file (created if missing). Default: stalwart.db here.")
@click.option("--url", default=None,
              help="Store URL instead of --db-filename, e.g. sqlite:///path/to/stalwart.db.")
@click.option("--ip", default="127.0.0.1", show_default=True,
              help="Address to bind. Anything but loopback requires --api-token.")
@click.option("--port", "-p", default=8233, show_default=True, type=click.IntRange(0, 65535),
              help="Port for the UI and the API (0 picks a free one).")
@click.option("--api-token", envvar="STALWART_API_TOKEN", default=None,
              help="Require 'Authorization: Bearer <token>' (env: STALWART_API_TOKEN); at "
                   "least 16 characters.")
@click.option("--generate-token", is_flag=True, default=False,
              help="Make a strong API token and print it once (instead of --api-token).")
@click.option("--external-storage-dir", envvar="STALWART_EXTERNAL_STORAGE_DIR", default=None,
              type=click.Path(file_okay=False),
              help="Directory of a LocalDirectoryStorageDriver (named 'local') the workers "
                   "store large payloads in: the UI and API then show them whole "
                   "(env: STALWART_EXTERNAL_STORAGE_DIR).")
@click.pass_context
def start_dev(ctx: click.Context, db_filename: str | None, url: str | None, ip: str, port: int,
              api_token: str | None, generate_token: bool,
              external_storage_dir: str | None) -> None:
    """Serve the web UI and the JSON API for a store on one port."""
    try:
        from .._server import ServerConfig, bind_socket, make_server
    except ImportError as error:
        raise click.ClickException(
            f"the dev server needs the 'server' extra ({error.name} is missing): "
            "pip install 'stalwart[server]'") from None
    if url and db_filename:
        raise click.UsageError("give either --url or --db-filename, not both")
    if generate_token:
        if api_token:
            raise click.UsageError("give either --api-token or --generate-token, not both")
        api_token = secrets.token_urlsafe(32)
    if db_filename:
        url = f"sqlite:///{Path(db_filename).resolve()}"
    url = url or (ctx.obj or {}).get("url") or os.environ.get("STALWART_URL") \
        or f"sqlite:///{Path.cwd() / 'stalwart.db'}"
    config = ServerConfig(url=url, host=ip, port=port, api_token=api_token or None,
                          external_storage_dir=external_storage_dir)
    try:
        config.check()
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    try:
        sock = bind_socket(ip, port)
    except OSError as error:
        raise click.ClickException(f"cannot listen on {ip}:{port}: {error.strerror}") from None
    bound_port = sock.getsockname()[1]
    shown = f"[{ip}]" if ":" in ip else ip
    click.echo(f"Stalwart dev server: http://{shown}:{bound_port}/  (API: "
               f"http://{shown}:{bound_port}/api/openapi.json, store: {redact_url(url)})",
               err=True)
    if generate_token:
        click.echo(f"API token (shown only now; keep it): {api_token}", err=True)
    if api_token:
        click.echo("API token required: send 'Authorization: Bearer <token>'; the UI asks for "
                   "it once.", err=True)
    server_ = make_server(config)
    try:
        server_.run(sockets=[sock])
    except KeyboardInterrupt:
        # uvicorn re-raises Ctrl-C after its graceful shutdown; that is a normal stop.
        click.echo("Stopped.", err=True)
    finally:
        sock.close()
