"""Chat over the bus: a TextTurn to the router (with the caller's history), its reply back."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from tars.contracts import topics as T
from tars.contracts.envelope import new_id
from tars.contracts.llm import ChatMessage, LlmStreamChunk
from tars.contracts.turn import TextTurn, TurnResult
from tars.runtime import Inbound, Service
from tars.stack.routerwatch import RouterWatch
from tars_gateway.errors import Unavailable
from tars_gateway.routes import Routes

DeltaSink = Callable[[str], Awaitable[None]]


@dataclass
class _Turn:
    on_delta: DeltaSink | None
    result: asyncio.Future[TurnResult]
    streamed: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ChatReply:
    correlation_id: str
    result: TurnResult
    streamed: str


class RouterClient:
    """One typed turn per request, each on a site of its own from a pool (the router runs one
    turn per site at a time), without speech."""

    def __init__(self, service: Service, routes: Routes, site_prefix: str, slots: int) -> None:
        self.service = service
        self.sites: asyncio.Queue[str] = asyncio.Queue()
        for n in range(slots):
            self.sites.put_nowait(f"{site_prefix}-c{n}")
        self.turns: dict[str, _Turn] = {}
        self.router = RouterWatch(service, self._resolve)
        routes.handle(T.TURN_RESULT, self.on_result)
        routes.handle(T.LLM_STREAM, self.on_chunk)

    async def on_result(self, msg: Inbound[TurnResult]) -> None:
        await self._resolve(msg.correlation_id, msg.payload)

    async def _resolve(self, cid: str, result: TurnResult) -> None:
        turn = self.turns.get(cid)
        if turn is not None and not turn.result.done():
            turn.result.set_result(result)

    async def on_chunk(self, msg: Inbound[LlmStreamChunk]) -> None:
        turn = self.turns.get(msg.correlation_id)
        if turn is None or turn.result.done() or not msg.payload.delta:
            return
        turn.streamed.append(msg.payload.delta)
        if turn.on_delta is not None:
            await turn.on_delta(msg.payload.delta)

    async def ask(self, text: str, history: list[ChatMessage], *, timeout_s: float,
                  on_delta: DeltaSink | None = None, correlation_id: str | None = None) -> ChatReply:
        try:
            site = await asyncio.wait_for(self.sites.get(), timeout_s)
        except TimeoutError:
            raise Unavailable("every chat slot is busy", code="busy") from None
        cid = correlation_id or new_id()
        turn = _Turn(on_delta, asyncio.get_running_loop().create_future())
        self.turns[cid] = turn
        self.router.watch(cid)
        try:
            await self.service.publish(T.ROUTER_TEXT, TextTurn(text=text, speak=False, history=history),
                                       correlation_id=cid, site_id=site)
            try:
                result = await asyncio.wait_for(asyncio.shield(turn.result), timeout_s)
            except TimeoutError:
                raise Unavailable("the router did not answer in time", code="router_timeout",
                                  status=504) from None
            return ChatReply(cid, result, "".join(turn.streamed))
        finally:
            self.turns.pop(cid, None)
            self.router.forget(cid)
            if not turn.result.done():
                turn.result.cancel()
            self.sites.put_nowait(site)
