"""Router benchmark behind ``tars bench router``: intent turn latency and first-sentence latency."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tars.bench.stats import pct
from tars.contracts import topics as T
from tars.contracts.llm import LlmRequest, LlmResponse, LlmStreamChunk
from tars.contracts.tts import TtsSay
from tars.contracts.turn import TextTurn, TurnResult
from tars.runtime import Inbound, InMemoryBroker, InMemoryBus, Service
from tars_router.service import build_router
from tars_router.settings import Settings

_CHUNKS = ["Sure. ", "The first sentence is short. ", "The second one ", "arrives in pieces."]


async def _run(n: int) -> dict[str, Any]:
    broker = InMemoryBroker()
    router = Service("router", InMemoryBus(broker))
    await build_router(Settings(follow_up_window_s=0.0, tts_start_timeout_s=0.05), router)
    llm, peer = Service("llm", InMemoryBus(broker)), Service("peer", InMemoryBus(broker))
    waiting: dict[str, asyncio.Future[float]] = {}
    chunk_sent: dict[str, float] = {}
    first_say: list[float] = []

    async def on_request(msg: Inbound[LlmRequest]) -> None:
        for seq, delta in enumerate(_CHUNKS):
            if seq == 1:
                chunk_sent[msg.correlation_id] = time.perf_counter()
            await llm.publish(T.LLM_STREAM, LlmStreamChunk(seq=seq, delta=delta),
                              correlation_id=msg.correlation_id)
        await llm.reply(msg, T.LLM_RESPONSE, LlmResponse(text="".join(_CHUNKS)))

    async def on_say(msg: Inbound[TtsSay]) -> None:
        if msg.payload.index == 1 and msg.correlation_id in chunk_sent:
            first_say.append((time.perf_counter() - chunk_sent.pop(msg.correlation_id)) * 1000)

    async def on_result(msg: Inbound[TurnResult]) -> None:
        fut = waiting.pop(msg.correlation_id, None)
        if fut is not None:
            fut.set_result(time.perf_counter())

    llm.handle(T.LLM_REQUEST, on_request)
    peer.handle(T.TTS_SAY, on_say)
    peer.handle(T.TURN_RESULT, on_result)
    for svc in (router, llm, peer):
        await svc.start()

    async def turn(text: str, i: int, speak: bool) -> float:
        cid = f"bench-{i}"
        fut: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        waiting[cid] = fut
        t0 = time.perf_counter()
        await peer.publish(T.ROUTER_TEXT, TextTurn(text=text, speak=speak), correlation_id=cid,
                           site_id=f"s{i % 4}")
        done = await asyncio.wait_for(fut, 5)
        return (done - t0) * 1000

    intent_ms = [await turn("what time is it", i, False) for i in range(n)]
    llm_ms = [await turn("tell me something", n + i, True) for i in range(n // 4 or 1)]
    for svc in (peer, llm, router):
        await svc.stop()
    return {
        "bench": "router", "turns": n, "bus": "in-memory",
        "intent_turn_p50_ms": round(pct(intent_ms, 50), 3),
        "intent_turn_p99_ms": round(pct(intent_ms, 99), 3),
        "chunk_to_sentence_tts_p50_ms": round(pct(first_say, 50), 3) if first_say else None,
        "chunk_to_sentence_tts_p99_ms": round(pct(first_say, 99), 3) if first_say else None,
        "llm_turn_headless_p50_ms": round(pct(llm_ms, 50), 3),
        "note": "llm turns include the bounded wait for a TTS status (tts_start_timeout_s=0.05)",
    }


def run(n: int = 400, **_: Any) -> dict[str, Any]:
    """Router overhead with a streamed reply from an in-process LLM stand-in."""
    return asyncio.run(_run(int(n)))
