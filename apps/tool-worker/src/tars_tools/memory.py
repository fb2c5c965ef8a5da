"""remember / recall: tools executed by the memory worker, reached through its client."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from tars.clients.memory import MemoryClient
from tars.contracts.memory import MemoryFilter, MemoryIngest, MemoryQuery
from tars.runtime import RequestError, Service
from tars_tools.builtins import RecallArgs, RememberArgs, call_context
from tars_tools.errors import ToolExecutionError, ToolUnavailableError
from tars_tools.registry import FunctionTool, ToolRegistry, ToolResult

R = TypeVar("R")


class MemoryBridge:
    """Sends remember/recall to the memory worker; fails fast once its status says offline."""

    def __init__(self, service: Service, timeout_s: float) -> None:
        self.client = MemoryClient(service, timeout_s=timeout_s)

    async def start(self) -> None:
        await self.client.start(self.client.ingest, self.client.query)

    async def close(self) -> None:
        await self.client.close()

    def pending(self) -> int:
        """Requests waiting for the memory worker (0 when nothing leaked)."""
        return self.client.pending()

    def install(self, registry: ToolRegistry) -> None:
        """Replace the declared-only remember/recall with tools that call the memory worker."""
        for name in ("remember", "recall"):
            registry.remove(name)
        registry.add(FunctionTool("remember", "Store a fact about the user for later conversations.",
                                  RememberArgs, self.remember))
        registry.add(FunctionTool("recall", "Look up facts remembered about the user.",
                                  RecallArgs, self.recall))

    async def _ask(self, send: Callable[[str | None, str | None], Awaitable[R]]) -> R:
        """``send(correlation_id, site_id)`` of the turn calling the tool; fails fast once memory
        said offline (one never heard of is asked: it may not have announced itself yet)."""
        if self.client.down:
            raise ToolUnavailableError("memory is not available (the memory worker is offline)")
        ctx = call_context()
        try:
            return await send(ctx.correlation_id, ctx.site or None)
        except RequestError as exc:
            raise ToolUnavailableError(f"memory is not available ({exc})") from exc

    async def remember(self, args: RememberArgs) -> ToolResult:
        ingest = MemoryIngest(text=args.text, role="fact", source="tool")
        ack = await self._ask(lambda cid, site: self.client.store(ingest, correlation_id=cid, site_id=site))
        if ack.error:
            raise ToolExecutionError(f"memory refused to store it: {ack.error}")
        return ToolResult("I'll remember that.", {"ids": ack.ids})

    async def recall(self, args: RecallArgs) -> ToolResult:
        site = call_context().site or None  # this site's memories, never a reply as a fact
        scope = MemoryFilter(site_id=site, roles=["user", "fact", "note"])
        query = MemoryQuery(text=args.query, k=args.limit, filter=scope)
        results = await self._ask(lambda cid, site: self.client.search(query, correlation_id=cid,
                                                                       site_id=site))
        if results.error:
            raise ToolExecutionError(f"memory search failed: {results.error}")
        if not results.hits:
            return ToolResult("Nothing remembered about that.", [])
        return ToolResult("\n".join(h.text for h in results.hits),
                          [{"text": h.text, "score": round(h.score, 3)} for h in results.hits])
