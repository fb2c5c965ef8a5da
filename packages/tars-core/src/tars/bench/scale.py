"""Scale benchmark: K simulated satellites against worker pools on a real broker (simulated workers)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tars.bench.stats import pct
from tars.contracts import topics as T
from tars.contracts.audio import AudioFrame, unpack_audio
from tars.contracts.llm import LlmRequest, LlmResponse
from tars.contracts.stt import SttFinal
from tars.contracts.tts import TtsSay
from tars.runtime import Inbound, Service
from tars.runtime.broker import LocalBroker
from tars.runtime.bus import Message, topic_matches
from tars.runtime.connect import client_bus
from tars.runtime.pool import Pool, member_name

FRAME_S = 0.03
PCM = bytes(960)  # 30 ms of 16 kHz s16le silence: the load of a microphone, not its content


@dataclass(frozen=True)
class Costs:
    """Simulated service times (one request at a time per instance, like one model per process)."""

    stt_s: float = 0.15
    llm_s: float = 0.6
    tts_s: float = 0.12
    utterance_s: float = 1.2
    timeout_s: float = 15.0


@dataclass
class Tally:
    finals: Counter[str] = field(default_factory=Counter)
    replies: Counter[str] = field(default_factory=Counter)
    audio: Counter[str] = field(default_factory=Counter)
    messages: int = 0


class Pipeline:
    """Pools of stt, llm and tts (``size`` members each) and a router, all simulated."""

    def __init__(self, url: str, size: int, costs: Costs, tally: Tally, ns: str) -> None:
        self.url, self.size, self.costs, self.tally, self.ns = url, size, costs, tally, ns
        self.services: list[Service] = []

    def _service(self, role: str, index: int = 0, concurrency: int = 1) -> Service:
        bus = client_bus(self.url, member_name(role, index), namespace=self.ns)
        svc = Service(role, bus, pool=Pool(role, self.size, index), max_concurrency=concurrency,
                      announce=False)
        self.services.append(svc)
        return svc

    async def start(self) -> None:
        c = self.costs
        for i in range(self.size):
            stt, llm, tts = self._service("stt", i), self._service("llm", i), self._service("tts", i)

            async def on_audio(msg: Inbound[AudioFrame], svc: Service = stt) -> None:
                if msg.payload.final:
                    await asyncio.sleep(c.stt_s)
                    await svc.publish(T.STT_FINAL, SttFinal(text="what time is it", speech_end_ts=msg.envelope.ts),
                                      correlation_id=msg.correlation_id, site_id=msg.topic.split("/")[-2])

            async def on_request(msg: Inbound[LlmRequest], svc: Service = llm) -> None:
                await asyncio.sleep(c.llm_s)
                await svc.reply(msg, T.LLM_RESPONSE, LlmResponse(text="it is noon"))

            async def on_say(msg: Inbound[TtsSay], svc: Service = tts) -> None:
                await asyncio.sleep(c.tts_s)
                await svc.publish(T.AUDIO_OUT, AudioFrame(), pcm=PCM, correlation_id=msg.correlation_id,
                                  params={"site": msg.site_id or ""})

            stt.handle(T.AUDIO_MIC, on_audio)
            llm.handle(T.LLM_REQUEST, on_request)
            tts.handle(T.TTS_SAY, on_say)
        router = self._service("router", concurrency=64)

        async def on_final(msg: Inbound[SttFinal]) -> None:
            self.tally.finals[msg.correlation_id] += 1
            await router.publish(T.LLM_REQUEST, LlmRequest(text=msg.payload.text),
                                 correlation_id=msg.correlation_id, site_id=msg.site_id)

        async def on_reply(msg: Inbound[LlmResponse]) -> None:
            self.tally.replies[msg.correlation_id] += 1
            await router.publish(T.TTS_SAY, TtsSay(text=msg.payload.text), correlation_id=msg.correlation_id,
                                 site_id=msg.site_id)

        router.handle(T.STT_FINAL, on_final)
        router.handle(T.LLM_RESPONSE, on_reply)
        await asyncio.gather(*(s.start() for s in self.services))

    async def stop(self) -> None:
        await asyncio.gather(*(s.stop() for s in self.services), return_exceptions=True)


async def _satellite(client: Service, site: str, costs: Costs, until: float, waiting: dict[str, asyncio.Event],
                     latencies: list[float], lost: list[str]) -> int:
    """Speak turns back to back until ``until``: frames in real time, the last one final."""
    turns = 0
    frames = max(1, int(costs.utterance_s / FRAME_S))
    while time.monotonic() < until:
        cid = uuid.uuid4().hex
        done = waiting[cid] = asyncio.Event()
        end = time.monotonic()
        for seq in range(frames):
            await client.publish(T.AUDIO_MIC, AudioFrame(seq=seq, audio_time_s=seq * FRAME_S,
                                                         final=seq == frames - 1),
                                 pcm=PCM, params={"site": site}, correlation_id=cid)
            end = time.monotonic()  # the end of speech: the final frame is out
            if seq < frames - 1:
                await asyncio.sleep(FRAME_S)
        turns += 1
        try:
            await asyncio.wait_for(done.wait(), costs.timeout_s)
            latencies.append((time.monotonic() - end) * 1000)
        except TimeoutError:
            lost.append(cid)
    return turns


async def _one(url: str, k: int, size: int, duration_s: float, costs: Costs) -> dict[str, Any]:
    ns = f"bench-{uuid.uuid4().hex[:6]}/"
    tally = Tally()
    pipeline = Pipeline(url, size, costs, tally, ns)
    await pipeline.start()
    client = Service("satellites", client_bus(url, "sat", namespace=ns), announce=False)
    waiting: dict[str, asyncio.Event] = {}

    async def on_any(msg: Message) -> None:
        """One subscription sees every message (overlapping ones would each get a copy)."""
        tally.messages += 1
        if not topic_matches(T.AUDIO_OUT.filter, msg.topic):
            return
        env, _ = unpack_audio(msg.payload)
        tally.audio[env.correlation_id] += 1
        if env.correlation_id in waiting:
            waiting[env.correlation_id].set()

    await client.start()
    await client.bus.subscribe("tars/#", on_any, qos=0)
    latencies: list[float] = []
    lost: list[str] = []
    started = time.monotonic()
    turns = await asyncio.gather(*(_satellite(client, f"room{i}", costs, started + duration_s, waiting,
                                              latencies, lost) for i in range(k)))
    elapsed = time.monotonic() - started
    await asyncio.sleep(0.5)  # late duplicates arrive by now
    await client.stop()
    await pipeline.stop()
    dup = sum(1 for c in (*tally.finals.values(), *tally.replies.values(), *tally.audio.values()) if c > 1)
    return {"satellites": k, "pool": size, "turns": sum(turns), "answered": len(latencies),
            "turns_per_min": round(len(latencies) / elapsed * 60, 1),
            "voice_to_voice_p50_ms": round(pct(latencies, 50), 1) if latencies else None,
            "voice_to_voice_p95_ms": round(pct(latencies, 95), 1) if latencies else None,
            "lost_turns": len(lost), "duplicated_turns": dup,
            "broker_messages_per_s": round(tally.messages / elapsed, 1), "elapsed_s": round(elapsed, 1)}


def run(satellites: list[int], pools: list[int], duration_s: float = 10.0, costs: Costs | None = None,
        url: str | None = None) -> dict[str, Any]:
    """Every (K, pool size) pair for ``duration_s`` each, on a private Mosquitto unless ``url``."""
    costs = costs or Costs()

    async def main(target: str) -> list[dict[str, Any]]:
        return [await _one(target, k, size, duration_s, costs) for size in pools for k in satellites]

    if url:
        rows = asyncio.run(main(url))
    else:
        with LocalBroker() as broker:
            rows = asyncio.run(main(broker.url))
    return {"bench": "scale", "workers": "simulated (fixed service times, one request at a time per instance)",
            "costs_s": {"stt": costs.stt_s, "llm": costs.llm_s, "tts": costs.tts_s,
                        "utterance": costs.utterance_s},
            "duration_s": duration_s, "runs": rows}
