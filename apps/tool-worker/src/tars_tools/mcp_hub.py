"""MCP tool hub: connects to configured MCP servers, exposes their allowed tools, supervises them.

Each server has a supervisor task: connect (stdio subprocess or streamable HTTP), initialize,
list tools, then watch the connection (end of stream, failed ping). When the connection is
lost the hub reports ``down`` through the callback, waits (exponential backoff + jitter) and
connects again, then reports ``up``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import mcp_types
from mcp import ClientSession, MCPError, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from tars.contracts.tools import ToolSpec
from tars.errors import TarsError
from tars_tools.errors import (
    ToolExecutionError,
    ToolTimeoutError,
    ToolUnavailableError,
    UnknownToolError,
)
from tars_tools.mcp_config import QUALIFIER, McpServerConfig
from tars_tools.mcp_stream import EofWatchedStream, Streams
from tars_tools.registry import ToolResult

log = logging.getLogger(__name__)


class ServerEventKind(StrEnum):
    """What happened to a server."""

    UP = "up"
    DOWN = "down"


@dataclass(frozen=True, slots=True)
class ServerEvent:
    """Reported through ``on_event``: a server came up or went down (and when it is retried)."""

    server: str
    kind: ServerEventKind
    detail: str = ""
    failures: int = 0
    retry_in_s: float | None = None


OnServerEvent = Callable[[ServerEvent], Awaitable[None]]


class _Disconnected(TarsError):
    """The connection of a server ended."""


@dataclass(slots=True)
class _Server:
    config: McpServerConfig
    session: ClientSession | None = None
    tools: dict[str, mcp_types.Tool] = field(default_factory=dict)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    failures: int = 0
    starts: int = 0
    last_error: str = ""


@dataclass(frozen=True, slots=True)
class McpTool:
    """A server's tool as the rest of tars sees it (satisfies the registry's ``Tool``)."""

    spec: ToolSpec
    server: str
    remote_name: str
    hub: McpToolHub

    async def call(self, arguments: Mapping[str, Any]) -> ToolResult:
        """Call through the hub (see :meth:`McpToolHub.call`)."""
        return await self.hub.call(self.spec.name, arguments)


class McpToolHub:
    """Owns the connections to MCP servers and routes calls of ``<server>__<tool>`` names."""

    def __init__(self, servers: Sequence[McpServerConfig], on_event: OnServerEvent | None = None,
                 rng: random.Random | None = None) -> None:
        names = [s.name for s in servers]
        if len(set(names)) != len(names):
            raise ValueError("MCP server names must be unique")
        self._servers = {s.name: _Server(s) for s in servers}
        self._on_event = on_event
        self._rng = rng or random.Random()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Start one supervisor per server (returns at once; see :meth:`wait_ready`)."""
        if self._tasks:
            raise RuntimeError("hub already started")
        self._tasks = [asyncio.create_task(self._supervise(s), name=f"mcp-{s.config.name}")
                       for s in self._servers.values()]

    async def stop(self) -> None:
        """Disconnect every server and stop its process."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def wait_ready(self, timeout_s: float, server: str | None = None) -> None:
        """Wait until ``server`` (or every server) is connected; raises ToolTimeoutError."""
        targets = [self._server(server)] if server else list(self._servers.values())
        try:
            async with asyncio.timeout(timeout_s):
                for target in targets:
                    await target.ready.wait()
        except TimeoutError:
            raise ToolTimeoutError(f"MCP servers not ready after {timeout_s} s") from None

    def connected(self, server: str) -> bool:
        """Is ``server`` connected right now?"""
        return self._server(server).session is not None

    def tools(self) -> list[McpTool]:
        """Allowed tools of every connected server, by qualified name."""
        out: list[McpTool] = []
        for state in self._servers.values():
            for name, tool in sorted(state.tools.items()):
                spec = ToolSpec(name=state.config.qualified(name),
                                description=tool.description or name,
                                parameters=tool.input_schema)
                out.append(McpTool(spec, state.config.name, name, self))
        return out

    def specs(self) -> list[ToolSpec]:
        """Specs of :meth:`tools`."""
        return [tool.spec for tool in self.tools()]

    async def call(self, qualified_name: str, arguments: Mapping[str, Any],
                   timeout_s: float | None = None) -> ToolResult:
        """Call ``<server>__<tool>``.

        Raises UnknownToolError (no such server or tool, or not allowed),
        ToolUnavailableError (server not connected), ToolTimeoutError, and
        ToolExecutionError (the tool reported an error, or the protocol failed).
        """
        server_name, _, tool = qualified_name.partition(QUALIFIER)
        state = self._servers.get(server_name)
        if state is None or not tool or not state.config.allows(tool):
            raise UnknownToolError(f"no MCP tool named {qualified_name!r}")
        session = state.session
        if session is None:
            raise ToolUnavailableError(f"MCP server {server_name!r} is not connected"
                                       + (f" ({state.last_error})" if state.last_error else ""))
        if tool not in state.tools:
            raise UnknownToolError(f"server {server_name!r} has no tool {tool!r}")
        limit = timeout_s or state.config.call_timeout_s
        try:
            async with asyncio.timeout(limit + 1.0):
                result = await session.call_tool(tool, dict(arguments), read_timeout_seconds=limit)
        except TimeoutError:
            raise ToolTimeoutError(f"{qualified_name} did not answer in {limit} s") from None
        except MCPError as exc:
            raise _convert(qualified_name, exc, limit) from exc
        text = _text_of(result)
        if result.is_error:
            raise ToolExecutionError(f"{qualified_name}: {text or 'tool failed'}")
        return ToolResult(text, result.structured_content)

    def _server(self, name: str) -> _Server:
        try:
            return self._servers[name]
        except KeyError:
            raise UnknownToolError(f"no MCP server named {name!r}") from None

    async def _supervise(self, state: _Server) -> None:
        while True:
            started = time.monotonic()
            try:
                await self._connect_and_serve(state)
            except Exception as exc:
                state.last_error = _describe(exc)
            finally:
                state.session = None
                state.tools = {}
                state.ready.clear()
            if time.monotonic() - started >= state.config.backoff.reset_after_s:
                state.failures = 0
            delay = state.config.backoff.delay(state.failures, self._rng)
            state.failures += 1
            log.warning("MCP server %s down (%s); retry in %.2f s", state.config.name,
                        state.last_error, delay)
            await self._report(ServerEvent(state.config.name, ServerEventKind.DOWN,
                                           state.last_error, state.failures, delay))
            await asyncio.sleep(delay)

    async def _connect_and_serve(self, state: _Server) -> None:
        cfg = state.config
        async with contextlib.AsyncExitStack() as stack:
            read, write = await stack.enter_async_context(_transport(cfg))
            closed = asyncio.Event()
            session = await stack.enter_async_context(
                ClientSession(EofWatchedStream(read, closed), write))
            async with asyncio.timeout(cfg.connect_timeout_s):
                await session.initialize()
                tools = await _list_all_tools(session)
            state.tools = {t.name: t for t in tools if cfg.allows(t.name)}
            state.session, state.starts, state.last_error = session, state.starts + 1, ""
            state.ready.set()
            log.info("MCP server %s up: %s", cfg.name, ", ".join(sorted(state.tools)) or "-")
            await self._report(ServerEvent(cfg.name, ServerEventKind.UP,
                                           ", ".join(sorted(state.tools)), state.failures))
            await _watch(session, closed, cfg)

    async def _report(self, event: ServerEvent) -> None:
        if self._on_event is None:
            return
        try:
            await self._on_event(event)
        except Exception:
            log.exception("MCP server event callback failed")


@contextlib.asynccontextmanager
async def _transport(cfg: McpServerConfig) -> AsyncIterator[Streams]:
    if cfg.command is not None:
        params = StdioServerParameters(command=cfg.command, args=cfg.args, env=cfg.env or None,
                                       cwd=cfg.cwd)
        async with stdio_client(params) as streams:
            yield streams
        return
    assert cfg.url is not None
    if not cfg.headers:
        async with streamable_http_client(cfg.url) as streams:
            yield streams
        return
    import httpx2

    async with httpx2.AsyncClient(headers=cfg.headers) as client, \
            streamable_http_client(cfg.url, http_client=client) as streams:
        yield streams


async def _list_all_tools(session: ClientSession) -> list[mcp_types.Tool]:
    tools: list[mcp_types.Tool] = []
    cursor: str | None = None
    while True:
        params = mcp_types.PaginatedRequestParams(cursor=cursor) if cursor else None
        page = await session.list_tools(params=params)
        tools.extend(page.tools)
        cursor = page.next_cursor
        if not cursor:
            return tools


async def _watch(session: ClientSession, closed: asyncio.Event, cfg: McpServerConfig) -> None:
    interval = cfg.ping_interval_s or None
    while True:
        try:
            async with asyncio.timeout(interval):
                await closed.wait()
        except TimeoutError:
            try:
                async with asyncio.timeout(cfg.call_timeout_s):
                    await session.send_ping()
            except (TimeoutError, MCPError) as exc:
                raise _Disconnected(f"ping failed: {_describe(exc)}") from exc
            continue
        raise _Disconnected("connection closed")


def _convert(name: str, exc: MCPError, limit: float) -> Exception:
    if exc.code == mcp_types.REQUEST_TIMEOUT:
        return ToolTimeoutError(f"{name} did not answer in {limit} s")
    if exc.code == mcp_types.CONNECTION_CLOSED:
        return ToolUnavailableError(f"{name}: connection to the server was lost")
    return ToolExecutionError(f"{name}: {exc.message}")


def _text_of(result: mcp_types.CallToolResult) -> str:
    parts = [block.text for block in result.content if isinstance(block, mcp_types.TextContent)]
    return "\n".join(parts)


def _describe(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
