"""The workers' clients against small stand-in workers on the in-memory bus."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import numpy as np
import pytest

from tars.clients import MemoryClient, RouterClient, SttClient, TtsClient
from tars.contracts import topics as T
from tars.contracts.audio import AudioFrame
from tars.contracts.health import Status
from tars.contracts.llm import LlmStreamChunk
from tars.contracts.memory import MemoryAck, MemoryHit, MemoryIngest, MemoryQuery, MemoryResults
from tars.contracts.stt import SttFinal
from tars.contracts.tts import TtsSay, TtsStatus
from tars.contracts.turn import TextTurn, TurnEvent, TurnResult
from tars.runtime import Inbound, InMemoryBroker, InMemoryBus, RequestTimeout, Service


@pytest.fixture
async def pair() -> AsyncIterator[tuple[Service, Service]]:
    """(client, worker) on one broker; the test registers handlers, then starts both."""
    broker = InMemoryBroker()
    client = Service("client", InMemoryBus(broker), announce=False)
    worker = Service("worker", InMemoryBus(broker), announce=False)
    yield client, worker
    await client.stop()
    await worker.stop()


async def start(*services: Service) -> None:
    for service in services:
        await service.start()


async def test_router_client_asks_and_collects_events_and_stream(pair: tuple[Service, Service]) -> None:
    client, router = pair

    async def on_text(msg: Inbound[TextTurn]) -> None:
        cid, site = msg.correlation_id, msg.site_id
        await router.publish(T.TURN_EVENT, TurnEvent(kind="started", stage="thinking"),
                             correlation_id=cid, site_id=site)
        for delta in ("Hello ", "there."):
            await router.publish(T.LLM_STREAM, LlmStreamChunk(seq=0, delta=delta), correlation_id=cid)
        await router.publish(T.TURN_RESULT, TurnResult(text=msg.payload.text, reply="Hello there.",
                                                       path="llm"), correlation_id=cid, site_id=site)

    router.handle(T.ROUTER_TEXT, on_text)
    routers = RouterClient(client, stream=True)
    await start(client, router)
    deltas: list[str] = []

    async def on_delta(text: str) -> None:
        deltas.append(text)

    reply = await routers.ask(TextTurn(text="hi", speak=False), site_id="den", timeout_s=5,
                              on_delta=on_delta)
    assert (reply.result.text, reply.result.reply) == ("hi", "Hello there.")
    assert [e["stage"] for e in reply.events] == ["thinking"]
    assert reply.streamed == "Hello there." and deltas == ["Hello ", "there."]
    assert routers.pending == 0


async def test_router_client_times_out_and_forgets_the_turn(pair: tuple[Service, Service]) -> None:
    client, router = pair
    routers = RouterClient(client)
    await start(client, router)
    with pytest.raises(TimeoutError):
        await routers.ask("anyone there?", timeout_s=0.2)
    assert routers.pending == 0


async def test_stt_client_returns_the_finals_of_its_own_stream(pair: tuple[Service, Service]) -> None:
    client, stt = pair
    frames: list[AudioFrame] = []

    async def on_audio(msg: Inbound[AudioFrame]) -> None:
        frames.append(msg.payload)
        if msg.payload.final:
            await stt.publish(T.STT_FINAL, SttFinal(text="someone else", speech_end_ts=msg.envelope.ts),
                              correlation_id="another-request", site_id=msg.site_id)
            await stt.publish(T.STT_FINAL, SttFinal(text="hello", speech_end_ts=msg.envelope.ts),
                              correlation_id=msg.correlation_id, site_id=msg.site_id)

    stt.handle(T.AUDIO_MIC, on_audio)
    stts = SttClient(client)
    await start(client, stt)
    heard = await stts.transcribe(np.zeros(16_000, dtype=np.int16), "den", speed=0, idle_s=0.2,
                                  first_timeout_s=5)
    assert [h.final.text for h in heard] == ["hello"]
    assert {f.purpose for f in frames} == {"transcription"}
    assert [f.seq for f in frames] == list(range(len(frames)))
    assert frames[-1].final and frames[-1].audio_time_s == pytest.approx(2.0)  # 1 s + 1 s of silence


async def test_tts_client_speaks_and_records_the_reply(pair: tuple[Service, Service]) -> None:
    client, tts = pair
    pcm = np.arange(480, dtype="<i2").tobytes()

    async def on_say(msg: Inbound[TtsSay]) -> None:
        cid, site = msg.correlation_id, msg.site_id or ""
        await tts.publish(T.TTS_STATUS, TtsStatus(event="started"), correlation_id=cid, site_id=site)
        for seq, final in ((1, True), (0, False)):  # out of order: kept by seq
            await tts.publish(T.AUDIO_OUT, AudioFrame(seq=seq, audio_time_s=0.0, final=final),
                              pcm=pcm[seq * 480:(seq + 1) * 480], params={"site": site},
                              correlation_id=cid, site_id=site)
        await tts.publish(T.TTS_STATUS, TtsStatus(event="ended", reason="done", audio_s=0.03),
                          correlation_id=cid, site_id=site)

    tts.handle(T.TTS_SAY, on_say)
    speaker = TtsClient(client, audio_site="den")
    await start(client, tts)
    spoken = await speaker.speak("Hello.", site_id="den", record=True, timeout_s=5)
    assert spoken.ended.reason == "done" and spoken.started is not None
    assert spoken.samples.tobytes() == pcm
    assert speaker.speeches == {}
    with pytest.raises(RequestTimeout):
        await TtsClient(client).speak("Nobody hears this.", timeout_s=0.2)


async def test_memory_client_asks_only_what_it_uses_and_follows_the_status(
        pair: tuple[Service, Service]) -> None:
    client, memory = pair

    async def on_query(msg: Inbound[MemoryQuery]) -> None:
        hit = MemoryHit(id=1, text="The user's sister is Ada.", score=0.9, role="fact", ts=0.0)
        await memory.reply(msg, T.MEMORY_RESULTS, MemoryResults(hits=[hit]))

    async def on_ingest(msg: Inbound[MemoryIngest]) -> None:
        await memory.reply(msg, T.MEMORY_ACK, MemoryAck(op="ingest", ids=[2]))

    memory.handle(T.MEMORY_QUERY, on_query)
    memory.handle(T.MEMORY_INGEST, on_ingest)
    memories = MemoryClient(client, timeout_s=5)
    await start(client, memory)
    assert not memories.online and not memories.down  # never heard of
    results = await memories.search(MemoryQuery(text="sister"))
    assert [h.text for h in results.hits] == ["The user's sister is Ada."]
    assert (await memories.store(MemoryIngest(text="likes tea"))).ids == [2]
    assert sorted(memories._requesters) == [T.MEMORY_INGEST.type, T.MEMORY_QUERY.type]
    await memory.publish(T.SYSTEM_STATUS, Status(state="offline", instance="memory-1"),
                         params={"service": "memory"})
    for _ in range(100):
        if memories.down:
            break
        await asyncio.sleep(0.01)
    assert memories.down and not memories.online
    assert memories.pending() == 0 and memories.timeouts == 0
    await memories.close()
