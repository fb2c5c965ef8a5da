"""Wake-gated turns on the InMemoryBus: no wake no turn, follow-ups, stop, stages, work ahead."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tars.contracts import topics as T
from tars.contracts.health import Status
from tars.contracts.llm import LlmCancel, LlmRequest, LlmResponse, LlmStreamChunk
from tars.contracts.stt import SttFinal, SttPartial
from tars.contracts.tts import TtsControl, TtsSay, TtsStatus
from tars.contracts.turn import TextTurn, TurnEvent, TurnResult
from tars.contracts.wake import WakeEvent
from tars.runtime import Inbound, InMemoryBroker, InMemoryBus, Service
from tars_router.service import Router, build_router
from tars_router.settings import Settings

SITE = "kitchen"


@dataclass
class Llm:
    """Streams ``reply`` in two chunks after ``delay_s``; records requests and cancels."""

    service: Service
    reply: str = "The moon is far away. It is about 384,000 km from here."
    delay_s: float = 0.05
    requests: list[Inbound[LlmRequest]] = field(default_factory=list)
    prefills: list[LlmRequest] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    error: str | None = None

    async def on_request(self, msg: Inbound[LlmRequest]) -> None:
        if msg.payload.prefill:  # no reply, as the llm worker does
            self.prefills.append(msg.payload)
            return
        self.requests.append(msg)
        await asyncio.sleep(self.delay_s)
        if self.error:
            await self.service.reply(msg, T.LLM_RESPONSE, LlmResponse(text="", error=self.error))
            return
        half = len(self.reply) // 2
        for seq, delta in enumerate((self.reply[:half], self.reply[half:])):
            if msg.correlation_id in self.cancelled:
                return
            await self.service.publish(T.LLM_STREAM, LlmStreamChunk(seq=seq, delta=delta),
                                       correlation_id=msg.correlation_id, site_id=msg.site_id)
            await asyncio.sleep(self.delay_s)
        if msg.correlation_id not in self.cancelled:
            await self.service.reply(msg, T.LLM_RESPONSE, LlmResponse(text=self.reply))

    async def on_cancel(self, msg: Inbound[LlmCancel]) -> None:
        self.cancelled.append(msg.correlation_id)


class Rig:
    """A router, a fake llm and a peer that speaks for stt, wake and tts and records results."""

    def __init__(self, router: Router, llm: Llm, peer: Service) -> None:
        self.router, self.llm, self.peer = router, llm, peer
        self.results: dict[str, asyncio.Future[TurnResult]] = {}
        self.says: list[Inbound[TtsSay]] = []
        self.controls: list[TtsControl] = []
        self.events: list[Inbound[TurnEvent]] = []

        async def on_result(msg: Inbound[TurnResult]) -> None:
            self.result(msg.correlation_id).set_result(msg.payload)

        async def on_say(msg: Inbound[TtsSay]) -> None:
            self.says.append(msg)

        async def on_control(msg: Inbound[TtsControl]) -> None:
            self.controls.append(msg.payload)

        async def on_event(msg: Inbound[TurnEvent]) -> None:
            self.events.append(msg)

        peer.handle(T.TURN_RESULT, on_result)
        peer.handle(T.TTS_SAY, on_say)
        peer.handle(T.TTS_CONTROL, on_control)
        peer.handle(T.TURN_EVENT, on_event)

    def played(self) -> list[Inbound[TtsSay]]:
        """The says that play (not the ones TTS only prepares)."""
        return [m for m in self.says if not m.payload.prepare]

    def prepared(self) -> list[str]:
        return [m.payload.text for m in self.says if m.payload.prepare]

    def result(self, cid: str) -> asyncio.Future[TurnResult]:
        return self.results.setdefault(cid, asyncio.get_running_loop().create_future())

    async def wake(self, cid: str, *, barge_in: bool = False, purpose: str = "turn") -> None:
        await self.peer.publish(T.WAKE_EVENT, WakeEvent(model="hey_jarvis", score=0.99,
                                                        barge_in=barge_in, purpose=purpose),  # type: ignore[arg-type]
                                correlation_id=cid, site_id=SITE)
        await asyncio.sleep(0.02)

    async def final(self, text: str, cid: str, *, purpose: str = "turn", **stamps: float) -> None:
        await self.peer.publish(T.STT_FINAL, SttFinal(text=text, purpose=purpose, **stamps),  # type: ignore[arg-type]
                                correlation_id=cid, site_id=SITE)
        await asyncio.sleep(0.02)

    async def partial(self, text: str, cid: str, *, speculative: bool = True) -> None:
        await self.peer.publish(T.STT_PARTIAL, SttPartial(text=text, speech_start_s=0.0, audio_s=1.0,
                                                          speculative=speculative),
                                correlation_id=cid, site_id=SITE)
        await asyncio.sleep(0.02)

    async def tts(self, cid: str, event: str, **kw: Any) -> None:
        await self.peer.publish(T.TTS_STATUS, TtsStatus(event=event, **kw),  # type: ignore[arg-type]
                                correlation_id=cid, site_id=SITE)
        await asyncio.sleep(0.02)

    async def outcome(self, cid: str, timeout: float = 3.0) -> TurnResult:
        return await asyncio.wait_for(self.result(cid), timeout)

    async def none_for(self, cid: str, wait: float = 0.3) -> bool:
        await asyncio.sleep(wait)
        return cid not in self.results


async def make(**overrides: Any) -> tuple[Rig, list[Service]]:
    broker = InMemoryBroker()
    settings = Settings(**{"first_chunk_timeout_s": 2.0, "tts_start_timeout_s": 0.2,
                           "follow_up_window_s": 1.0, **overrides})
    router_svc, llm_svc, peer = (Service(n, InMemoryBus(broker)) for n in ("router", "llm", "peer"))
    router = await build_router(settings, router_svc)
    llm = Llm(llm_svc)
    llm_svc.handle(T.LLM_REQUEST, llm.on_request)
    llm_svc.handle(T.LLM_CANCEL, llm.on_cancel)
    rig = Rig(router, llm, peer)
    for svc in (router_svc, llm_svc, peer):
        await svc.start()
    return rig, [peer, llm_svc, router_svc]


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    made, services = await make()
    yield made
    for svc in services:
        await svc.stop()


async def test_no_wake_no_turn(rig: Rig) -> None:
    await rig.final("What time is it?", "s-1")
    await rig.final("and then we went to the beach", "s-2")
    assert await rig.none_for("s-1") and "s-2" not in rig.results
    assert not rig.llm.requests and not rig.says
    assert rig.router.ignored["no_wake"] == 2


async def test_wake_then_final_is_one_turn_with_the_wake_id_and_no_wake_phrase(rig: Rig) -> None:
    await rig.wake("w-1")
    await rig.final("Hey Jarvis, what's your name?", "s-other", speech_start_ts=100.0,
                    speech_end_ts=101.0, endpoint_ts=101.3, final_ts=101.6)
    result = await rig.outcome("w-1")
    assert result.path == "intent" and result.intent == "name" and result.text == "what's your name?"
    assert "s-other" not in rig.results
    assert {e.correlation_id for e in rig.events} == {"w-1"}
    # stages: from the wake to the end, in order
    st = result.stages
    assert list(st)[:5] == ["wake", "speech_start", "speech_end", "endpoint", "final"]
    assert st["speech_start"] < st["speech_end"] < st["endpoint"] < st["final"]
    assert st["wake"] <= st["intent"] <= st["end"] and "first_sentence" in st
    ended = [e for e in rig.events if e.payload.kind == "ended"]
    assert ended and ended[-1].payload.stages["end"] == st["end"]


async def test_wake_phrase_alone_keeps_listening_for_the_question(rig: Rig) -> None:
    await rig.wake("w-2")
    await rig.final("Hey Jarvis.", "w-2")
    assert await rig.none_for("w-2", 0.1)
    await rig.final("what is the capital of France", "s-3")
    result = await rig.outcome("w-2")
    assert result.path == "llm" and result.text == "what is the capital of France"
    assert [m.correlation_id for m in rig.llm.requests] == ["w-2"]
    assert rig.llm.requests[0].payload.text == "what is the capital of France"


async def test_transcription_finals_and_detection_wakes_never_become_turns(rig: Rig) -> None:
    await rig.wake("w-d", purpose="detection")
    await rig.final("what time is it", "w-d", purpose="transcription")
    await rig.wake("w-3")
    await rig.final("what time is it", "t-x", purpose="transcription")
    assert await rig.none_for("w-3", 0.1) and "t-x" not in rig.results and "w-d" not in rig.results
    assert rig.router.ignored["transcription"] == 2 and rig.router.ignored["wake_detection"] == 1
    await rig.final("what time is it", "s-4")  # the wake window is still open
    assert (await rig.outcome("w-3")).intent == "time"


async def test_text_turns_are_always_turns(rig: Rig) -> None:
    fut = rig.result("ask-1")
    await rig.peer.publish(T.ROUTER_TEXT, TextTurn(text="what time is it", speak=False),
                           correlation_id="ask-1", site_id=SITE)
    result = await asyncio.wait_for(fut, 3)
    assert result.intent == "time" and "final" in result.stages and "end" in result.stages


@pytest.mark.parametrize(("mode", "reply", "follows"), [
    ("question", "Paris is the capital. Do you want to know more?", True),
    ("question", "Paris is the capital of France.", False),
    ("always", "Paris is the capital of France.", True),
    ("never", "Do you want to know more?", False),
])
async def test_follow_up_modes(mode: str, reply: str, follows: bool) -> None:
    rig, services = await make(follow_up=mode)
    rig.llm.reply = reply
    try:
        await rig.wake("w-f")
        await rig.final("what is the capital of France", "w-f")
        first = await rig.outcome("w-f")
        assert first.path == "llm" and first.reason == "completed"
        await rig.final("and of Spain", "s-follow")  # no wake word
        if follows:
            second = await rig.outcome("s-follow")
            assert second.text == "and of Spain"
            assert rig.llm.requests[-1].payload.history[0].content == "what is the capital of France"
        else:
            assert await rig.none_for("s-follow")
            assert rig.router.ignored["no_wake"] == 1
        await asyncio.sleep(1.1)  # the window closes: background talk gets nothing
        await rig.final("we went to the beach at the weekend", "s-late")
        assert await rig.none_for("s-late")
    finally:
        for svc in services:
            await svc.stop()


async def test_stop_during_a_reply_stops_it_quietly(rig: Rig) -> None:
    rig.llm.delay_s = 0.3
    await rig.wake("w-long")
    await rig.final("tell me about the moon", "w-long")
    await asyncio.sleep(0.4)
    await rig.tts("w-long", "started")
    await rig.final("Stop!", "s-stop")  # heard during the reply (no wake word needed)
    long = await rig.outcome("w-long")
    assert long.reason == "cancelled"
    await asyncio.sleep(0.1)
    assert "w-long" in rig.llm.cancelled
    assert TtsControl(action="stop", target="w-long") in rig.controls
    assert "s-stop" not in rig.results and len(rig.llm.requests) == 1
    assert all(m.correlation_id == "w-long" for m in rig.says)


async def test_hey_jarvis_stop_barges_in_then_ends_quietly(rig: Rig) -> None:
    rig.llm.delay_s = 0.3
    await rig.wake("w-a")
    await rig.final("tell me about the moon", "w-a")
    await asyncio.sleep(0.4)
    await rig.tts("w-a", "started")
    await rig.wake("w-b", barge_in=True)
    assert (await rig.outcome("w-a")).reason == "barge_in"
    await rig.final("stop", "w-b")
    stop = await rig.outcome("w-b")
    assert stop.intent == "stop" and stop.reply == "" and stop.path == "intent"
    assert len(rig.llm.requests) == 1  # never handled as a new question
    assert not [m for m in rig.says if m.correlation_id == "w-b"]
    await rig.final("and what about mars", "s-after")  # a stop opens no follow-up window
    assert await rig.none_for("s-after")


async def test_llm_stages_and_tts_stamps(rig: Rig) -> None:
    await rig.wake("w-s")
    await rig.final("how far is the moon", "w-s", speech_start_ts=1.0, speech_end_ts=2.0,
                    endpoint_ts=2.2, final_ts=2.5)
    await asyncio.sleep(0.1)
    await rig.tts("w-s", "started", first_sample_ts=5e9)
    await asyncio.sleep(0.3)
    await rig.tts("w-s", "ended")
    result = await rig.outcome("w-s")
    st = result.stages
    assert st["first_token"] <= st["first_sentence"] <= st["end"]
    assert st["first_sample"] == 5e9


async def test_work_ahead_confirmed_uses_the_early_llm_request(rig: Rig) -> None:
    rig.llm.delay_s = 0.1
    await rig.wake("w-ahead")
    await rig.partial("how far is the moon", "u-1", speculative=False)
    await rig.partial("how far is the moon", "u-1")
    assert [m.correlation_id for m in rig.llm.requests] == ["w-ahead"]  # before the final
    await asyncio.sleep(0.4)  # the early reply streams in meanwhile
    assert not rig.played()  # nothing is said before the final, but TTS prepares it
    assert rig.prepared()[:1] == ["The moon is far away."]
    assert [m.payload.index for m in rig.says] == list(range(len(rig.says)))
    await rig.final("How far is the moon?", "u-1")
    result = await rig.outcome("w-ahead")
    assert result.path == "llm" and len(rig.llm.requests) == 1 and not rig.llm.cancelled
    played = [(m.payload.text, m.payload.index) for m in rig.played()]
    assert played[:len(rig.prepared())] == [(m.payload.text, m.payload.index)
                                            for m in rig.says if m.payload.prepare]


async def test_work_ahead_differs_cancels_and_redoes(rig: Rig) -> None:
    rig.llm.delay_s = 0.1
    await rig.wake("w-redo")
    await rig.partial("how far is the", "u-2")
    await rig.final("how far is the sun", "u-2")
    result = await rig.outcome("w-redo")
    assert result.path == "llm" and result.text == "how far is the sun"
    assert [m.payload.text for m in rig.llm.requests] == ["how far is the", "how far is the sun"]
    assert rig.llm.cancelled == ["w-redo"]
    assert rig.llm.requests[1].correlation_id != "w-redo"
    assert {m.correlation_id for m in rig.says} == {"w-redo"}


async def test_work_ahead_prepares_a_local_answer_and_says_it_after_the_final(rig: Rig) -> None:
    await rig.wake("w-name")
    await rig.partial("what's your name", "u-3")
    assert rig.prepared() == ["I'm TARS, your offline assistant."] and not rig.played()
    assert rig.says[0].correlation_id == "w-name" and rig.says[0].payload.index == 0
    await rig.final("What's your name?", "u-3")
    await rig.tts("w-name", "started")
    await rig.tts("w-name", "ended")
    assert (await rig.outcome("w-name")).intent == "name"
    assert [m.payload.text for m in rig.played()] == rig.prepared()


async def test_an_answer_with_a_side_effect_is_not_worked_ahead(rig: Rig) -> None:
    await rig.wake("w-vol")
    await rig.partial("turn the volume up", "u-4")
    assert not rig.says and not rig.controls  # the volume changes only after the final
    await rig.final("Turn the volume up.", "u-4")
    await rig.tts("w-vol", "started")
    await rig.tts("w-vol", "ended")
    assert (await rig.outcome("w-vol")).intent == "volume"
    assert [c.action for c in rig.controls] == ["volume"] and not rig.prepared()


async def test_work_ahead_tts_off_prepares_nothing() -> None:
    rig, services = await make(work_ahead_tts=False)
    try:
        await rig.wake("w-off")
        await rig.partial("what's your name", "u-5")
        await asyncio.sleep(0.1)
        assert not rig.says
    finally:
        for svc in services:
            await svc.stop()


async def test_worker_down_mid_turn_says_what_happened() -> None:
    rig, services = await make(dependency_grace_s=0.3)
    rig.llm.delay_s = 10.0  # the llm waits for a tool that will never answer
    try:
        await rig.wake("w-t")
        await rig.final("what is the weather", "w-t")
        await asyncio.sleep(0.1)
        await rig.peer.publish(T.SYSTEM_STATUS, Status(state="offline", instance="tools-x"),
                               params={"service": "tools"})
        result = await rig.outcome("w-t", timeout=3)
        assert result.path == "error" and result.reason == "tools_offline"
        assert "tools" in result.reply
    finally:
        for svc in services:
            await svc.stop()


async def test_busy_llm_is_reported_as_busy(rig: Rig) -> None:
    rig.llm.error = "busy: queue full"
    await rig.wake("w-busy")
    await rig.final("tell me a joke", "w-busy")
    result = await rig.outcome("w-busy")
    assert result.path == "error" and result.reason == "llm_busy" and "busy" in result.reply


async def test_tts_dying_mid_reply_ends_the_turn_saying_so(rig: Rig) -> None:
    rig.llm.delay_s = 0.3
    await rig.wake("w-v")
    await rig.final("tell me about the moon", "w-v")
    await asyncio.sleep(0.4)
    await rig.tts("w-v", "started")
    await rig.peer.publish(T.SYSTEM_STATUS, Status(state="offline", instance="tts-x"),
                           params={"service": "tts"})
    result = await rig.outcome("w-v", timeout=3)
    assert result.path == "error" and result.reason == "tts_offline"
    assert "speech worker is down" in result.reply
    await asyncio.sleep(0.05)
    assert "w-v" in rig.llm.cancelled


async def test_a_second_wake_before_the_question_answers_under_the_second_id(rig: Rig) -> None:
    await rig.wake("w-first")  # heard nothing after it (a barge-in "stop" that came out empty)
    await rig.wake("w-second")
    await rig.final("What's your name?", "w-second")
    await rig.tts("w-second", "started")
    await rig.tts("w-second", "ended")
    assert (await rig.outcome("w-second")).intent == "name"
    ended = [e.payload for e in rig.events if e.correlation_id == "w-first" and e.payload.kind == "ended"]
    assert [e.reason for e in ended] == ["no_speech"] and "w-first" not in rig.results


async def test_after_a_turn_the_llm_is_asked_to_prefill_the_conversation(rig: Rig) -> None:
    await rig.wake("w-pre")
    await rig.final("What's your name?", "w-pre")
    await rig.tts("w-pre", "started")
    await rig.tts("w-pre", "sentence_done", text="I'm TARS, your offline assistant.")
    await rig.tts("w-pre", "ended")
    await rig.outcome("w-pre")
    await asyncio.sleep(0.05)
    assert [[(m.role, m.content) for m in p.history] for p in rig.llm.prefills] == [
        [("user", "What's your name?"), ("assistant", "I'm TARS, your offline assistant.")]]
    assert not rig.llm.requests  # a prefill is not a turn


async def test_no_prefill_when_turned_off() -> None:
    rig, services = await make(llm_prefill=False)
    try:
        await rig.wake("w-nopre")
        await rig.final("What's your name?", "w-nopre")
        await rig.tts("w-nopre", "started")
        await rig.tts("w-nopre", "ended")
        await rig.outcome("w-nopre")
        await asyncio.sleep(0.05)
        assert not rig.llm.prefills
    finally:
        for svc in services:
            await svc.stop()
