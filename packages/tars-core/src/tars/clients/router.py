"""The router's client: a text turn → its T.TURN_RESULT (ended at once if the router dies).

Every client that sends a turn to the router (``tars ask``, ``tars converse``, the gateway's chat)
waits for its T.TURN_RESULT. If the router dies mid-turn (its last will on T.SYSTEM_STATUS), no
result will ever come: :class:`RouterWatch` ends such turns with :func:`lost_turn` instead of
letting the client run into its own timeout. So do the turns of a client that lost the broker
itself, when no result comes within ``grace_s`` of being connected again (the result may have been
published while it was away).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from tars.contracts import topics as T
from tars.contracts.envelope import new_id
from tars.contracts.llm import LlmStreamChunk
from tars.contracts.turn import TextTurn, TurnEvent, TurnResult
from tars.runtime.peers import PeerEvent, Peers
from tars.runtime.service import Inbound, Service

log = logging.getLogger(__name__)

ROUTER = "router"
LOST_REPLY = "Sorry, I lost that question: my router stopped. Please ask again."
DISCONNECTED_REPLY = "Sorry, I lost my connection and missed the answer. Please ask again."

OnLost = Callable[[str, TurnResult], Awaitable[None]]
"""``await on_lost(correlation_id, result)`` for a turn whose router went offline."""
DeltaSink = Callable[[str], Awaitable[None]]
"""``await on_delta(text)`` for every piece of the reply the llm streams."""


def lost_turn(text: str = "", reason: str = "router_offline") -> TurnResult:
    """The result of a turn whose router went offline (or whose client lost the broker)."""
    reply = LOST_REPLY if reason == "router_offline" else DISCONNECTED_REPLY
    return TurnResult(text=text, reply=reply, path="error", reason=reason)


class RouterWatch:
    """Tracks which router instances are up (through :class:`~tars.runtime.peers.Peers`) and
    which one took each watched turn.

    A turn is owned by the instance that published its first T.TURN_EVENT. When an instance
    goes offline, its turns end, and so do turns nobody took yet if no router is left online
    (with a pool of routers, another instance may still take those).
    """

    def __init__(self, service: Service, on_lost: OnLost, *, grace_s: float = 3.0) -> None:
        self._service = service
        self._on_lost = on_lost
        self.grace_s = grace_s
        self.peers = Peers(service, ROUTER, log_changes=False)
        self.peers.listen(self._on_status)
        self._owner: dict[str, str | None] = {}
        self._connects = 0
        service.handle(T.TURN_EVENT, self._on_event)
        service.bus.on_connect(self._on_connect)

    def watch(self, correlation_id: str) -> None:
        """Watch one turn (from before its text is sent)."""
        self._owner.setdefault(correlation_id, None)

    def forget(self, correlation_id: str) -> None:
        """The turn ended (its result came, or the client gave up)."""
        self._owner.pop(correlation_id, None)

    async def _on_event(self, msg: Inbound[TurnEvent]) -> None:
        cid = msg.correlation_id
        if cid in self._owner and self._owner[cid] is None:
            self._owner[cid] = msg.envelope.source

    async def _on_status(self, event: PeerEvent) -> None:
        st = event.status
        if st.state != "offline":
            return
        left = self.peers.alive(ROUTER)  # instances that did not say offline (yet)
        lost = [cid for cid, owner in self._owner.items()
                if owner == st.instance or (owner is None and not left)]
        for cid in lost:
            self._owner.pop(cid, None)
            log.warning("turn %s lost: router %s went offline (%s)", cid[:8], st.instance,
                        st.reason or "no reason")
            await self._on_lost(cid, lost_turn())

    async def _on_connect(self) -> None:
        self._connects += 1
        if self._connects > 1 and self._owner:
            self._service.spawn(self._after_reconnect(list(self._owner)), name="turns-after-reconnect")

    async def _after_reconnect(self, cids: list[str]) -> None:
        await asyncio.sleep(self.grace_s)
        for cid in cids:
            if cid in self._owner:
                self._owner.pop(cid, None)
                log.warning("turn %s lost: no result after the broker came back", cid[:8])
                await self._on_lost(cid, lost_turn(reason="connection_lost"))


@dataclass(frozen=True)
class TurnReply:
    """What one turn produced, as seen by the client that sent it."""

    correlation_id: str
    result: TurnResult
    events: list[dict[str, Any]]
    """The turn's T.TURN_EVENT payloads (stages), in arrival order."""
    streamed: str = ""
    """The reply text the llm streamed (with ``stream=True``)."""


@dataclass
class _Pending:
    result: asyncio.Future[TurnResult]
    on_delta: DeltaSink | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    streamed: list[str] = field(default_factory=list)


class RouterClient:
    """Sends text turns to the router and waits for their T.TURN_RESULT (or for the router to go
    offline mid-turn, see :class:`RouterWatch`), collecting their stage events alongside and, with
    ``stream=True``, the llm's reply as it streams.

    Construct it before the service starts: it registers its handlers on ``service``. ``ask``
    sends one turn and waits; ``expect`` + publish + ``wait`` do the same in steps (a future per
    correlation id). A timeout raises TimeoutError.
    """

    def __init__(self, service: Service, *, stream: bool = False, grace_s: float = 3.0) -> None:
        self.service = service
        self._turns: dict[str, _Pending] = {}
        self.router = RouterWatch(service, self._resolve, grace_s=grace_s)
        service.handle(T.TURN_RESULT, self._on_result)
        service.handle(T.TURN_EVENT, self._on_event)
        if stream:
            service.handle(T.LLM_STREAM, self._on_chunk)

    @property
    def pending(self) -> int:
        """Turns waiting for their result (0 when nothing leaked)."""
        return len(self._turns)

    async def ask(self, turn: TextTurn | str, *, site_id: str | None = None, timeout_s: float,
                  correlation_id: str | None = None, on_delta: DeltaSink | None = None,
                  settle_s: float = 0.0) -> TurnReply:
        """Send ``turn`` (a text: spoken too) and wait up to ``timeout_s`` for its result; then
        ``settle_s`` more for stage events still on their way."""
        text_turn = TextTurn(text=turn) if isinstance(turn, str) else turn
        cid = correlation_id or new_id()
        fut = self.expect(cid, on_delta=on_delta)
        pending = self._turns[cid]
        try:
            await self.service.publish(T.ROUTER_TEXT, text_turn, correlation_id=cid, site_id=site_id)
            result = await self.wait(cid, fut, timeout_s, keep_events=settle_s > 0)
            if settle_s > 0:
                await asyncio.sleep(settle_s)
        finally:
            self._turns.pop(cid, None)
        return TurnReply(cid, result, pending.events, "".join(pending.streamed))

    def expect(self, cid: str, *, on_delta: DeltaSink | None = None) -> asyncio.Future[TurnResult]:
        """Watch turn ``cid`` (before its text is sent): the future of its result."""
        fut: asyncio.Future[TurnResult] = asyncio.get_running_loop().create_future()
        self._turns[cid] = _Pending(fut, on_delta)
        self.router.watch(cid)
        return fut

    async def wait(self, cid: str, fut: asyncio.Future[TurnResult], timeout_s: float, *,
                   keep_events: bool = False) -> TurnResult:
        """The result of an expected turn; TimeoutError after ``timeout_s``. The turn is
        forgotten afterwards (its events are still collected with ``keep_events``)."""
        try:
            async with asyncio.timeout(timeout_s):
                return await fut
        finally:
            if not keep_events:
                self._turns.pop(cid, None)
            self.router.forget(cid)
            if not fut.done():
                fut.cancel()

    async def _on_result(self, msg: Inbound[TurnResult]) -> None:
        await self._resolve(msg.correlation_id, msg.payload)

    async def _resolve(self, cid: str, result: TurnResult) -> None:
        pending = self._turns.get(cid)
        if pending is not None and not pending.result.done():
            pending.result.set_result(result)

    async def _on_event(self, msg: Inbound[TurnEvent]) -> None:
        pending = self._turns.get(msg.correlation_id)
        if pending is not None:
            pending.events.append(msg.payload.model_dump(exclude_none=True))

    async def _on_chunk(self, msg: Inbound[LlmStreamChunk]) -> None:
        pending = self._turns.get(msg.correlation_id)
        if pending is None or pending.result.done() or not msg.payload.delta:
            return
        pending.streamed.append(msg.payload.delta)
        if pending.on_delta is not None:
            await pending.on_delta(msg.payload.delta)
