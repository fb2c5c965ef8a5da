"""The router on the bus: per-site turns, local intents, LLM streaming to TTS, barge-in, degradation."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from zoneinfo import ZoneInfo

from tars.contracts import topics as T
from tars.contracts.health import Status
from tars.contracts.llm import ChatMessage, LlmCancel, LlmRequest, LlmResponse, LlmStreamChunk
from tars.contracts.stt import SttFinal
from tars.contracts.tts import TtsControl, TtsSay, TtsStatus
from tars.contracts.turn import TextTurn, TurnEvent, TurnResult
from tars.contracts.wake import WakeEvent
from tars.runtime import Inbound, Service
from tars.runtime.clock import SystemClock
from tars.runtime.errors import ConfigError
from tars_router.active import ActiveTurn, SiteState
from tars_router.answers import LocalAnswers
from tars_router.intents import Intent, IntentMatcher, IntentName
from tars_router.settings import Settings
from tars_router.turns import EndReason, Transition, TurnMachine, TurnState

log = logging.getLogger(__name__)
BUSY = (TurnState.THINKING, TurnState.SPEAKING)



class LlmWentOffline(Exception):
    """The llm worker's status flipped to offline while a turn waited for it."""

class Router:
    """Owns the site machines and the turns in flight; every machine call goes through _apply."""

    def __init__(self, settings: Settings, service: Service,
                 matcher: IntentMatcher | None = None) -> None:
        self.settings = settings
        self.service = service
        self.clock = SystemClock(ZoneInfo(settings.timezone) if settings.timezone else None)
        self.matcher = matcher or IntentMatcher((settings.assistant_name,), settings.intents_files)
        self.answers = LocalAnswers(settings.assistant_name, self.clock)
        self.sites: dict[str, SiteState] = {}
        self.turns: dict[str, ActiveTurn] = {}
        self.starts: dict[str, float] = {}  # announced turn id -> start (monotonic)
        self.llm_online: bool | None = None

    def site(self, name: str | None) -> SiteState:
        key = name or self.service.site_id or "default"
        if key not in self.sites:
            self.sites[key] = SiteState(TurnMachine(key, self.settings.turn_config(), self.clock))
        return self.sites[key]

    # -- inputs -------------------------------------------------------------------------------
    async def on_final(self, msg: Inbound[SttFinal]) -> None:
        await self.utterance(msg.site_id, msg.correlation_id, msg.payload.text, speak=True)

    async def on_text(self, msg: Inbound[TextTurn]) -> None:
        await self.utterance(msg.site_id, msg.correlation_id, msg.payload.text, msg.payload.speak)

    async def on_wake(self, msg: Inbound[WakeEvent]) -> None:
        st = self.site(msg.site_id)
        await self._apply(st, st.machine.wake(msg.correlation_id))

    async def on_llm_status(self, msg: Inbound[Status]) -> None:
        online = msg.payload.state == "online"
        if online != self.llm_online:
            log.info("llm worker is %s", "online" if online else "offline")
        self.llm_online = online
        if not online:  # a worker that died mid-turn will never answer: apologise now
            for turn in list(self.turns.values()):
                if turn.llm_requested and not turn.llm_finished and turn.response is not None \
                        and not turn.response.done():
                    turn.response.set_exception(LlmWentOffline("the llm worker went offline"))
                    turn.activity.set()

    async def on_chunk(self, msg: Inbound[LlmStreamChunk]) -> None:
        turn = self.turns.get(msg.correlation_id)
        if turn is None or turn.llm_finished:
            return
        st = self.site(turn.site)
        async with turn.lock:
            if turn.first_token_ms is None and msg.payload.delta:
                turn.first_token_ms = (time.monotonic() - turn.started) * 1000
                await self._apply(st, st.machine.llm_chunk(turn.cid))
            turn.activity.set()
            turn.fed += msg.payload.delta
            for sentence in turn.splitter.feed(msg.payload.delta):
                await self._say(turn, st, sentence, final=False)
        if msg.payload.done:
            turn.stream_done.set()

    async def on_response(self, msg: Inbound[LlmResponse]) -> None:
        turn = self.turns.get(msg.correlation_id)
        if turn is not None and turn.response is not None and not turn.response.done():
            turn.response.set_result(msg.payload)
            turn.activity.set()

    async def on_tts_status(self, msg: Inbound[TtsStatus]) -> None:
        turn = self.turns.get(msg.correlation_id)
        if turn is None:
            return
        st, status = self.site(turn.site), msg.payload
        if status.event == "started":
            turn.tts_heard = True
            turn.tts_started.set()
            await self._apply(st, st.machine.tts_started(turn.cid))
        elif status.event == "sentence_done":
            await self._apply(st, st.machine.sentence_spoken(status.text, turn.cid))
        elif status.event == "ended":
            await self._apply(st, st.machine.tts_ended(turn.cid))

    # -- a turn -------------------------------------------------------------------------------
    async def utterance(self, site: str | None, cid: str, text: str, speak: bool) -> None:
        st = self.site(site)
        intent = self.matcher.match(text)
        if intent is not None and intent.name is IntentName.STOP:
            if st.machine.state is TurnState.IDLE or st.machine.turn is None:
                await self.service.publish(T.TTS_CONTROL, TtsControl(action="stop"), site_id=site)
            await self._apply(st, st.machine.cancel(EndReason.CANCELLED))
        turn = ActiveTurn(cid, st.machine.site, text, speak, time.monotonic())
        self.turns[cid] = turn
        await self._apply(st, st.machine.utterance(text, cid))
        if st.machine.turn is None or st.machine.turn.turn_id != cid:  # e.g. empty text
            self.turns.pop(cid, None)
            return
        if intent is not None:
            await self._local(turn, st, intent)
        else:
            turn.task = self.service.spawn(self._llm(turn, st), name=f"turn-{cid[:8]}")

    async def _local(self, turn: ActiveTurn, st: SiteState, intent: Intent) -> None:
        turn.path, turn.intent = "intent", intent.name.value
        answer = self.answers.answer(intent)
        reply = answer.text or ""
        if answer.action == "repeat":
            reply = st.machine.history.last_reply() or "I haven't said anything yet."
        elif answer.action == "volume":
            reply = await self._volume(turn, st, intent)
        if reply:
            await self._say(turn, st, reply, final=True)
        turn.task = self.service.spawn(self._finish(turn, st), name=f"turn-{turn.cid[:8]}")

    async def _volume(self, turn: ActiveTurn, st: SiteState, intent: Intent) -> str:
        level = intent.slots.get("level")
        if level is not None:
            st.volume = int(level) / 100
        else:
            step = self.settings.volume_step if intent.slots.get("direction") == "up" else -self.settings.volume_step
            st.volume = min(2.0, max(0.0, st.volume + step))
        await self.service.publish(T.TTS_CONTROL, TtsControl(action="volume", volume=st.volume),
                                   correlation_id=turn.cid, site_id=turn.site)
        return f"Volume {round(st.volume * 100)} percent."

    async def _llm(self, turn: ActiveTurn, st: SiteState) -> None:
        if self.llm_online is False:
            await self._degrade(turn, st, "llm_offline")
            return
        turn.response = asyncio.get_running_loop().create_future()
        history = [ChatMessage(role=m["role"], content=m["content"])  # type: ignore[arg-type]
                   for m in st.machine.history.messages()]
        request = LlmRequest(text=turn.text, history=history, max_tokens=self.settings.max_tokens,
                             temperature=self.settings.temperature)
        await self.service.publish(T.LLM_REQUEST, request, correlation_id=turn.cid,
                                   site_id=turn.site, expiry_s=self.settings.think_timeout_s)
        turn.llm_requested = True
        try:
            async with asyncio.timeout(self.settings.first_chunk_timeout_s):
                await turn.activity.wait()
            async with asyncio.timeout(self.settings.think_timeout_s):
                response = await turn.response
        except TimeoutError:
            await self._degrade(turn, st, "llm_timeout")
            return
        except LlmWentOffline:
            await self._degrade(turn, st, "llm_offline")
            return
        turn.tools = list(response.tools)
        if response.error and not turn.fed:
            await self._degrade(turn, st, "llm_error")
            return
        await self._complete_stream(turn, st, response)
        await self._finish(turn, st)

    async def _complete_stream(self, turn: ActiveTurn, st: SiteState, response: LlmResponse) -> None:
        """Speak what the stream has not delivered yet; the last part goes out with final=True."""
        if not turn.stream_done.is_set() and not response.text.startswith(turn.fed):
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await turn.stream_done.wait()
        async with turn.lock:
            turn.llm_finished = True
            if response.text.startswith(turn.fed):
                turn.splitter.feed(response.text[len(turn.fed):])
            if turn.first_token_ms is None:
                turn.first_token_ms = response.first_token_ms
            rest = turn.splitter.flush()
            for i, sentence in enumerate(rest):
                await self._say(turn, st, sentence, final=i == len(rest) - 1)
            if not rest and turn.index > 0 and turn.speak:
                await self._publish_say(turn, "", final=True)  # end-of-reply marker

    async def _degrade(self, turn: ActiveTurn, st: SiteState, reason: str) -> None:
        log.warning("turn %s: %s", turn.cid[:8], reason)
        turn.path, turn.reason, turn.llm_finished = "error", reason, True
        st.machine.keep_out_of_history(turn.cid)
        if turn.llm_requested:
            await self.service.publish(T.LLM_CANCEL, LlmCancel(reason=reason),
                                       correlation_id=turn.cid, site_id=turn.site)
        await self._say(turn, st, self.settings.offline_reply, final=True)
        await self._finish(turn, st)

    async def _say(self, turn: ActiveTurn, st: SiteState, text: str, *, final: bool) -> None:
        turn.replies.append(text)
        if not turn.speak:
            await self._apply(st, st.machine.reply_delivered(text, turn.cid))
            return
        await self._publish_say(turn, text, final=final)

    async def _publish_say(self, turn: ActiveTurn, text: str, *, final: bool) -> None:
        say = TtsSay(text=text, stream=turn.path == "llm", final=final, index=turn.index)
        turn.index += 1
        await self.service.publish(T.TTS_SAY, say, correlation_id=turn.cid, site_id=turn.site)

    async def _finish(self, turn: ActiveTurn, st: SiteState) -> None:
        """The reply is complete: wait (bounded) for TTS to start, then let the machine end it."""
        turn.llm_finished = True
        if turn.speak and turn.index > 0 and not turn.tts_heard:
            try:
                async with asyncio.timeout(self.settings.tts_start_timeout_s):
                    await turn.tts_started.wait()
            except TimeoutError:
                log.info("turn %s: no TTS status, ending headless", turn.cid[:8])
        await self._apply(st, st.machine.llm_done(turn.cid))

    # -- transitions, events, results ---------------------------------------------------------
    async def _apply(self, st: SiteState, transitions: list[Transition]) -> None:
        for t in transitions:
            if t.turn_id is None:
                continue
            start = self.starts.get(t.turn_id)
            if start is None:
                self.starts[t.turn_id] = start = t.at
                kind = "started"
            else:
                kind = "ended" if t.end_reason is not None else "stage"
            event = TurnEvent(kind=kind, stage=t.target.value,  # type: ignore[arg-type]
                              offset_ms=round((t.at - start) * 1000, 1),
                              reason=t.end_reason.value if t.end_reason else None)
            await self.service.publish(T.TURN_EVENT, event, correlation_id=t.turn_id,
                                       site_id=t.site)
            if t.end_reason is not None:
                self.starts.pop(t.turn_id, None)
                await self._ended(t.turn_id, t.end_reason, st)
        self._arm(st)

    async def _ended(self, cid: str, reason: EndReason, st: SiteState) -> None:
        turn = self.turns.pop(cid, None)
        if turn is None:
            return  # a wake that never got an utterance
        if reason is not EndReason.COMPLETED:
            if turn.llm_requested and not turn.llm_finished:
                await self.service.publish(T.LLM_CANCEL, LlmCancel(reason=reason.value),
                                           correlation_id=cid, site_id=turn.site)
            if turn.speak and turn.index > 0:
                await self.service.publish(T.TTS_CONTROL, TtsControl(action="stop", target=cid),
                                           correlation_id=cid, site_id=turn.site)
            turn.llm_finished = True
            if turn.task is not None and turn.task is not asyncio.current_task():
                turn.task.cancel()
        last = st.machine.last_turn
        spoken = bool(turn.speak and turn.tts_heard and last is not None and last.spoken)
        result = TurnResult(text=turn.text, reply=turn.reply, path=turn.path, intent=turn.intent,
                            tools=turn.tools, first_token_ms=turn.first_token_ms, spoken=spoken,
                            reason=turn.reason or reason.value)
        await self.service.publish(T.TURN_RESULT, result, correlation_id=cid, site_id=turn.site)

    def _arm(self, st: SiteState) -> None:
        if st.deadline is not None:
            st.deadline.cancel()
            st.deadline = None
        deadline = st.machine.next_deadline()
        if deadline is not None:
            loop = asyncio.get_running_loop()  # loop.time() is time.monotonic()
            st.deadline = loop.call_at(deadline + 0.001, lambda: self._tick_later(st))

    def _tick_later(self, st: SiteState) -> None:
        st.deadline = None
        self.service.spawn(self._apply(st, st.machine.tick()), name="turn-deadline")

    async def close(self) -> None:
        for st in self.sites.values():
            if st.deadline is not None:
                st.deadline.cancel()


async def build(settings: Settings, service: Service) -> None:
    """The runner's build hook (see :func:`build_router`)."""
    await build_router(settings, service)


async def build_router(settings: Settings, service: Service) -> Router:
    """Wire the router's handlers (nothing to preload: the engine is pure Python)."""
    try:
        matcher = await asyncio.to_thread(IntentMatcher, (settings.assistant_name,),
                                          settings.intents_files)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"router: intents_files: {exc}") from exc
    router = Router(settings, service, matcher)
    service.handle(T.STT_FINAL, router.on_final)
    service.handle(T.ROUTER_TEXT, router.on_text)
    service.handle(T.WAKE_EVENT, router.on_wake)
    service.handle(T.LLM_STREAM, router.on_chunk)
    service.handle(T.LLM_RESPONSE, router.on_response)
    service.handle(T.TTS_STATUS, router.on_tts_status)
    service.handle(T.SYSTEM_STATUS, router.on_llm_status, topic=T.SYSTEM_STATUS.topic(service="llm"))
    service.add_cleanup(router.close)
    service.capabilities = ["intents:" + ",".join(n.value for n in IntentName), "llm", "barge_in"]
    return router
