"""Chat over the bus: a TextTurn to the router (with the caller's history), its reply back."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from tars.clients.router import DeltaSink, RouterClient
from tars.contracts.envelope import new_id
from tars.contracts.llm import ChatMessage
from tars.contracts.turn import TextTurn, TurnResult
from tars.runtime import Service
from tars_gateway.errors import Unavailable


@dataclass(frozen=True)
class ChatReply:
    correlation_id: str
    result: TurnResult
    streamed: str


class ChatClient:
    """One typed turn per request, each on a site of its own from a pool (the router runs one
    turn per site at a time), without speech."""

    def __init__(self, service: Service, site_prefix: str, slots: int) -> None:
        self.sites: asyncio.Queue[str] = asyncio.Queue()
        for n in range(slots):
            self.sites.put_nowait(f"{site_prefix}-c{n}")
        self.router = RouterClient(service, stream=True)

    async def ask(self, text: str, history: list[ChatMessage], *, timeout_s: float,
                  on_delta: DeltaSink | None = None, correlation_id: str | None = None) -> ChatReply:
        try:
            site = await asyncio.wait_for(self.sites.get(), timeout_s)
        except TimeoutError:
            raise Unavailable("every chat slot is busy", code="busy") from None
        cid = correlation_id or new_id()
        try:
            reply = await self.router.ask(TextTurn(text=text, speak=False, history=history), site_id=site,
                                          timeout_s=timeout_s, correlation_id=cid, on_delta=on_delta)
        except TimeoutError:
            raise Unavailable("the router did not answer in time", code="router_timeout",
                              status=504) from None
        finally:
            self.sites.put_nowait(site)
        return ChatReply(cid, reply.result, reply.streamed)
