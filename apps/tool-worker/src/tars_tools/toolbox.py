"""One entry point over the built-in registry and the MCP hub: every tool spec, every call."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tars.contracts.tools import ToolSpec
from tars_tools.mcp_config import QUALIFIER
from tars_tools.mcp_hub import McpToolHub
from tars_tools.registry import ToolRegistry, ToolResult


class Toolbox:
    """Built-in tools by plain name, MCP tools by ``<server>__<tool>``."""

    def __init__(self, registry: ToolRegistry, hub: McpToolHub | None = None) -> None:
        self.registry = registry
        self.hub = hub

    def specs(self) -> list[ToolSpec]:
        """Everything the LLM may call right now (MCP tools of connected servers only)."""
        return self.registry.specs() + (self.hub.specs() if self.hub else [])

    async def call(self, name: str, arguments: Mapping[str, Any],
                   timeout_s: float | None = None) -> ToolResult:
        """Dispatch a call; raises the :mod:`tars_tools.errors` hierarchy."""
        if self.hub is not None and QUALIFIER in name:
            return await self.hub.call(name, arguments, timeout_s)
        return await self.registry.call(name, arguments, timeout_s)
