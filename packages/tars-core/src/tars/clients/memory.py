"""The memory worker's client: query → results, ingest / forget / stats → ack, and its status."""

from __future__ import annotations

from typing import Any

from tars.contracts import topics as T
from tars.contracts.memory import (
    MemoryAck,
    MemoryForget,
    MemoryIngest,
    MemoryQuery,
    MemoryResults,
    MemoryStatsRequest,
)
from tars.contracts.topics import TopicSpec
from tars.runtime.peers import Peers
from tars.runtime.request import Requester
from tars.runtime.service import Service

MEMORY = "memory"


class MemoryClient:
    """One Requester per memory request (``query``, ``ingest``, ``forget``, ``stats``), and the
    memory worker's status through ``peers``.

    Construct it before the service starts (``peers`` registers its handler then; pass the
    owner's :class:`Peers` when it already watches "memory"). Requests raise RequestTimeout /
    RequestCancelled; whether to ask at all while the worker is ``down`` (or not yet ``online``)
    is the caller's choice.
    """

    def __init__(self, service: Service, *, timeout_s: float = 5.0, peers: Peers | None = None) -> None:
        self.service = service
        self.timeout_s = timeout_s
        self.peers = peers if peers is not None else Peers(service, MEMORY)
        self._requesters: dict[str, Requester[Any]] = {}

    def _requester(self, request: TopicSpec, reply: TopicSpec) -> Requester[Any]:
        """Made at first use: a worker subscribes only to the replies it asks for."""
        requester = self._requesters.get(request.type)
        if requester is None:
            requester = Requester(self.service, request, reply, timeout_s=self.timeout_s)
            self._requesters[request.type] = requester
        return requester

    @property
    def query(self) -> Requester[MemoryResults]:
        return self._requester(T.MEMORY_QUERY, T.MEMORY_RESULTS)

    @property
    def ingest(self) -> Requester[MemoryAck]:
        return self._requester(T.MEMORY_INGEST, T.MEMORY_ACK)

    @property
    def forget(self) -> Requester[MemoryAck]:
        return self._requester(T.MEMORY_FORGET, T.MEMORY_ACK)

    @property
    def stats(self) -> Requester[MemoryAck]:
        return self._requester(T.MEMORY_STATS, T.MEMORY_ACK)

    @property
    def online(self) -> bool:
        """The memory worker's last status says online."""
        return self.peers.online(MEMORY)

    @property
    def down(self) -> bool:
        """Its last status says offline or starting (unknown: neither online nor down)."""
        return self.peers.down(MEMORY)

    async def start(self, *requesters: Requester[Any]) -> None:
        """Subscribe to the replies of ``requesters`` now (after the service has started); the
        others subscribe at their first request."""
        for requester in requesters:
            await requester.start()

    async def close(self) -> None:
        for requester in self._requesters.values():
            await requester.close()

    def pending(self) -> int:
        """Requests waiting for the memory worker (0 when nothing leaked)."""
        return sum(len(r.pending) for r in self._requesters.values())

    @property
    def timeouts(self) -> int:
        """Requests that got no reply in time."""
        return sum(r.timeouts for r in self._requesters.values())

    async def search(self, query: MemoryQuery, *, correlation_id: str | None = None,
                     site_id: str | None = None, timeout_s: float | None = None) -> MemoryResults:
        """The memories nearest ``query`` (``error`` set when the worker refused it)."""
        reply = await self.query.request(query, correlation_id=correlation_id, site_id=site_id,
                                         timeout_s=timeout_s)
        return reply.payload

    async def store(self, ingest: MemoryIngest, *, correlation_id: str | None = None,
                    site_id: str | None = None, timeout_s: float | None = None) -> MemoryAck:
        """Store one text (``site_id`` is the site it belongs to); the ack has its ids."""
        reply = await self.ingest.request(ingest, correlation_id=correlation_id, site_id=site_id,
                                          timeout_s=timeout_s)
        return reply.payload

    async def erase(self, forget: MemoryForget, *, timeout_s: float | None = None) -> MemoryAck:
        """Forget the memories ``forget`` selects; the ack has their count."""
        return (await self.forget.request(forget, timeout_s=timeout_s)).payload

    async def count(self, *, timeout_s: float | None = None) -> dict[str, float]:
        """The store's statistics (memories in all and per role)."""
        return (await self.stats.request(MemoryStatsRequest(), timeout_s=timeout_s)).payload.stats
