"""remember / recall: tools executed by the memory worker, reached through Requesters."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel

from tars.contracts import topics as T
from tars.contracts.health import Status
from tars.contracts.memory import (
    MemoryAck,
    MemoryFilter,
    MemoryIngest,
    MemoryQuery,
    MemoryResults,
)
from tars.runtime import Inbound, Requester, RequestError, Service
from tars_tools.builtins import RecallArgs, RememberArgs, call_context
from tars_tools.errors import ToolExecutionError, ToolUnavailableError
from tars_tools.registry import FunctionTool, ToolRegistry, ToolResult

R = TypeVar("R", bound=BaseModel)


class MemoryBridge:
    """Sends remember/recall to the memory worker; fails fast once its status says offline."""

    def __init__(self, service: Service, timeout_s: float) -> None:
        self.ingest: Requester[MemoryAck] = Requester(service, T.MEMORY_INGEST, T.MEMORY_ACK,
                                                      timeout_s=timeout_s)
        self.query: Requester[MemoryResults] = Requester(service, T.MEMORY_QUERY, T.MEMORY_RESULTS,
                                                         timeout_s=timeout_s)
        self.online: bool | None = None  # None: no status seen yet
        service.handle(T.SYSTEM_STATUS, self._on_status, topic=T.SYSTEM_STATUS.topic(service="memory"))

    async def start(self) -> None:
        await self.ingest.start()
        await self.query.start()

    async def close(self) -> None:
        await self.ingest.close()
        await self.query.close()

    def pending(self) -> int:
        """Requests waiting for the memory worker (0 when nothing leaked)."""
        return len(self.ingest.pending) + len(self.query.pending)

    async def _on_status(self, msg: Inbound[Status]) -> None:
        self.online = msg.payload.state == "online"

    def install(self, registry: ToolRegistry) -> None:
        """Replace the declared-only remember/recall with tools that call the memory worker."""
        for name in ("remember", "recall"):
            registry.remove(name)
        registry.add(FunctionTool("remember", "Store a fact about the user for later conversations.",
                                  RememberArgs, self.remember))
        registry.add(FunctionTool("recall", "Look up facts remembered about the user.",
                                  RecallArgs, self.recall))

    async def _ask(self, requester: Requester[R], payload: BaseModel) -> R:
        if self.online is False:
            raise ToolUnavailableError("memory is not available (the memory worker is offline)")
        ctx = call_context()
        try:
            reply = await requester.request(payload, correlation_id=ctx.correlation_id,
                                            site_id=ctx.site or None)
        except RequestError as exc:
            raise ToolUnavailableError(f"memory is not available ({exc})") from exc
        return reply.payload

    async def remember(self, args: RememberArgs) -> ToolResult:
        ack = await self._ask(self.ingest, MemoryIngest(text=args.text, role="fact", source="tool"))
        if ack.error:
            raise ToolExecutionError(f"memory refused to store it: {ack.error}")
        return ToolResult("I'll remember that.", {"ids": ack.ids})

    async def recall(self, args: RecallArgs) -> ToolResult:
        site = call_context().site or None  # this site's memories, never a reply as a fact
        scope = MemoryFilter(site_id=site, roles=["user", "fact", "note"])
        results = await self._ask(self.query, MemoryQuery(text=args.query, k=args.limit,
                                                          filter=scope))
        if results.error:
            raise ToolExecutionError(f"memory search failed: {results.error}")
        if not results.hits:
            return ToolResult("Nothing remembered about that.", [])
        return ToolResult("\n".join(h.text for h in results.hits),
                          [{"text": h.text, "score": round(h.score, 3)} for h in results.hits])
