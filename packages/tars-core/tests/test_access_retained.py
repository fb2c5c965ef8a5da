"""Commands are never replayed: a retained router/text waiting on the broker is ignored by a real
router process when it starts, and the runtime refuses to publish a retained command."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from tars.contracts import topics as T
from tars.contracts.envelope import Envelope, encode
from tars.contracts.turn import TextTurn, TurnResult
from tars.runtime.memory_bus import InMemoryBroker, InMemoryBus
from tars.runtime.mqtt import MqttBus
from tars.runtime.service import Inbound, Service
from tars.testing.workers import worker_process

pytestmark = [pytest.mark.broker, pytest.mark.e2e]


def _text_turn(cid: str) -> bytes:
    env = Envelope(type=T.ROUTER_TEXT.type, correlation_id=cid,
                   data=TextTurn(text="what time is it", speak=False).model_dump(mode="json"))
    return encode(env)


async def test_a_retained_text_turn_is_not_replayed_by_the_router(
        mqtt_url: str, namespace: str, tmp_path: Path) -> None:
    pytest.importorskip("tars_router")
    raw = MqttBus(mqtt_url, f"retainer-{os.getpid()}", namespace=namespace)
    await raw.start()
    await raw.publish(T.ROUTER_TEXT.topic(), _text_turn("stale" * 6 + "aa"), retain=True)
    results: list[Inbound[TurnResult]] = []

    async def on_result(msg: Inbound[TurnResult]) -> None:
        results.append(msg)

    client = Service("probe", MqttBus(mqtt_url, f"probe-{os.getpid()}", namespace=namespace),
                     announce=False)
    client.handle(T.TURN_RESULT, on_result)
    await client.start()
    try:
        router = worker_process("tars_router", "router", mqtt_url, namespace, tmp_path / "router.log")
        await asyncio.to_thread(router.__enter__)  # returns once the router is online
        try:
            await raw.publish(T.ROUTER_TEXT.topic(), _text_turn("fresh" * 6 + "bb"))
            for _ in range(300):
                if results:
                    break
                await asyncio.sleep(0.1)
            await asyncio.sleep(2.0)  # room for a replayed turn to show up
        finally:
            await asyncio.to_thread(router.__exit__, None, None, None)
        assert [r.correlation_id for r in results] == ["fresh" * 6 + "bb"]
        assert "ignored a retained router.text" in (tmp_path / "router.log").read_text()
    finally:
        await raw.publish(T.ROUTER_TEXT.topic(), b"", retain=True)  # clear it
        await raw.stop()
        await client.stop()


async def test_the_runtime_never_publishes_a_retained_command() -> None:
    service = Service("router", InMemoryBus(InMemoryBroker()))
    with pytest.raises(ValueError, match="never retained"):
        await service.publish(T.TTS_SAY, T.TTS_SAY.model(text="hi"), retain=True)
    assert all(not (s.command and s.retain) for s in T.ALL)
