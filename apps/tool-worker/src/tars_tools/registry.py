"""Tools (a ``tars.contracts.tools.ToolSpec`` and a body) and a registry that calls them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from tars.contracts.tools import ToolSpec
from tars_tools.errors import (
    ToolArgumentError,
    ToolError,
    ToolExecutionError,
    ToolTimeoutError,
    ToolUnavailableError,
    UnknownToolError,
)

ArgsT = TypeVar("ArgsT", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class ToolResult:
    """A tool's answer: ``text`` for the LLM, ``data`` as structured JSON-able detail."""

    text: str
    data: Any = None


class Tool(Protocol):
    """Anything callable as a tool."""

    @property
    def spec(self) -> ToolSpec: ...

    async def call(self, arguments: Mapping[str, Any]) -> ToolResult: ...


def schema_of(model: type[BaseModel]) -> dict[str, Any]:
    """A compact JSON schema of a pydantic model (titles removed: they only cost tokens)."""
    stripped: dict[str, Any] = _strip_titles(model.model_json_schema())
    return stripped


def _strip_titles(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip_titles(v) for k, v in node.items() if k != "title"}
    if isinstance(node, list):
        return [_strip_titles(v) for v in node]
    return node


@dataclass(frozen=True, slots=True)
class FunctionTool(Generic[ArgsT]):
    """A tool whose arguments are a pydantic model and whose body is an async function."""

    name: str
    description: str
    args: type[ArgsT]
    handler: Callable[[ArgsT], Awaitable[ToolResult]]
    spec: ToolSpec = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "spec", ToolSpec(
            name=self.name, description=self.description, parameters=schema_of(self.args)))

    async def call(self, arguments: Mapping[str, Any]) -> ToolResult:
        """Validate ``arguments`` and run the handler; raises ToolArgumentError on bad input."""
        try:
            parsed = self.args.model_validate(dict(arguments))
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}"
                                 for e in exc.errors())
            raise ToolArgumentError(f"{self.name}: {problems}") from exc
        return await self.handler(parsed)


@dataclass(frozen=True, slots=True)
class DeclaredTool:
    """A tool declared here but executed elsewhere (for example by the memory worker)."""

    spec: ToolSpec
    routed_to: str

    async def call(self, arguments: Mapping[str, Any]) -> ToolResult:
        """Always raises ToolUnavailableError: the service must route this call."""
        raise ToolUnavailableError(f"{self.spec.name} is served by {self.routed_to}")


class ToolRegistry:
    """Tools by name. :meth:`call` converts foreign exceptions into :class:`ToolError`."""

    def __init__(self, default_timeout_s: float = 30.0) -> None:
        self._tools: dict[str, Tool] = {}
        self.default_timeout_s = default_timeout_s

    def add(self, tool: Tool) -> None:
        """Register ``tool``; raises ValueError if the name is taken."""
        if tool.spec.name in self._tools:
            raise ValueError(f"duplicate tool name {tool.spec.name!r}")
        self._tools[tool.spec.name] = tool

    def remove(self, name: str) -> None:
        """Forget a tool (no error if absent)."""
        self._tools.pop(name, None)

    def get(self, name: str) -> Tool:
        """The tool called ``name``; raises UnknownToolError."""
        try:
            return self._tools[name]
        except KeyError:
            raise UnknownToolError(f"no tool named {name!r}") from None

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._tools)

    def specs(self) -> list[ToolSpec]:
        """Specs of every tool, sorted by name."""
        return [self._tools[n].spec for n in self.names()]

    async def call(self, name: str, arguments: Mapping[str, Any],
                   timeout_s: float | None = None) -> ToolResult:
        """Call a tool with a timeout; every failure surfaces as a :class:`ToolError`."""
        tool = self.get(name)
        try:
            async with asyncio.timeout(timeout_s or self.default_timeout_s):
                return await tool.call(arguments)
        except ToolError:
            raise
        except TimeoutError as exc:
            raise ToolTimeoutError(f"{name} did not answer in time") from exc
        except Exception as exc:
            raise ToolExecutionError(f"{name} failed: {exc}") from exc
