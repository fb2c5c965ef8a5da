"""A read-stream wrapper that notices when an MCP transport's stream ends (server gone)."""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any, Self

import anyio
from mcp.client._transport import ReadStream, WriteStream
from mcp.shared.message import SessionMessage

Item = SessionMessage | Exception
Streams = tuple[ReadStream[Item], WriteStream[SessionMessage]]


class EofWatchedStream:
    """Delegates to ``inner`` and sets ``closed`` when it reaches its end or breaks."""

    def __init__(self, inner: ReadStream[Item], closed: asyncio.Event) -> None:
        self._inner = inner
        self._closed = closed

    @property
    def last_context(self) -> Any:
        """Forwarded for context-carrying transports."""
        return getattr(self._inner, "last_context", None)

    async def receive(self) -> Item:
        try:
            return await self._inner.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
            self._closed.set()
            raise

    async def aclose(self) -> None:
        self._closed.set()
        await self._inner.aclose()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Item:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc_val: BaseException | None, exc_tb: TracebackType | None) -> None:
        await self.aclose()
