"""A client's view of the router: a turn whose router went offline ends at once, with a reason.

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
from typing import Any

from tars.contracts import topics as T
from tars.contracts.health import Status
from tars.contracts.turn import TurnEvent, TurnResult
from tars.runtime.service import Inbound, Service

log = logging.getLogger(__name__)

ROUTER = "router"
LOST_REPLY = "Sorry, I lost that question: my router stopped. Please ask again."
DISCONNECTED_REPLY = "Sorry, I lost my connection and missed the answer. Please ask again."

OnLost = Callable[[str, TurnResult], Awaitable[None]]
"""``await on_lost(correlation_id, result)`` for a turn whose router went offline."""


def lost_turn(text: str = "", reason: str = "router_offline") -> TurnResult:
    """The result of a turn whose router went offline (or whose client lost the broker)."""
    reply = LOST_REPLY if reason == "router_offline" else DISCONNECTED_REPLY
    return TurnResult(text=text, reply=reply, path="error", reason=reason)


class RouterWatch:
    """Tracks which router instances are online and which one took each watched turn.

    A turn is owned by the instance that published its first T.TURN_EVENT. When an instance
    goes offline, its turns end, and so do turns nobody took yet if no router is left online
    (with a pool of routers, another instance may still take those).
    """

    def __init__(self, service: Service, on_lost: OnLost, *, grace_s: float = 3.0) -> None:
        self._service = service
        self._on_lost = on_lost
        self.grace_s = grace_s
        self.online: set[str] = set()
        self._owner: dict[str, str | None] = {}
        self._connects = 0
        service.handle(T.SYSTEM_STATUS, self._on_status, topic=T.SYSTEM_STATUS.topic(service=ROUTER))
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

    async def _on_status(self, msg: Inbound[Status]) -> None:
        st = msg.payload
        if st.state != "offline":
            self.online.add(st.instance)
            return
        self.online.discard(st.instance)
        lost = [cid for cid, owner in self._owner.items()
                if owner == st.instance or (owner is None and not self.online)]
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


class TurnWaiter:
    """A future per correlation id, resolved by T.TURN_RESULT (or by the router going offline
    mid-turn, see RouterWatch); stage events collected alongside."""

    def __init__(self, service: Service) -> None:
        self.pending: dict[str, asyncio.Future[TurnResult]] = {}
        self.stages: dict[str, list[dict[str, Any]]] = {}
        self.router = RouterWatch(service, self._resolve)
        service.handle(T.TURN_RESULT, self._on_result)
        service.handle(T.TURN_EVENT, self._on_event)

    def expect(self, cid: str) -> asyncio.Future[TurnResult]:
        fut: asyncio.Future[TurnResult] = asyncio.get_running_loop().create_future()
        self.pending[cid] = fut
        self.stages[cid] = []
        self.router.watch(cid)
        return fut

    async def wait(self, cid: str, fut: asyncio.Future[TurnResult], timeout_s: float) -> TurnResult:
        try:
            async with asyncio.timeout(timeout_s):
                return await fut
        finally:
            self.pending.pop(cid, None)
            self.router.forget(cid)
            if not fut.done():
                fut.cancel()

    async def _on_result(self, msg: Inbound[TurnResult]) -> None:
        await self._resolve(msg.correlation_id, msg.payload)

    async def _resolve(self, cid: str, result: TurnResult) -> None:
        fut = self.pending.get(cid)
        if fut is not None and not fut.done():
            fut.set_result(result)

    async def _on_event(self, msg: Inbound[TurnEvent]) -> None:
        if msg.correlation_id in self.stages:
            self.stages[msg.correlation_id].append(msg.payload.model_dump(exclude_none=True))
