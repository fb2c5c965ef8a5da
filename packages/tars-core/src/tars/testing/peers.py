"""Announce a worker's status on the bus and wait until a :class:`Peers` reader has it."""

from __future__ import annotations

import asyncio
from typing import Literal

from tars.contracts import topics as T
from tars.contracts.health import Status
from tars.runtime.peers import Peers
from tars.runtime.service import Service


async def announce(client: Service, peers: Peers, name: str,
                   state: Literal["online", "offline"], instance: str,
                   timeout_s: float = 2.0) -> None:
    """Publish ``name``'s status as ``client``; return once ``peers`` has handled that message."""
    env = await client.publish(T.SYSTEM_STATUS, Status(state=state, instance=instance),
                               params={"service": name})
    for _ in range(int(timeout_s / 0.01)):
        peer = peers.get(name)
        if peer is not None and peer.since == env.ts:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the {name} status {state!r} was never seen")


__all__ = ["announce"]
