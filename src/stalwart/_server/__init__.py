"""Stalwart's dev server: a JSON API, a web UI and Prometheus metrics over one store.

Needs the ``server`` extra (``pip install 'stalwart[server]'``). Start it with
``stalwart server start-dev``.
"""

from __future__ import annotations

from .app import DEFAULT_PORT, ServerConfig, bind_socket, create_app, make_server

__all__ = ["DEFAULT_PORT", "ServerConfig", "bind_socket", "create_app", "make_server"]
