"""Service behaviour on the InMemoryBus: typed handlers, bad input, concurrency, order, health."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tars.contracts import Envelope, decode, encode
from tars.contracts import topics as T
from tars.contracts.errors import ErrorEvent
from tars.contracts.health import Status
from tars.contracts.llm import LlmStreamChunk
from tars.contracts.stt import SttFinal
from tars.contracts.tts import TtsSay
from tars.runtime import Inbound, InMemoryBroker, InMemoryBus, Service
from tars.runtime.service import offline_will
from tars.testing.bus_contract import Collector


@pytest.fixture
def broker() -> InMemoryBroker:
    return InMemoryBroker()


@pytest.fixture
async def peer(broker: InMemoryBroker) -> AsyncIterator[Service]:
    svc = Service("peer", InMemoryBus(broker))
    await svc.start()
    yield svc
    await svc.stop()


async def make(broker: InMemoryBroker, name: str = "svc") -> Service:
    bus = InMemoryBus(broker, client_id=f"{name}-1", will=offline_will(name, f"{name}-1"))
    return Service(name, bus, heartbeat_s=0.1)


async def test_typed_handler_and_bad_input_reported(broker: InMemoryBroker, peer: Service) -> None:
    svc = await make(broker)
    got: list[SttFinal] = []

    async def on_final(msg: Inbound[SttFinal]) -> None:
        got.append(msg.payload)

    svc.handle(T.STT_FINAL, on_final)
    errors = Collector()
    await peer.bus.subscribe(T.SYSTEM_ERROR.filter, errors)
    await svc.start()
    await peer.bus.publish(T.STT_FINAL.topic(), b"{not json")
    bad = Envelope(type="stt.final", data={"text": 42})
    await peer.bus.publish(T.STT_FINAL.topic(), encode(bad))
    await peer.publish(T.STT_FINAL, SttFinal(text="still serving"))
    msgs = await errors.wait_for(2)
    await asyncio.sleep(0.05)
    events = [decode(m.payload).payload(ErrorEvent) for m in msgs]
    assert [e.kind for e in events] == ["decode", "decode"]
    assert all(e.topic == T.STT_FINAL.topic() and e.service == "svc" for e in events)
    assert "{not json" not in events[0].reason
    assert [g.text for g in got] == ["still serving"]
    assert svc.counters.errors == 2
    await svc.stop()


async def test_duplicates_and_expired_are_dropped(broker: InMemoryBroker, peer: Service) -> None:
    svc = await make(broker)
    got: list[str] = []

    async def on_say(msg: Inbound[TtsSay]) -> None:
        got.append(msg.payload.text)

    svc.handle(T.TTS_SAY, on_say)
    await svc.start()
    env = Envelope(type="tts.say", data=TtsSay(text="once").model_dump())
    await peer.bus.publish(T.TTS_SAY.topic(), encode(env))
    await peer.bus.publish(T.TTS_SAY.topic(), encode(env))
    stale = Envelope(type="tts.say", expires_at=time.time() - 1, data=TtsSay(text="stale").model_dump())
    await peer.bus.publish(T.TTS_SAY.topic(), encode(stale))
    await asyncio.sleep(0.1)
    assert got == ["once"]
    assert svc.counters.duplicates == 1 and svc.counters.expired == 1
    await svc.stop()


async def test_two_handlers_of_one_topic_both_see_each_message_once(
        broker: InMemoryBroker, peer: Service) -> None:
    svc = await make(broker)
    got: list[str] = []

    async def first(msg: Inbound[TtsSay]) -> None:
        got.append(f"first {msg.payload.text}")

    async def second(msg: Inbound[TtsSay]) -> None:
        got.append(f"second {msg.payload.text}")

    svc.handle(T.TTS_SAY, first)
    svc.handle(T.TTS_SAY, second)
    await svc.start()
    env = Envelope(type="tts.say", data=TtsSay(text="hi").model_dump())
    await peer.bus.publish(T.TTS_SAY.topic(), encode(env))
    await peer.bus.publish(T.TTS_SAY.topic(), encode(env))  # a redelivery
    await asyncio.sleep(0.1)
    assert sorted(got) == ["first hi", "second hi"]
    assert svc.counters.duplicates == 2
    await svc.stop()


async def test_slow_handler_does_not_delay_other_topics(broker: InMemoryBroker, peer: Service) -> None:
    svc = await make(broker)
    done: dict[str, float] = {}
    release = asyncio.Event()

    async def slow(msg: Inbound[SttFinal]) -> None:
        await release.wait()
        done["slow"] = time.monotonic()

    async def fast(msg: Inbound[TtsSay]) -> None:
        done["fast"] = time.monotonic()

    svc.handle(T.STT_FINAL, slow)
    svc.handle(T.TTS_SAY, fast)
    await svc.start()
    await peer.publish(T.STT_FINAL, SttFinal(text="slow"))
    await peer.publish(T.TTS_SAY, TtsSay(text="fast"))
    for _ in range(50):
        if "fast" in done:
            break
        await asyncio.sleep(0.01)
    assert "fast" in done and "slow" not in done
    release.set()
    await asyncio.sleep(0.05)
    assert done["slow"] > done["fast"]
    await svc.stop()


async def test_stream_chunks_keep_order_per_correlation(broker: InMemoryBroker, peer: Service) -> None:
    svc = await make(broker)
    seen: dict[str, list[int]] = {"a": [], "b": []}

    async def on_chunk(msg: Inbound[LlmStreamChunk]) -> None:
        await asyncio.sleep(random.uniform(0, 0.01))
        seen[msg.correlation_id].append(msg.payload.seq)

    svc.handle(T.LLM_STREAM, on_chunk)
    await svc.start()
    for i in range(30):
        for corr in ("a", "b"):
            await peer.publish(T.LLM_STREAM, LlmStreamChunk(seq=i, delta="x"), correlation_id=corr)
    for _ in range(200):
        if len(seen["a"]) == 30 and len(seen["b"]) == 30:
            break
        await asyncio.sleep(0.02)
    assert seen == {"a": list(range(30)), "b": list(range(30))}
    await svc.stop()


async def test_status_online_info_heartbeat_and_will(broker: InMemoryBroker, peer: Service) -> None:
    status = Collector()
    beats = Collector()
    await peer.bus.subscribe(T.SYSTEM_STATUS.topic(service="stt"), status)
    await peer.bus.subscribe(T.SYSTEM_HEARTBEAT.filter, beats)
    svc = await make(broker, "stt")
    await svc.start()
    await status.wait_for(2)
    assert [decode(m.payload).payload(Status).state for m in status.messages] == ["starting", "online"]
    await beats.wait_for(1)
    assert svc.heartbeat().uptime_s > 0
    info = InMemoryBus(broker)
    late = Collector()
    await info.start()
    await info.subscribe(T.SYSTEM_INFO.topic(service="stt"), late)
    assert decode((await late.wait_for(1))[0].payload).data["service"] == "stt"
    assert isinstance(svc.bus, InMemoryBus)
    await svc.bus.kill()
    await status.wait_for(3)
    last = decode(status.messages[-1].payload).payload(Status)
    assert last.state == "offline" and last.reason == "connection lost"
    assert broker.retained[T.SYSTEM_STATUS.topic(service="stt")].payload == status.messages[-1].payload
    await info.stop()


async def test_stop_publishes_offline_retained(broker: InMemoryBroker) -> None:
    svc = await make(broker, "tts")
    await svc.start()
    await svc.stop()
    raw = broker.retained[T.SYSTEM_STATUS.topic(service="tts")].payload
    assert decode(raw).payload(Status).state == "offline"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payloads=st.lists(st.one_of(
    st.binary(max_size=200),
    st.dictionaries(st.text(max_size=6), st.integers(-(2**63), 2**63 - 1) | st.text(max_size=6)).map(orjson.dumps),
    st.builds(lambda d: orjson.dumps({"type": "x", "data": d}),
              st.dictionaries(st.sampled_from(["text", "seq", "delta"]), st.integers(-(2**63), 2**63 - 1) | st.text())),
), min_size=1, max_size=8))
async def test_random_input_never_crashes_dispatch(payloads: list[bytes]) -> None:
    broker = InMemoryBroker()
    svc = await make(broker, "fuzz")
    got: list[str] = []

    async def on_final(msg: Inbound[SttFinal]) -> None:
        got.append(msg.payload.text)

    async def on_chunk(msg: Inbound[LlmStreamChunk]) -> None:
        got.append(msg.payload.delta)

    svc.handle(T.STT_FINAL, on_final)
    svc.handle(T.LLM_STREAM, on_chunk)
    await svc.start()
    sender = Service("sender", InMemoryBus(broker))
    await sender.start()
    for raw in payloads:
        await sender.bus.publish(T.STT_FINAL.topic(), raw)
        await sender.bus.publish(T.LLM_STREAM.topic(), raw)
    await sender.publish(T.STT_FINAL, SttFinal(text="alive"))
    for _ in range(100):
        if "alive" in got:
            break
        await asyncio.sleep(0.01)
    assert "alive" in got
    await sender.stop()
    await svc.stop()
