"""A tiny MCP stdio server for the hub tests: add, boom, pid, slow, and a tool not allowed."""

from __future__ import annotations

import asyncio
import os

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server = MCPServer("tiny")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
def boom(reason: str) -> str:
    """Always fails, with a message meant for the caller."""
    raise ToolError(f"boom: {reason}")


@server.tool()
def pid() -> int:
    """The server's process id."""
    return os.getpid()


@server.tool()
async def slow(seconds: float) -> str:
    """Sleep, then answer."""
    await asyncio.sleep(seconds)
    return "done"


@server.tool()
def secret() -> str:
    """Not on the allowlist."""
    return "should never be reachable"


if __name__ == "__main__":
    server.run("stdio")
