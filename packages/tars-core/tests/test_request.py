"""Request/response through futures: replies, timeouts, late replies, cancellation, no leaks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tars.contracts import topics as T
from tars.contracts.memory import MemoryHit, MemoryQuery, MemoryResults
from tars.runtime import Inbound, InMemoryBroker, InMemoryBus, Requester, RequestTimeout, Service
from tars.runtime.errors import RequestCancelled


class Responder:
    """A memory-like responder whose delay per query text is chosen by the test."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.delay: dict[str, float] = {}
        self.silent: set[str] = set()
        service.handle(T.MEMORY_QUERY, self.on_query)

    async def on_query(self, msg: Inbound[MemoryQuery]) -> None:
        if msg.payload.text in self.silent:
            return
        await asyncio.sleep(self.delay.get(msg.payload.text, 0.0))
        hit = MemoryHit(id=1, text=msg.payload.text.upper(), score=1.0, role="fact", ts=0.0)
        await self.service.reply(msg, T.MEMORY_RESULTS, MemoryResults(hits=[hit]))


@pytest.fixture
async def pair() -> AsyncIterator[tuple[Requester[MemoryResults], Responder]]:
    broker = InMemoryBroker()
    server = Service("memory", InMemoryBus(broker))
    responder = Responder(server)
    await server.start()
    client = Service("llm", InMemoryBus(broker))
    await client.start()
    req: Requester[MemoryResults] = Requester(client, T.MEMORY_QUERY, T.MEMORY_RESULTS, timeout_s=1.0)
    await req.start()
    yield req, responder
    await req.close()
    await client.stop()
    await server.stop()


async def test_reply_resolves_future(pair: tuple[Requester[MemoryResults], Responder]) -> None:
    req, _ = pair
    reply = await req.request(MemoryQuery(text="tea"), correlation_id="turn-1")
    assert reply.payload.hits[0].text == "TEA"
    assert reply.correlation_id == "turn-1"
    assert req.pending == {}


async def test_many_concurrent_requests_in_one_turn(pair: tuple[Requester[MemoryResults], Responder]) -> None:
    req, responder = pair
    texts = [f"q{i}" for i in range(100)]
    for i, t in enumerate(texts):
        responder.delay[t] = (i % 7) * 0.01
    replies = await asyncio.gather(*(req.request(MemoryQuery(text=t), correlation_id="same") for t in texts))
    assert [r.payload.hits[0].text for r in replies] == [t.upper() for t in texts]
    assert req.pending == {}


async def test_timeout_then_late_reply_is_counted(pair: tuple[Requester[MemoryResults], Responder]) -> None:
    req, responder = pair
    responder.delay["slow"] = 0.3
    with pytest.raises(RequestTimeout):
        await req.request(MemoryQuery(text="slow"), timeout_s=0.1)
    assert req.pending == {}
    await asyncio.sleep(0.4)
    assert req.late == 1 and req.timeouts == 1


async def test_unmatched_reply_is_dropped(pair: tuple[Requester[MemoryResults], Responder]) -> None:
    req, responder = pair
    await responder.service.publish(T.MEMORY_RESULTS, MemoryResults(), in_reply_to="nobody")
    await asyncio.sleep(0.05)
    assert req.unmatched == 1


async def test_cancelled_caller_leaves_no_future(pair: tuple[Requester[MemoryResults], Responder]) -> None:
    req, responder = pair
    responder.silent.add("never")
    task = asyncio.create_task(req.request(MemoryQuery(text="never"), timeout_s=5))
    await asyncio.sleep(0.05)
    assert len(req.pending) == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert req.pending == {}


async def test_close_fails_pending_requests(pair: tuple[Requester[MemoryResults], Responder]) -> None:
    req, responder = pair
    responder.silent.add("x")
    task = asyncio.create_task(req.request(MemoryQuery(text="x"), timeout_s=5))
    await asyncio.sleep(0.05)
    await req.close()
    with pytest.raises(RequestCancelled):
        await task
    assert req.pending == {}
