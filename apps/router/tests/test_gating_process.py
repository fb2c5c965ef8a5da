"""The router as a real process on a real broker: only a wake word opens a turn."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tars.contracts import topics as T
from tars.contracts.stt import SttFinal
from tars.contracts.turn import TurnResult
from tars.contracts.wake import WakeEvent
from tars.runtime import Inbound, Service
from tars.runtime.connect import client_bus
from tars.testing.workers import worker_process

pytestmark = [pytest.mark.broker, pytest.mark.e2e]


async def _talk(url: str, namespace: str) -> tuple[dict[str, TurnResult], list[str]]:
    client = Service("probe", client_bus(url, "probe", namespace=namespace),
                     announce=False)
    results: dict[str, TurnResult] = {}
    got = asyncio.Event()

    async def on_result(msg: Inbound[TurnResult]) -> None:
        results[msg.correlation_id] = msg.payload
        got.set()

    client.handle(T.TURN_RESULT, on_result)
    await client.start()
    try:
        # background talk without the wake word: no turn
        await client.publish(T.STT_FINAL, SttFinal(text="what time is it", final_ts=1.0),
                             correlation_id="bg-1", site_id="hall")
        # a client's transcription: never a turn either
        await client.publish(T.STT_FINAL, SttFinal(text="what time is it", purpose="transcription"),
                             correlation_id="tr-1", site_id="hall")
        await asyncio.sleep(1.0)
        ignored = sorted(results)
        await client.publish(T.WAKE_EVENT, WakeEvent(model="hey_jarvis", score=0.99),
                             correlation_id="wake-1", site_id="hall")
        await asyncio.sleep(0.2)
        await client.publish(T.STT_FINAL, SttFinal(text="Hey Jarvis, what's your name?"),
                             correlation_id="wake-1", site_id="hall")
        async with asyncio.timeout(20):
            while "wake-1" not in results:
                got.clear()
                await got.wait()
        await asyncio.sleep(0.3)
        return results, ignored
    finally:
        await client.stop()


def test_only_a_wake_word_opens_a_turn(mqtt_url: str, namespace: str, tmp_path: Path) -> None:
    with worker_process("tars_router", "router", mqtt_url, namespace, tmp_path / "router.log",
                        tts_start_timeout_s="0.2", follow_up="never"):
        results, ignored = asyncio.run(_talk(mqtt_url, namespace))
    assert ignored == []
    assert sorted(results) == ["wake-1"]
    turn = results["wake-1"]
    assert turn.path == "intent" and turn.intent == "name" and turn.text == "what's your name?"
    assert next(iter(turn.stages)) == "wake" and turn.stages["wake"] <= turn.stages["end"]
