"""Every worker's retained status and info, and its latest heartbeat, as seen on the bus."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tars.contracts import topics as T
from tars.contracts.health import Heartbeat, Info
from tars.runtime import Inbound, Peer, Peers, Service
from tars_gateway.routes import Routes


@dataclass
class WorkerHealth:
    """What a worker told besides its status (which :class:`Peers` keeps)."""

    info: Info | None = None
    heartbeat: Heartbeat | None = None
    heartbeat_ts: float = 0.0

    def as_dict(self, peer: Peer | None) -> dict[str, Any]:
        out: dict[str, Any] = {"state": "unknown", "instance": "", "since": 0.0}
        if peer is not None:
            out.update(state=peer.status.state, instance=peer.status.instance, since=peer.since)
            if peer.status.reason:
                out["reason"] = peer.status.reason
        if self.info is not None:
            out["version"] = self.info.version
            out["models"] = self.info.models
            out["capabilities"] = self.info.capabilities
        if self.heartbeat is not None:
            hb = self.heartbeat
            out["heartbeat"] = {"ts": self.heartbeat_ts, "uptime_s": round(hb.uptime_s, 1),
                                "lag_p99_ms": hb.lag_p99_ms, "rss_mb": round(hb.rss_mb, 1),
                                "handled": hb.handled, "errors": hb.errors, "in_flight": hb.in_flight}
        return out


class HealthTable:
    """Keeps ``tars/system/{status,info,heartbeat}/+`` per service (the status through Peers)."""

    def __init__(self, service: Service, routes: Routes) -> None:
        self.workers: dict[str, WorkerHealth] = {}
        self.peers = Peers(service)
        routes.handle(T.SYSTEM_INFO, self.on_info)
        routes.handle(T.SYSTEM_HEARTBEAT, self.on_heartbeat)

    def _of(self, topic: str) -> WorkerHealth:
        name = topic.rsplit("/", 1)[-1]
        return self.workers.setdefault(name, WorkerHealth())

    async def on_info(self, msg: Inbound[Info]) -> None:
        self._of(msg.topic).info = msg.payload

    async def on_heartbeat(self, msg: Inbound[Heartbeat]) -> None:
        w = self._of(msg.topic)
        w.heartbeat, w.heartbeat_ts = msg.payload, msg.envelope.ts

    def online(self, name: str) -> bool:
        return self.peers.online(name)

    def snapshot(self) -> dict[str, Any]:
        peers = self.peers.known()
        return {name: self.workers.get(name, WorkerHealth()).as_dict(peers.get(name))
                for name in sorted(peers.keys() | self.workers.keys())}
