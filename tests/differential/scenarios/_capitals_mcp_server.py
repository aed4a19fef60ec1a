"""A real MCP server over stdio for the MCP scenarios (not a scenario: the leading underscore
keeps the harness off it). Run as ``python _capitals_mcp_server.py``."""

from mcp.server.mcpserver import MCPServer

server = MCPServer("capitals")
_CAPITALS = {"France": "Paris", "Italy": "Rome", "Japan": "Tokyo"}


@server.tool()
def capital_of(country: str) -> str:
    """The capital city of a country."""
    return _CAPITALS.get(country, f"no capital known for {country}")


if __name__ == "__main__":
    server.run("stdio")
