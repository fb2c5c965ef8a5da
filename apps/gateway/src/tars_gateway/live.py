"""The live bus for the console (decoded envelopes, fanned out) and every turn's stage stamps."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from tars.contracts import decode
from tars.contracts import topics as T
from tars.contracts.envelope import DecodeError
from tars.contracts.llm import LlmStreamChunk
from tars.contracts.stt import SttFinal
from tars.contracts.tts import TtsStatus
from tars.contracts.turn import TurnEvent, TurnResult
from tars.contracts.wake import WakeEvent
from tars.runtime import Inbound, Service
from tars.runtime.bus import Message, Subscription
from tars_gateway.routes import Routes

log = logging.getLogger("tars.gateway.live")
QUEUE_MAX = 1000
TURNS_KEPT = 50


class LiveBus:
    """Fans every non-audio tars message out to console clients (each a bounded queue).

    The bus subscriptions exist only while at least one client listens."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.clients: set[asyncio.Queue[dict[str, Any]]] = set()
        self.subs: list[Subscription] = []
        self.dropped = 0
        self._lock = asyncio.Lock()

    async def join(self) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_MAX)
        async with self._lock:
            self.clients.add(queue)
            if not self.subs:
                for spec in T.ALL:
                    if not spec.binary:
                        self.subs.append(await self.service.bus.subscribe(spec.filter, self.on_raw, qos=0))
        return queue

    async def leave(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        async with self._lock:
            self.clients.discard(queue)
            if not self.clients:
                subs, self.subs = self.subs, []
                for sub in subs:
                    await sub.cancel()

    def broadcast(self, item: dict[str, Any]) -> None:
        for queue in list(self.clients):
            if queue.full():
                queue.get_nowait()
                self.dropped += 1
            queue.put_nowait(item)

    async def on_raw(self, msg: Message) -> None:
        try:
            env = decode(msg.payload)
        except DecodeError as exc:
            self.broadcast({"kind": "raw", "topic": msg.topic, "error": str(exc),
                            "raw": msg.payload[:200].decode("utf-8", "replace")})
            return
        self.broadcast({"kind": "msg", "topic": msg.topic, "type": env.type, "source": env.source,
                        "correlation_id": env.correlation_id, "site_id": env.site_id, "ts": env.ts,
                        "retained": msg.retain, "data": env.data})


@dataclass
class TurnView:
    correlation_id: str
    site: str | None = None
    text: str = ""
    reply: str = ""
    path: str | None = None
    reason: str | None = None
    done: bool = False
    stamps: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        ordered = sorted(self.stamps.items(), key=lambda kv: kv[1])
        origin = ordered[0][1] if ordered else 0.0
        stages, prev = [], origin
        for name, ts in ordered:
            stages.append({"name": name, "ts": ts, "offset_ms": round((ts - origin) * 1000, 1),
                           "duration_ms": round((ts - prev) * 1000, 1)})
            prev = ts
        return {"correlation_id": self.correlation_id, "site": self.site, "text": self.text,
                "reply": self.reply, "path": self.path, "reason": self.reason, "done": self.done,
                "stages": stages, "total_ms": round((prev - origin) * 1000, 1)}


class TurnTracker:
    """Collects the stage stamps of each turn from the messages of its correlation id; the
    router's own ``stages`` (TurnEvent / TurnResult) win over what is derived here."""

    def __init__(self, service: Service, routes: Routes, live: LiveBus) -> None:
        self.live = live
        self.turns: OrderedDict[str, TurnView] = OrderedDict()
        self.early: OrderedDict[str, dict[str, float]] = OrderedDict()
        routes.handle(T.WAKE_EVENT, self.on_wake)
        routes.handle(T.STT_FINAL, self.on_final)
        routes.handle(T.TURN_EVENT, self.on_event)
        routes.handle(T.TURN_RESULT, self.on_result)
        routes.handle(T.LLM_STREAM, self.on_chunk)
        routes.handle(T.TTS_STATUS, self.on_tts)

    def _stamp(self, cid: str, **stamps: float | None) -> None:
        clean = {k: v for k, v in stamps.items() if v}
        turn = self.turns.get(cid)
        if turn is not None:
            for k, v in clean.items():
                turn.stamps.setdefault(k, v)
            self._push(turn)
            return
        early = self.early.setdefault(cid, {})
        for k, v in clean.items():
            early.setdefault(k, v)
        while len(self.early) > 4 * TURNS_KEPT:
            self.early.popitem(last=False)

    def _turn(self, cid: str, site: str | None) -> TurnView:
        turn = self.turns.get(cid)
        if turn is None:
            turn = self.turns[cid] = TurnView(cid, site)
            turn.stamps.update(self.early.pop(cid, {}))
            while len(self.turns) > TURNS_KEPT:
                self.turns.popitem(last=False)
        return turn

    def _push(self, turn: TurnView) -> None:
        self.live.broadcast({"kind": "turn", "turn": turn.as_dict()})

    async def on_wake(self, msg: Inbound[WakeEvent]) -> None:
        self._stamp(msg.correlation_id, wake=msg.envelope.ts)

    async def on_final(self, msg: Inbound[SttFinal]) -> None:
        f = msg.payload
        self._stamp(msg.correlation_id, speech_start=getattr(f, "speech_start_ts", 0.0),
                    speech_end=f.speech_end_ts, endpoint=getattr(f, "endpoint_ts", 0.0),
                    final=getattr(f, "final_ts", 0.0) or msg.envelope.ts)

    async def on_event(self, msg: Inbound[TurnEvent]) -> None:
        ev = msg.payload
        turn = self._turn(msg.correlation_id, msg.site_id)
        if ev.kind == "started":
            turn.stamps.setdefault("start", msg.envelope.ts)
        elif ev.kind == "ended":
            turn.stamps.setdefault("end", msg.envelope.ts)
            turn.reason = ev.reason or turn.reason
        turn.stamps.update({k: v for k, v in ev.stages.items() if v})
        self._push(turn)

    async def on_result(self, msg: Inbound[TurnResult]) -> None:
        res = msg.payload
        turn = self._turn(msg.correlation_id, msg.site_id)
        turn.text, turn.reply, turn.path, turn.done = res.text, res.reply, res.path, True
        turn.reason = res.reason
        turn.stamps.update({k: v for k, v in res.stages.items() if v})
        turn.stamps.setdefault("end", msg.envelope.ts)
        self._push(turn)

    async def on_chunk(self, msg: Inbound[LlmStreamChunk]) -> None:
        if msg.payload.seq == 0:
            self._stamp(msg.correlation_id, first_token=msg.envelope.ts)

    async def on_tts(self, msg: Inbound[TtsStatus]) -> None:
        st = msg.payload
        if st.event == "started":
            self._stamp(msg.correlation_id, first_audio=getattr(st, "first_audio_ts", None),
                        first_sample=st.first_sample_ts or msg.envelope.ts)

    def recent(self) -> list[dict[str, Any]]:
        return [t.as_dict() for t in reversed(self.turns.values())]
