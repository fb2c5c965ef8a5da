"""Peers: which other workers are online, from their retained status on T.SYSTEM_STATUS.

Every worker publishes a retained status under its name (``tars/system/status/llm``): "starting",
then "online", and "offline" when it stops or its last will fires. :class:`Peers` is the one
reader of those messages: it keeps the last status per name, answers ``online(name)``, logs once
when a peer goes offline and once when it is back, and tells listeners about every status.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from tars.contracts import topics as T
from tars.contracts.health import Status
from tars.runtime.service import Inbound, Service

log = logging.getLogger("tars.peers")


@dataclass(frozen=True)
class Peer:
    """The last status heard from one name, and when it was published (``since``, epoch s)."""

    name: str
    status: Status
    since: float

    @property
    def online(self) -> bool:
        return self.status.state == "online"


@dataclass(frozen=True)
class PeerEvent:
    """One status of a watched name, with the one before it (None: never heard of)."""

    name: str
    status: Status
    before: Status | None

    @property
    def online(self) -> bool:
        return self.status.state == "online"

    @property
    def went_offline(self) -> bool:
        """Not online now (offline, or a new instance still starting), and online or never heard
        of before."""
        return not self.online and (self.before is None or self.before.state == "online")

    @property
    def came_online(self) -> bool:
        """Online now, and not online or never heard of before."""
        return self.online and (self.before is None or self.before.state != "online")

    @property
    def restarted(self) -> bool:
        """Another instance speaks for the name: the one heard before is gone."""
        return self.before is not None and self.status.instance != self.before.instance


Listener = Callable[[PeerEvent], Awaitable[None]]
"""``await listener(event)`` for every status of a watched name, after the state is updated."""


class Peers:
    """The status of the workers named (of every worker when none is named), from the bus.

    Construct it before the service starts: it registers its handler on ``service``. Unknown
    names are neither online nor down. ``log_changes=False`` leaves the logging to the owner
    (clients such as ``tars ask`` that print their own messages).
    """

    def __init__(self, service: Service, *names: str, log_changes: bool = True) -> None:
        self.names = frozenset(names)
        self.log_changes = log_changes
        self._last: dict[str, Peer] = {}
        self._alive: dict[str, set[str]] = {}
        self._listeners: list[Listener] = []
        if names:
            for name in names:
                service.handle(T.SYSTEM_STATUS, self._on_status, topic=T.SYSTEM_STATUS.topic(service=name))
        else:
            service.handle(T.SYSTEM_STATUS, self._on_status)

    def listen(self, listener: Listener) -> None:
        """Call ``listener`` for every status of a watched name (in order of registration)."""
        self._listeners.append(listener)

    def online(self, name: str) -> bool:
        """Its last status says online."""
        peer = self._last.get(name)
        return peer is not None and peer.online

    def down(self, name: str) -> bool:
        """Heard of and not online: it said offline (or its last will did), or is starting."""
        peer = self._last.get(name)
        return peer is not None and not peer.online

    def get(self, name: str) -> Peer | None:
        return self._last.get(name)

    def known(self) -> dict[str, Peer]:
        """Every name heard of, by name."""
        return dict(sorted(self._last.items()))

    def alive(self, name: str) -> set[str]:
        """The instances under ``name`` whose last word was not "offline" (while one restarts,
        the old instance stays alive here until its own offline status or last will comes)."""
        return set(self._alive.get(name, ()))

    async def _on_status(self, msg: Inbound[Status]) -> None:
        name = msg.topic.rsplit("/", 1)[-1]
        if self.names and name not in self.names:
            return
        st = msg.payload
        before = self._last.get(name)
        self._last[name] = Peer(name, st, msg.envelope.ts)
        alive = self._alive.setdefault(name, set())
        if st.state == "offline":
            alive.discard(st.instance)
        else:
            alive.add(st.instance)
        event = PeerEvent(name, st, before.status if before is not None else None)
        if self.log_changes and (event.went_offline or event.came_online):
            log.info("%s worker is %s%s", name, st.state, f" ({st.reason})" if st.reason else "")
        for listener in self._listeners:
            await listener(event)
