"""The Bus contract: one abstract suite that InMemoryBus and MqttBus (real Mosquitto) both pass."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tars.runtime.bus import Bus, Message, Will

Factory = Callable[..., Bus]


class Collector:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.event = asyncio.Event()

    async def __call__(self, msg: Message) -> None:
        self.messages.append(msg)
        self.event.set()

    async def wait_for(self, n: int, timeout: float = 5.0) -> list[Message]:
        async def until() -> None:
            while len(self.messages) < n:
                self.event.clear()
                await self.event.wait()

        await asyncio.wait_for(until(), timeout)
        return self.messages


async def settle(seconds: float = 0.3) -> None:
    await asyncio.sleep(seconds)


class BusContract:
    """Subclasses provide the ``bus_factory`` fixture and ``abrupt_client``."""

    @pytest.fixture
    def bus_factory(self) -> Factory:
        raise NotImplementedError

    async def abrupt_client(self, factory: Factory, will: Will) -> Callable[[], Awaitable[None]]:
        """Start a client with ``will``; return a coroutine function that kills it abruptly."""
        raise NotImplementedError

    async def started(self, factory: Factory, **kw: Any) -> Bus:
        bus = factory(**kw)
        await bus.start()
        return bus

    async def test_exact_topic_binary_payload(self, bus_factory: Factory) -> None:
        a, b = await self.started(bus_factory), await self.started(bus_factory)
        got = Collector()
        await b.subscribe("x/exact", got)
        await settle(0.1)
        payload = bytes(range(256)) * 3
        await a.publish("x/exact", payload)
        msgs = await got.wait_for(1)
        assert msgs[0].topic == "x/exact" and msgs[0].payload == payload

    async def test_wildcards(self, bus_factory: Factory) -> None:
        a, b = await self.started(bus_factory), await self.started(bus_factory)
        plus, hash_ = Collector(), Collector()
        await b.subscribe("w/+/leaf", plus)
        await b.subscribe("h/#", hash_)
        await settle(0.1)
        for topic in ("w/one/leaf", "w/one/two/leaf", "w/leaf", "h", "h/a/b/c", "hx/a"):
            await a.publish(topic, topic.encode())
        await a.publish("w/two/leaf", b"end")
        assert [m.topic for m in await plus.wait_for(2)] == ["w/one/leaf", "w/two/leaf"]
        await settle(0.2)
        assert sorted(m.topic for m in hash_.messages) == ["h", "h/a/b/c"]

    async def test_retained_delivered_to_late_subscriber_and_cleared(self, bus_factory: Factory) -> None:
        a = await self.started(bus_factory)
        await a.publish("r/state", b"on", retain=True)
        await settle(0.1)
        b = await self.started(bus_factory)
        got = Collector()
        await b.subscribe("r/+", got)
        msgs = await got.wait_for(1)
        assert msgs[0].payload == b"on" and msgs[0].retain
        await a.publish("r/state", b"", retain=True)
        await settle(0.2)
        c = await self.started(bus_factory)
        late = Collector()
        await c.subscribe("r/+", late)
        await settle(0.3)
        assert [m for m in late.messages if m.retain] == []

    async def test_order_is_kept_per_publisher(self, bus_factory: Factory) -> None:
        a, b = await self.started(bus_factory), await self.started(bus_factory)
        got = Collector()
        await b.subscribe("o/seq", got)
        await settle(0.1)
        for i in range(200):
            await a.publish("o/seq", str(i).encode(), qos=1)
        msgs = await got.wait_for(200)
        assert [int(m.payload) for m in msgs] == list(range(200))

    async def test_cancelled_subscription_stops_delivery(self, bus_factory: Factory) -> None:
        a, b = await self.started(bus_factory), await self.started(bus_factory)
        got = Collector()
        sub = await b.subscribe("c/topic", got)
        await settle(0.1)
        await a.publish("c/topic", b"1")
        await got.wait_for(1)
        await sub.cancel()
        await settle(0.1)
        await a.publish("c/topic", b"2")
        await settle(0.3)
        assert [m.payload for m in got.messages] == [b"1"]

    async def test_every_subscriber_client_receives(self, bus_factory: Factory) -> None:
        pub = await self.started(bus_factory)
        collectors = []
        for _ in range(3):
            bus = await self.started(bus_factory)
            col = Collector()
            await bus.subscribe("fan/out", col)
            collectors.append(col)
        await settle(0.1)
        await pub.publish("fan/out", b"hi")
        for col in collectors:
            assert (await col.wait_for(1))[0].payload == b"hi"

    async def test_last_will_on_abrupt_disconnect_only(self, bus_factory: Factory) -> None:
        watcher = await self.started(bus_factory)
        got = Collector()
        await watcher.subscribe("lw/+", got)
        await settle(0.1)
        clean = await self.started(bus_factory, will=Will("lw/clean", b"offline"))
        await clean.stop()
        kill = await self.abrupt_client(bus_factory, Will("lw/killed", b"offline"))
        await kill()
        msgs = await got.wait_for(1, timeout=30)
        await settle(0.3)
        assert [m.topic for m in msgs] == ["lw/killed"]
        assert msgs[0].payload == b"offline"

    async def test_publish_rejects_wildcard_topic(self, bus_factory: Factory) -> None:
        a = await self.started(bus_factory)
        with pytest.raises(Exception):  # noqa: B017 - each bus raises its own error type
            await a.publish("bad/+/topic", b"x")

    async def test_handler_error_does_not_stop_delivery(self, bus_factory: Factory) -> None:
        a, b = await self.started(bus_factory), await self.started(bus_factory)
        got = Collector()

        async def boom(msg: Message) -> None:
            if msg.payload == b"boom":
                raise RuntimeError("handler bug")
            await got(msg)

        await b.subscribe("e/x", boom)
        await settle(0.1)
        await a.publish("e/x", b"boom")
        await a.publish("e/x", b"ok")
        assert (await got.wait_for(1))[0].payload == b"ok"
