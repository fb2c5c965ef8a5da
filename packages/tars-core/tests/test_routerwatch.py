"""A client's turn ends at once when its router goes offline mid-turn (not at its timeout)."""

from __future__ import annotations

import asyncio

from tars.clients.router import LOST_REPLY, RouterWatch
from tars.contracts import topics as T
from tars.contracts.health import Status
from tars.contracts.turn import TurnEvent, TurnResult
from tars.runtime import InMemoryBroker, InMemoryBus, Service


async def _rig() -> tuple[Service, Service, Service, RouterWatch, dict[str, TurnResult]]:
    broker = InMemoryBroker()
    client, a, b = (Service(n, InMemoryBus(broker), announce=False) for n in ("cli", "router", "router"))
    lost: dict[str, TurnResult] = {}

    async def on_lost(cid: str, result: TurnResult) -> None:
        lost[cid] = result

    watch = RouterWatch(client, on_lost)
    for svc in (client, a, b):
        await svc.start()
    return client, a, b, watch, lost


async def _status(router: Service, state: str) -> None:
    await router.publish(T.SYSTEM_STATUS, Status(state=state, instance=router.instance),  # type: ignore[arg-type]
                         params={"service": "router"})


async def test_the_turns_of_a_router_that_went_offline_end_at_once() -> None:
    client, a, b, watch, lost = await _rig()
    try:
        await _status(a, "online")
        await _status(b, "online")
        for cid in ("taken-by-a", "taken-by-b", "not-taken"):
            watch.watch(cid)
        await a.publish(T.TURN_EVENT, TurnEvent(kind="started", stage="thinking"), correlation_id="taken-by-a")
        await b.publish(T.TURN_EVENT, TurnEvent(kind="started", stage="thinking"), correlation_id="taken-by-b")
        await asyncio.sleep(0.05)
        await _status(a, "offline")
        await asyncio.sleep(0.05)
        # b is still online: its turn and the one nobody took yet may still be answered
        assert list(lost) == ["taken-by-a"]
        assert (lost["taken-by-a"].path, lost["taken-by-a"].reason) == ("error", "router_offline")
        assert lost["taken-by-a"].reply == LOST_REPLY
        watch.forget("taken-by-b")  # its result came
        await _status(b, "offline")
        await asyncio.sleep(0.05)
        assert sorted(lost) == ["not-taken", "taken-by-a"]  # no router left: nobody will take it
    finally:
        for svc in (client, a, b):
            await svc.stop()
