"""What the workers answer, routed to the connection waiting for it (by site id), and what
they are (their retained info and status, for ``describe``)."""

from __future__ import annotations

import asyncio
from typing import Any

from tars.contracts import topics as T
from tars.contracts.health import Info
from tars.runtime import Inbound, Peers, Service

QUEUE_MAX = 4096


class Routes:
    """One inbox per site a connection opened; messages for other sites are not ours."""

    def __init__(self) -> None:
        self.inboxes: dict[str, asyncio.Queue[Inbound[Any]]] = {}
        self.dropped = 0

    def open(self, site: str) -> asyncio.Queue[Inbound[Any]]:
        inbox: asyncio.Queue[Inbound[Any]] = asyncio.Queue(QUEUE_MAX)
        self.inboxes[site] = inbox
        return inbox

    def close(self, site: str) -> None:
        self.inboxes.pop(site, None)

    async def deliver(self, msg: Inbound[Any]) -> None:
        inbox = self.inboxes.get(msg.site_id or "")
        if inbox is None:
            return
        if inbox.full():
            self.dropped += 1
            return
        inbox.put_nowait(msg)

    def register(self, service: Service) -> None:
        for spec in (T.STT_FINAL, T.STT_PARTIAL, T.WAKE_EVENT, T.TTS_STATUS, T.AUDIO_OUT, T.TURN_RESULT,
                     T.TURN_EVENT):
            service.handle(spec, self.deliver)


class Catalog:
    """The retained info and status (through :class:`Peers`, which logs their changes) of the
    workers the bridge speaks for."""

    def __init__(self, services: tuple[str, ...] = ("stt", "tts", "wake", "router")) -> None:
        self.services = services
        self.info: dict[str, Info] = {}
        self.peers: Peers | None = None

    @property
    def online(self) -> set[str]:
        """The workers whose last status says online."""
        peers = self.peers
        return {name for name in self.services if peers is not None and peers.online(name)}

    async def on_info(self, msg: Inbound[Info]) -> None:
        name = msg.topic.rsplit("/", 1)[-1]
        if name in self.services:
            self.info[name] = msg.payload

    def model(self, service: str, key: str, default: str) -> str:
        info = self.info.get(service)
        value = info.models.get(key) if info else None
        return value or default

    def version(self, service: str) -> str | None:
        info = self.info.get(service)
        return info.version if info else None

    def register(self, service: Service) -> None:
        service.handle(T.SYSTEM_INFO, self.on_info)
        self.peers = Peers(service, *self.services)
