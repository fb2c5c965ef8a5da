"""The router service on the InMemoryBus, with a hand-written LLM service that streams chunks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest

from tars.contracts import topics as T
from tars.contracts.health import Status
from tars.contracts.llm import LlmCancel, LlmRequest, LlmResponse, LlmStreamChunk
from tars.contracts.tools import ToolCall, ToolResult
from tars.contracts.tts import TtsControl, TtsSay, TtsStatus
from tars.contracts.turn import TextTurn, TurnEvent, TurnResult
from tars.contracts.wake import WakeEvent
from tars.runtime import Inbound, InMemoryBroker, InMemoryBus, Service
from tars_router.answers import say_time
from tars_router.service import Router, build_router
from tars_router.settings import Settings

REPLY = ["The moon is about 384,000 km away. ", "Light takes ", "about 1.3 seconds to cross it. ",
         "That is ", "quite far."]


@dataclass
class FakeLlm:
    """Streams the REPLY chunks with a delay each, then the response; obeys cancel."""

    service: Service
    delay_s: float = 0.05
    first_delay_s: float = 0.0
    requests: list[Inbound[LlmRequest]] = field(default_factory=list)
    prefills: list[LlmRequest] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    log: list[str] = field(default_factory=list)

    async def on_request(self, msg: Inbound[LlmRequest]) -> None:
        if msg.payload.prefill:  # no reply, as the llm worker does
            self.prefills.append(msg.payload)
            return
        self.requests.append(msg)
        await asyncio.sleep(self.first_delay_s)
        for seq, delta in enumerate(REPLY):
            if msg.correlation_id in self.cancelled:
                return
            await self.service.publish(T.LLM_STREAM, LlmStreamChunk(seq=seq, delta=delta),
                                       correlation_id=msg.correlation_id, site_id=msg.site_id)
            await asyncio.sleep(self.delay_s)
        self.log.append("response")
        await self.service.reply(msg, T.LLM_RESPONSE, LlmResponse(
            text="".join(REPLY), tools=["calculate"], first_token_ms=12.0))

    async def on_cancel(self, msg: Inbound[LlmCancel]) -> None:
        self.cancelled.append(msg.correlation_id)


class Ear:
    """Records what the router publishes."""

    def __init__(self, service: Service, fake: FakeLlm | None = None) -> None:
        self.service = service
        self.says: list[Inbound[TtsSay]] = []
        self.controls: list[TtsControl] = []
        self.events: list[Inbound[TurnEvent]] = []
        self.results: dict[str, asyncio.Future[TurnResult]] = {}
        self.order: list[str] = fake.log if fake else []
        self.new_say = asyncio.Event()

        async def on_say(msg: Inbound[TtsSay]) -> None:
            self.says.append(msg)
            self.order.append(f"say:{msg.payload.text}")
            self.new_say.set()

        async def on_control(msg: Inbound[TtsControl]) -> None:
            self.controls.append(msg.payload)

        async def on_event(msg: Inbound[TurnEvent]) -> None:
            self.events.append(msg)

        async def on_result(msg: Inbound[TurnResult]) -> None:
            self.future(msg.correlation_id).set_result(msg.payload)

        service.handle(T.TTS_SAY, on_say)
        service.handle(T.TTS_CONTROL, on_control)
        service.handle(T.TURN_EVENT, on_event)
        service.handle(T.TURN_RESULT, on_result)

    def future(self, cid: str) -> asyncio.Future[TurnResult]:
        return self.results.setdefault(cid, asyncio.get_running_loop().create_future())

    async def ask(self, text: str, cid: str, *, speak: bool = False, site: str = "kitchen",
                  wait: bool = True, timeout: float = 5.0) -> TurnResult | None:
        fut = self.future(cid)
        await self.service.publish(T.ROUTER_TEXT, TextTurn(text=text, speak=speak),
                                   correlation_id=cid, site_id=site)
        return await asyncio.wait_for(fut, timeout) if wait else None


@dataclass
class Rig:
    router: Router
    ear: Ear
    llm: FakeLlm
    peer: Service


async def make_rig(**overrides: object) -> tuple[Rig, list[Service]]:
    broker = InMemoryBroker()
    settings = Settings(**{"first_chunk_timeout_s": 2.0, "tts_start_timeout_s": 0.3,
                           "follow_up_window_s": 0.0, **overrides})  # type: ignore[arg-type]
    router_svc = Service("router", InMemoryBus(broker))
    router = await build_router(settings, router_svc)
    llm_svc = Service("llm", InMemoryBus(broker))
    fake = FakeLlm(llm_svc)
    llm_svc.handle(T.LLM_REQUEST, fake.on_request)
    llm_svc.handle(T.LLM_CANCEL, fake.on_cancel)
    peer = Service("peer", InMemoryBus(broker))
    ear = Ear(peer, fake)
    for svc in (router_svc, llm_svc, peer):
        await svc.start()
    return Rig(router, ear, fake, peer), [peer, llm_svc, router_svc]


async def fake_tools(rig: Rig, answer: Callable[[ToolCall], ToolResult]
                     ) -> tuple[Service, list[ToolCall]]:
    """A started "tools" service on the rig's broker that answers each call with ``answer(call)``
    and records the calls."""
    calls: list[ToolCall] = []
    tools = Service("tools", InMemoryBus(rig.router.service.bus.broker))  # type: ignore[attr-defined]

    async def on_call(msg: Inbound[ToolCall]) -> None:
        calls.append(msg.payload)
        await tools.publish(T.TOOLS_RESULT, answer(msg.payload), correlation_id=msg.correlation_id,
                            in_reply_to=msg.envelope.id)

    tools.handle(T.TOOLS_CALL, on_call)
    await tools.start()
    return tools, calls


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    made, services = await make_rig()
    yield made
    for svc in services:
        await svc.stop()


async def test_time_intent_answers_with_the_real_clock(rig: Rig) -> None:
    before = datetime.now().astimezone()
    result = await rig.ear.ask("What time is it?", "c-time")
    assert result is not None and result.path == "intent" and result.intent == "time"
    assert result.reply in {say_time(before), say_time(before + timedelta(minutes=1))}
    assert not rig.llm.requests
    kinds = [e.payload.kind for e in rig.ear.events if e.correlation_id == "c-time"]
    assert kinds[0] == "started" and kinds[-1] == "ended"


async def test_llm_sentences_reach_tts_in_order_before_the_response(rig: Rig) -> None:
    result = await rig.ear.ask("how far is the moon", "c-moon", speak=True)
    assert result is not None and result.path == "llm" and result.tools == ["calculate"]
    says = [m.payload for m in rig.ear.says if m.correlation_id == "c-moon"]
    assert [s.text for s in says] == ["The moon is about 384,000 km away.",
                                      "Light takes about 1.3 seconds to cross it.", "That is quite far."]
    assert [s.index for s in says] == [0, 1, 2]
    assert [s.final for s in says] == [False, False, True] and all(s.stream for s in says)
    order = rig.llm.log
    assert order.index("say:The moon is about 384,000 km away.") < order.index("response")
    assert result.first_token_ms is not None and result.first_token_ms < 1000
    assert result.spoken is False and result.reason == "completed"  # no TTS worker answered


async def test_history_holds_only_spoken_sentences_after_barge_in(rig: Rig) -> None:
    rig.llm.delay_s = 0.3
    await rig.ear.ask("how far is the moon", "c-1", speak=True, wait=False)
    await asyncio.wait_for(rig.ear.new_say.wait(), 3)
    first = rig.ear.says[0].payload.text
    for status in (TtsStatus(event="started"), TtsStatus(event="sentence_done", text=first)):
        await rig.peer.publish(T.TTS_STATUS, status, correlation_id="c-1", site_id="kitchen")
    await asyncio.sleep(0.05)
    await rig.peer.publish(T.WAKE_EVENT, WakeEvent(model="hey_jarvis", score=0.9, barge_in=True),
                           correlation_id="w-1", site_id="kitchen")
    result = await asyncio.wait_for(rig.ear.future("c-1"), 3)
    assert result.reason == "barge_in" and result.spoken
    await asyncio.sleep(0.1)
    assert "c-1" in rig.llm.cancelled
    assert TtsControl(action="stop", target="c-1") in rig.ear.controls
    assert len(rig.ear.says) == 1  # nothing more was sent to TTS after the barge-in
    # the next request carries exactly what was heard
    rig.llm.delay_s = 0.0
    await rig.ear.ask("and the sun?", "c-2")
    history = rig.llm.requests[-1].payload.history
    assert [(m.role, m.content) for m in history] == [("user", "how far is the moon"),
                                                      ("assistant", first)]


async def test_stop_cancels_the_current_turn(rig: Rig) -> None:
    rig.llm.delay_s = 0.3
    await rig.ear.ask("tell me about the moon", "c-long", speak=True, wait=False)
    await asyncio.wait_for(rig.ear.new_say.wait(), 3)
    stop = await rig.ear.ask("stop", "c-stop")
    assert stop is not None and stop.intent == "stop" and stop.path == "intent"
    long = await asyncio.wait_for(rig.ear.future("c-long"), 3)
    assert long.reason == "cancelled"
    await asyncio.sleep(0.1)
    assert "c-long" in rig.llm.cancelled
    assert TtsControl(action="stop", target="c-long") in rig.ear.controls


async def test_repeat_and_volume(rig: Rig) -> None:
    await rig.ear.ask("how far is the moon", "c-a")
    again = await rig.ear.ask("say that again", "c-b")
    assert again is not None and again.intent == "repeat"
    assert again.reply == "".join(REPLY).replace("  ", " ").strip()
    vol = await rig.ear.ask("set the volume to 40 percent", "c-v")
    assert vol is not None and vol.intent == "volume"
    assert TtsControl(action="volume", volume=0.4) in rig.ear.controls


async def test_llm_offline_apologises_and_intents_still_work(rig: Rig) -> None:
    await rig.peer.publish(T.SYSTEM_STATUS, Status(state="offline", instance="llm-x"),
                           params={"service": "llm"})
    await asyncio.sleep(0.05)
    result = await rig.ear.ask("how far is the moon", "c-off", speak=True)
    assert result is not None and result.path == "error" and result.reason == "llm_offline"
    assert result.reply == "I can't reach my language model right now."
    assert [m.payload.text for m in rig.ear.says] == [result.reply]
    assert not rig.llm.requests
    name = await rig.ear.ask("what's your name", "c-name")
    assert name is not None and name.path == "intent" and "TARS" in name.reply


async def test_llm_timeout_apologises_and_cancels() -> None:
    made, services = await make_rig(first_chunk_timeout_s=0.3)
    made.llm.first_delay_s = 2.0
    try:
        result = await made.ear.ask("how far is the moon", "c-slow", timeout=3)
        assert result is not None and result.path == "error" and result.reason == "llm_timeout"
        assert result.reply == "My language model is taking too long to answer. Please try again."
        await asyncio.sleep(0.05)
        assert "c-slow" in made.llm.cancelled
    finally:
        for svc in services:
            await svc.stop()


async def test_llm_dying_mid_turn_apologises_at_once() -> None:
    made, services = await make_rig(first_chunk_timeout_s=20.0)
    made.llm.first_delay_s = 30.0  # it would answer far too late: it "dies" before that
    try:
        ask = asyncio.create_task(made.ear.ask("how far is the moon", "c-dead", timeout=5))
        await asyncio.sleep(0.2)
        await made.peer.publish(T.SYSTEM_STATUS, Status(state="offline", instance="llm-x",
                                                        reason="connection lost"),
                                params={"service": "llm"})
        result = await ask
        assert result is not None and result.path == "error" and result.reason == "llm_offline"
        assert result.reply == "I can't reach my language model right now."
    finally:
        for svc in services:
            await svc.stop()


async def test_a_spoken_timer_is_set_by_the_tools_worker_without_the_llm() -> None:
    made, services = await make_rig(intent_tool_timeout_s=1.0)

    def answer(call: ToolCall) -> ToolResult:
        ok = call.arguments == {"seconds": 10}
        return ToolResult(name=call.name, ok=ok, content="Timer set for 10 seconds." if ok else "",
                          error=None if ok else "bad arguments")

    tools, calls = await fake_tools(made, answer)
    try:
        result = await made.ear.ask("Set a timer for ten seconds, please.", "c-timer")
        assert result is not None and result.path == "intent" and result.intent == "timer"
        assert result.reply == "Timer set for 10 seconds." and not made.llm.requests
        assert [c.name for c in calls] == ["set_timer"]
        await tools.stop()  # nobody answers now: the turn says so instead of hanging
        silent = await made.ear.ask("set a timer for 5 minutes", "c-timer-2")
        assert silent is not None and "tools worker did not answer" in silent.reply
    finally:
        for svc in services:
            await svc.stop()


async def test_remember_that_goes_to_the_memory_tool_in_the_users_words() -> None:
    made, services = await make_rig(intent_tool_timeout_s=1.0)
    tools, calls = await fake_tools(
        made, lambda call: ToolResult(name=call.name, ok=True, content="I'll remember that."))
    try:
        result = await made.ear.ask("Remember that my sister is called Ada.", "c-remember")
        assert result is not None and (result.path, result.intent) == ("intent", "remember")
        assert result.reply == "I'll remember that." and not made.llm.requests
        assert [(c.name, c.arguments) for c in calls] == [("remember", {"text": "my sister is called Ada"})]
    finally:
        await tools.stop()
        for svc in services:
            await svc.stop()


async def test_spoken_arithmetic_is_worked_out_by_the_real_tools_worker() -> None:
    from tars_tools.service import ToolWorker
    from tars_tools.settings import Settings as ToolSettings
    from tars_tools.timerstore import TimerStore

    made, services = await make_rig(intent_tool_timeout_s=2.0)
    tools = Service("tools", InMemoryBus(made.router.service.bus.broker))  # type: ignore[attr-defined]
    worker = ToolWorker(ToolSettings(mcp_servers=[]), tools, TimerStore(":memory:"))
    tools.handle(T.TOOLS_CALL, worker.on_call)
    await tools.start()
    try:
        cases = [("What is 12 times 7?", "12 times 7 is 84."),
                 ("what's one hundred plus twenty five", "100 plus 25 is 125."),
                 ("How much is 1,200 divided by 7?", "1200 divided by 7 is about 171.43."),
                 ("what is 10 divided by 4", "10 divided by 4 is 2.5."),
                 ("calculate 2 to the power of 10", "2 to the power of 10 is 1024."),
                 ("what is the square root of 144", "The square root of 144 is 12."),
                 ("what is 5 divided by 0", "Sorry, I couldn't work that out: division by zero.")]
        for n, (question, reply) in enumerate(cases):
            result = await made.ear.ask(question, f"c-calc-{n}")
            assert result is not None and (result.path, result.intent) == ("intent", "calculate")
            assert result.reply == reply
        assert not made.llm.requests
    finally:
        await tools.stop()
        for svc in services:
            await svc.stop()


async def test_made_up_site_ids_cannot_grow_the_router_without_bound(rig: Rig) -> None:
    from tars_router import service as router_service

    first = await rig.ear.ask("What time is it?", "c-site-0", site="site-0")
    assert first is not None and first.path == "intent"
    for n in range(1, router_service.MAX_SITES + 200):
        rig.router.site(f"site-{n}")
    assert len(rig.router.sites) == router_service.MAX_SITES
    assert "site-0" not in rig.router.sites  # the least recently used idle site went first
    again = await rig.ear.ask("What time is it?", "c-site-again", site="site-0")
    assert again is not None and again.path == "intent"  # a forgotten site simply starts afresh
