"""A real MCP server over stdio for the agent tests: a notebook whose ``add_note`` tool appends
to a file (so a test can count how often it really ran) and keeps a per-session count (so a
stateful session is observable)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from mcp.server.mcpserver import MCPServer

NOTES = Path(sys.argv[1])
server = MCPServer("notes")
_session_count = 0


@server.tool()
def add_note(text: str) -> str:
    """Add a note to the notebook."""
    global _session_count
    _session_count += 1
    with NOTES.open("a") as notes:
        notes.write(f"{text} pid {os.getpid()}\n")
    return f"noted {text!r} (note {_session_count} of this session)"


if __name__ == "__main__":
    server.run("stdio")
