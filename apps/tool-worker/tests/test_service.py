"""The tool worker's service on the InMemoryBus: calls, ownership, memory routing, timers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tars.contracts import topics as T
from tars.contracts.memory import MemoryAck, MemoryIngest, MemoryQuery, MemoryResults
from tars.contracts.tools import ToolCall, ToolRegistry, ToolResult
from tars.contracts.tts import TtsSay
from tars.runtime import Inbound, InMemoryBroker, InMemoryBus, Requester, RequestTimeout, Service
from tars_tools.service import ToolWorker, build_worker
from tars_tools.settings import Settings


class Peer:
    """The other side of the bus: calls tools and records what the worker publishes."""

    def __init__(self, broker: InMemoryBroker) -> None:
        self.service = Service("peer", InMemoryBus(broker))
        self.calls: Requester[ToolResult] = Requester(self.service, T.TOOLS_CALL, T.TOOLS_RESULT,
                                                      timeout_s=5.0)
        self.said: asyncio.Queue[Inbound[TtsSay]] = asyncio.Queue()
        self.registries: dict[str, ToolRegistry] = {}

        async def on_say(msg: Inbound[TtsSay]) -> None:
            await self.said.put(msg)

        async def on_registry(msg: Inbound[ToolRegistry]) -> None:
            self.registries[msg.payload.provider] = msg.payload

        self.service.handle(T.TTS_SAY, on_say)
        self.service.handle(T.TOOLS_REGISTRY, on_registry)

    async def call(self, name: str, timeout_s: float = 5.0, site: str = "kitchen",
                   **arguments: object) -> ToolResult:
        reply = await self.calls.request(ToolCall(name=name, arguments=arguments),
                                         site_id=site, timeout_s=timeout_s)
        return reply.payload


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[tuple[ToolWorker, Peer]]:
    broker = InMemoryBroker()
    settings = Settings(timers_db=tmp_path / "timers.sqlite", memory_timeout_s=0.3,
                        _env_file=None)  # type: ignore[call-arg]
    service = Service("tools", InMemoryBus(broker))
    worker = await build_worker(settings, service)
    peer = Peer(broker)
    await peer.service.start()
    await service.start()
    yield worker, peer
    await peer.service.stop()
    await service.stop()


async def test_calculator_call_and_registry(rig: tuple[ToolWorker, Peer]) -> None:
    _, peer = rig
    result = await peer.call("calculate", expression="(2 + 3) * 7 / 2")
    assert result.ok and result.content == "(2 + 3) * 7 / 2 = 17.5"
    bad = await peer.call("calculate", expression="__import__('os')")
    assert not bad.ok and bad.error and "CalculatorError" in bad.error
    builtin = peer.registries["builtin"]
    names = {t.name for t in builtin.tools}
    assert {"calculate", "get_time", "set_timer", "remember", "recall"} <= names
    calc = next(t for t in builtin.tools if t.name == "calculate")
    assert "expression" in calc.parameters["properties"]


async def test_foreign_tool_names_are_left_alone(rig: tuple[ToolWorker, Peer]) -> None:
    _, peer = rig
    with pytest.raises(RequestTimeout):
        await peer.call("weather__forecast", timeout_s=0.3, city="Paris")
    assert not peer.calls.pending


async def test_remember_with_memory_down_is_a_clear_error(rig: tuple[ToolWorker, Peer]) -> None:
    worker, peer = rig
    result = await peer.call("remember", text="my sister is called Ana")
    assert not result.ok and result.error is not None
    assert "memory is not available" in result.error
    recall = await peer.call("recall", query="sister")
    assert not recall.ok and "memory is not available" in (recall.error or "")
    assert worker.memory.pending() == 0


async def test_remember_and_recall_reach_the_memory_worker(rig: tuple[ToolWorker, Peer]) -> None:
    worker, peer = rig
    stored: list[str] = []
    memory = Service("memory", InMemoryBus(worker.service.bus.broker))  # type: ignore[attr-defined]

    async def on_ingest(msg: Inbound[MemoryIngest]) -> None:
        stored.append(msg.payload.text)
        await memory.reply(msg, T.MEMORY_ACK, MemoryAck(op="ingest", count=1, ids=[len(stored)]))

    async def on_query(msg: Inbound[MemoryQuery]) -> None:
        from tars.contracts.memory import MemoryHit

        hits = [MemoryHit(id=i, text=t, score=0.9, role="fact", ts=0.0)
                for i, t in enumerate(stored) if msg.payload.text.lower() in t.lower()]
        await memory.reply(msg, T.MEMORY_RESULTS, MemoryResults(hits=hits))

    memory.handle(T.MEMORY_INGEST, on_ingest)
    memory.handle(T.MEMORY_QUERY, on_query)
    await memory.start()
    try:
        assert (await peer.call("remember", text="My sister is called Ana")).ok
        recalled = await peer.call("recall", query="sister")
        assert recalled.ok and "Ana" in recalled.content
        assert stored == ["My sister is called Ana"]
    finally:
        await memory.stop()
    await asyncio.sleep(0.05)  # the retained offline status reaches the bridge
    down = await peer.call("remember", text="anything")
    assert not down.ok and "offline" in (down.error or "")


async def test_timer_fires_and_is_spoken_on_its_site(rig: tuple[ToolWorker, Peer]) -> None:
    _, peer = rig
    result = await peer.call("set_timer", seconds=1, site="kitchen")
    assert result.ok and "1 second" in result.content
    said = await asyncio.wait_for(peer.said.get(), 5.0)
    assert said.payload.text == "Your 1 second timer is done."
    assert said.site_id == "kitchen"
