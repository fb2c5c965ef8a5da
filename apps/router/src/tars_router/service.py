"""The router on the bus: wake-gated turns, local intents, LLM replies, barge-in, stages, errors."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, OrderedDict
from zoneinfo import ZoneInfo

from tars.contracts import topics as T
from tars.contracts.llm import ChatMessage, LlmCancel, LlmResponse, LlmStreamChunk
from tars.contracts.stt import SttFinal, SttPartial
from tars.contracts.tools import ToolCall, ToolResult
from tars.contracts.tts import TtsControl, TtsStatus
from tars.contracts.turn import TextTurn, TurnEvent, TurnResult
from tars.contracts.wake import WakeEvent
from tars.runtime import Inbound, PeerEvent, Peers, Requester, Service, TarsError
from tars.runtime.clock import SystemClock
from tars.runtime.errors import ConfigError
from tars_router.active import ActiveTurn, SiteState
from tars_router.answers import LocalAnswers, arithmetic, fact_of, say_number
from tars_router.deps import WATCHED, DependencyDown
from tars_router.gate import Gate, Verdict
from tars_router.intents import Intent, IntentMatcher, IntentName, normalize
from tars_router.replies import Replier
from tars_router.settings import Settings
from tars_router.turns import EndReason, Transition, TurnMachine, TurnState
from tars_router.wakephrase import WakePhrases

log = logging.getLogger(__name__)
BUSY = (TurnState.THINKING, TurnState.SPEAKING)


MAX_SITES = 1024
"""Sites whose state the router keeps (a site's state is small: its turn machine and history)."""


class Router(Replier):
    """Owns the site machines and the turns in flight; every machine call goes through _apply."""

    def __init__(self, settings: Settings, service: Service,
                 matcher: IntentMatcher | None = None) -> None:
        self.settings = settings
        self.service = service
        self.clock = SystemClock(ZoneInfo(settings.timezone) if settings.timezone else None)
        self.matcher = matcher or IntentMatcher((settings.assistant_name,), settings.intents_files)
        self.phrases = WakePhrases((*settings.wake_phrases, settings.assistant_name))
        self.gate = Gate(self.phrases, self.matcher, self.clock,
                         settings.wake_window_s + settings.listen_timeout_s)
        self.answers = LocalAnswers(settings.assistant_name, self.clock)
        self.deps = Peers(service, *WATCHED)
        self.deps.listen(self.on_status)
        self.tools: Requester[ToolResult] = Requester(service, T.TOOLS_CALL, T.TOOLS_RESULT,
                                                      timeout_s=settings.intent_tool_timeout_s)
        self.sites: OrderedDict[str, SiteState] = OrderedDict()  # least recently used first
        self.turns: dict[str, ActiveTurn] = {}
        self.by_llm: dict[str, ActiveTurn] = {}
        self.starts: dict[str, float] = {}  # announced turn id -> start (monotonic)
        self.ignored: Counter[str] = Counter()
        self.connects = 0

    def site(self, name: str | None) -> SiteState:
        """The site's state; past MAX_SITES, the least recently used idle sites are forgotten
        (their volume and conversation history with them), so made-up site ids cannot grow it."""
        key = name or self.service.site_id or "default"
        st = self.sites.get(key)
        if st is None:
            st = self.sites[key] = SiteState(TurnMachine(key, self.settings.turn_config(), self.clock))
            if len(self.sites) > MAX_SITES:
                self._forget_idle_sites()
        self.sites.move_to_end(key)
        return st

    def _forget_idle_sites(self) -> None:
        busy = {t.site for t in self.turns.values()}
        for key, st in list(self.sites.items()):
            if len(self.sites) <= MAX_SITES:
                break
            if st.machine.state is TurnState.IDLE and key not in busy and st.deadline is None:
                del self.sites[key]

    # -- inputs -------------------------------------------------------------------------------
    async def on_wake(self, msg: Inbound[WakeEvent]) -> None:
        if msg.payload.purpose != "turn":
            return self._ignore("wake_detection", msg.site_id, msg.correlation_id)
        st = self.site(msg.site_id)
        self.gate.woke(st.machine.site, msg.correlation_id)
        await self._drop_ahead(st)
        st.wake_id, st.wake_ts = msg.correlation_id, msg.envelope.ts
        await self._apply(st, st.machine.wake(msg.correlation_id))

    async def on_partial(self, msg: Inbound[SttPartial]) -> None:
        if msg.payload.purpose != "turn":
            return
        st = self.site(msg.site_id)
        if st.machine.state in (TurnState.AWAKE, TurnState.FOLLOW_UP):
            await self._apply(st, st.machine.speech_started(msg.correlation_id))
        if msg.payload.speculative and st.machine.state is TurnState.LISTENING \
                and self.settings.work_ahead:
            await self._work_ahead(st, msg.payload.text)

    async def on_final(self, msg: Inbound[SttFinal]) -> None:
        final, st = msg.payload, self.site(msg.site_id)
        gated = self.gate.judge(st.machine, final.text, msg.correlation_id, final.purpose)
        if gated.verdict is Verdict.WAKE_ONLY:
            log.debug("site %s: only the wake phrase, still listening", st.machine.site)
            return await self._apply(st, st.machine.keep_listening())
        if gated.verdict is Verdict.STOP:
            return await self._stop(st)
        if gated.verdict is not Verdict.TURN:
            return self._ignore(gated.verdict.value, msg.site_id, msg.correlation_id, final.text)
        if gated.reopen:
            st.wake_id, st.wake_ts = msg.correlation_id, None
            await self._apply(st, st.machine.wake(msg.correlation_id))
        open_turn = st.machine.turn if st.machine.state is not TurnState.FOLLOW_UP else None
        cid = open_turn.turn_id if open_turn is not None else msg.correlation_id
        stages = {k: v for k, v in (("speech_start", final.speech_start_ts),
                                    ("speech_end", final.speech_end_ts),
                                    ("endpoint", final.endpoint_ts),
                                    ("final", final.final_ts or msg.envelope.ts)) if v > 0}
        if st.wake_ts is not None and cid == st.wake_id:
            stages = {"wake": st.wake_ts, **stages}
        await self._start(st, cid, gated.text, True, gated.intent, stages, voice=True)

    async def on_text(self, msg: Inbound[TextTurn]) -> None:
        st = self.site(msg.site_id)
        text = self.phrases.strip(msg.payload.text) or msg.payload.text
        await self._drop_ahead(st)
        await self._start(st, msg.correlation_id, text, msg.payload.speak, self.matcher.match(text),
                          {"final": msg.envelope.ts}, voice=False, history=msg.payload.history)

    async def on_status(self, event: PeerEvent) -> None:
        if not event.went_offline:
            return
        service = event.name
        for turn in list(self.turns.values()):  # a worker died mid-turn: say so within 3 s
            if service == "llm":
                self._fail(turn, "llm_offline")
            elif service == "tools" and not turn.fed:
                self.service.spawn(self._watch(turn, "tools_offline"), name="turn-watch")
            elif service == "tts" and turn.speak and turn.index > 0:
                turn.path, turn.reason = "error", "tts_offline"
                turn.replies.append(self.apology("tts_offline"))
                await self._apply(self.site(turn.site), self.site(turn.site).machine.cancel())

    async def on_connect(self) -> None:
        """Connected again after losing the broker: what the LLM was asked or streamed meanwhile
        may be lost, so the turns waiting for it end now, saying so (not at their timeout)."""
        self.connects += 1
        if self.connects == 1:
            return
        for turn in list(self.turns.values()):
            self._fail(turn, "connection_lost")

    def _fail(self, turn: ActiveTurn, reason: str) -> None:
        if turn.llm_requested and not turn.llm_finished and turn.response is not None \
                and not turn.response.done():
            turn.response.set_exception(DependencyDown(reason))
            turn.activity.set()

    async def _watch(self, turn: ActiveTurn, reason: str) -> None:
        """A dependency of the LLM went down: no reply text within the grace: end the turn."""
        try:
            async with asyncio.timeout(self.settings.dependency_grace_s):
                await turn.activity.wait()
        except TimeoutError:
            self._fail(turn, reason)

    async def on_chunk(self, msg: Inbound[LlmStreamChunk]) -> None:
        turn = self.by_llm.get(msg.correlation_id)
        if turn is None or turn.llm_finished:
            return
        st = self.site(turn.site)
        async with turn.lock:
            if turn.first_token_ms is None and msg.payload.delta:
                turn.first_token_ms = (time.monotonic() - turn.started) * 1000
                turn.stamp("first_token", self.clock.time())
                await self._apply(st, st.machine.llm_chunk(turn.cid))
            turn.activity.set()
            turn.fed += msg.payload.delta
            for sentence in turn.splitter.feed(msg.payload.delta):
                await self._say(turn, st, sentence, final=False)
        if msg.payload.done:
            turn.stream_done.set()

    async def on_response(self, msg: Inbound[LlmResponse]) -> None:
        turn = self.by_llm.get(msg.correlation_id)
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
            for stage, ts in (("first_audio", getattr(status, "first_audio_ts", None)),
                              ("first_sample", status.first_sample_ts)):
                if ts:
                    turn.stamp(stage, ts)
            await self._apply(st, st.machine.tts_started(turn.cid))
        elif status.event == "sentence_done":
            await self._apply(st, st.machine.sentence_spoken(status.text, turn.cid))
        elif status.event == "ended":
            await self._apply(st, st.machine.tts_ended(turn.cid))

    def _ignore(self, why: str, site: str | None, cid: str, text: str = "") -> None:
        self.ignored[why] += 1
        self.service.counters.by_kind[f"ignored_{why}"] = self.ignored[why]
        log.debug("ignored (%s) on %s c:%s %r", why, site, cid[:8], text[:60])

    # -- a turn -------------------------------------------------------------------------------
    async def _start(self, st: SiteState, cid: str, text: str, speak: bool, intent: Intent | None,
                     stages: dict[str, float], *, voice: bool,
                     history: list[ChatMessage] | None = None) -> None:
        ahead, st.ahead = st.ahead, None
        if intent is not None and intent.name is IntentName.STOP:
            await self._stop(st)
        if ahead is not None and ahead.cid == cid and ahead.ahead_text == normalize(text):
            return await self._adopt(st, ahead, stages)
        if ahead is not None:
            await self._abandon(ahead, "final_differs")
        turn = ActiveTurn(cid, st.machine.site, text, speak, time.monotonic(),
                          llm_cid=st.llm_id(cid), history=history)
        turn.stages.update(stages)
        turn.confirmed.set()
        self.turns[cid] = turn
        await self._apply(st, st.machine.heard(text, cid) if voice else st.machine.utterance(text, cid))
        if st.machine.turn is None or st.machine.turn.turn_id != cid:  # e.g. empty text
            self.turns.pop(cid, None)
            return
        if history is not None:  # the caller keeps its own conversation
            st.machine.keep_out_of_history(cid)
        if intent is not None:
            turn.stamp("intent", self.clock.time())
            await self._local(turn, st, intent)
        else:
            turn.task = self.service.spawn(self._llm(turn, st), name=f"turn-{cid[:8]}")

    async def _stop(self, st: SiteState) -> None:
        """"stop": the reply under way ends (cancelled) and nothing new is said."""
        if st.machine.state in BUSY:
            await self._apply(st, st.machine.cancel(EndReason.CANCELLED))
        else:  # whatever plays on the site (an earlier reply, a timer) stops
            await self.service.publish(T.TTS_CONTROL, TtsControl(action="stop"),
                                       site_id=st.machine.site)

    async def _local(self, turn: ActiveTurn, st: SiteState, intent: Intent) -> None:
        turn.path, turn.intent = "intent", intent.name.value
        answer = self.answers.answer(intent)
        reply = answer.text or ""
        if answer.action == "repeat":
            reply = st.machine.history.last_reply() or "I haven't said anything yet."
        elif answer.action == "volume":
            reply = await self._volume(turn, st, intent)
        elif answer.action == "timer":
            reply = await self._timer(turn, intent)
        elif answer.action == "calculate":
            reply = await self._calculate(turn, intent)
        elif answer.action == "remember":
            reply = (await self._tool(turn, ToolCall(name="remember", arguments={"text": fact_of(intent)}),
                                      "remember that"))[1]
        if reply:
            await self._say(turn, st, reply, final=True)
        turn.task = self.service.spawn(self._finish(turn, st), name=f"turn-{turn.cid[:8]}")

    async def _volume(self, turn: ActiveTurn, st: SiteState, intent: Intent) -> str:
        level = intent.slots.get("level")
        if level is not None:
            st.volume = int(level) / 100
        else:
            step = self.settings.volume_step
            st.volume = min(2.0, max(0.0, st.volume + (step if intent.slots.get("direction") == "up"
                                                        else -step)))
        await self.service.publish(T.TTS_CONTROL, TtsControl(action="volume", volume=st.volume),
                                   correlation_id=turn.cid, site_id=turn.site)
        return f"Volume {round(st.volume * 100)} percent."

    async def _timer(self, turn: ActiveTurn, intent: Intent) -> str:
        """Set a timer through the tools worker (the one owner of timers) and say its answer."""
        unit, count = intent.slots.get("unit", "minutes"), int(intent.slots.get("count", "1"))
        done = await self._tool(turn, ToolCall(name="set_timer", arguments={unit: count}),
                                "set the timer")
        return done[1]

    async def _calculate(self, turn: ActiveTurn, intent: Intent) -> str:
        """Spoken arithmetic, worked out by the tools worker's calculator."""
        expression, said = arithmetic(intent.slots)
        ok, content = await self._tool(
            turn, ToolCall(name="calculate", arguments={"expression": expression}), "work that out")
        return f"{said} is {say_number(content.rpartition('=')[2].strip())}." if ok else content

    async def _tool(self, turn: ActiveTurn, call: ToolCall, doing: str) -> tuple[bool, str]:
        """(ok, the tool's answer or a spoken apology) of one call to the tools worker."""
        try:
            reply = await self.tools.request(call, correlation_id=turn.cid, site_id=turn.site)
        except TarsError:
            return False, f"Sorry, I couldn't {doing}: the tools worker did not answer."
        if not reply.payload.ok:
            return False, f"Sorry, I couldn't {doing}: {reply.payload.reason}."
        return True, reply.payload.content

    # -- work ahead on a speculative transcript -----------------------------------------------
    async def _work_ahead(self, st: SiteState, text: str) -> None:
        """Resolve the intent and start the LLM before the endpoint; the final adopts it."""
        stripped = self.phrases.strip(text)
        norm = normalize(stripped)
        open_turn = st.machine.turn
        if not norm or open_turn is None or (st.ahead is not None and st.ahead.ahead_text == norm):
            return
        await self._drop_ahead(st)
        turn = ActiveTurn(open_turn.turn_id, st.machine.site, stripped, True, time.monotonic(),
                          ahead_text=norm)
        turn.llm_cid = st.llm_id(turn.cid)
        st.ahead = turn
        intent = self.matcher.match(stripped)
        if intent is not None:
            turn.path, turn.intent = "intent", intent.name.value  # the final re-resolves it
            turn.stamp("intent", self.clock.time())
            answer = self.answers.answer(intent)
            if answer.action is None and answer.text:  # a reply with no side effect: synthesize it
                await self.prepare(turn, answer.text, index=0)
            return
        if self.settings.work_ahead_llm and not self.deps.down("llm"):
            await self._request_llm(turn, st)
            turn.task = self.service.spawn(self._llm(turn, st, requested=True),
                                           name=f"ahead-{turn.cid[:8]}")

    async def _adopt(self, st: SiteState, turn: ActiveTurn, stages: dict[str, float]) -> None:
        turn.stages = {**stages, **turn.stages}
        self.turns[turn.cid] = turn
        await self._apply(st, st.machine.heard(turn.text, turn.cid))
        if not turn.llm_requested:  # an intent (or nothing started yet): resolve it now
            turn.confirmed.set()
            intent = self.matcher.match(turn.text)
            if intent is not None:
                turn.stamp("intent", self.clock.time())
                return await self._local(turn, st, intent)
            turn.path, turn.intent = "llm", None
            turn.task = self.service.spawn(self._llm(turn, st), name=f"turn-{turn.cid[:8]}")
            return
        log.debug("turn %s: the final confirmed the work ahead", turn.cid[:8])
        await self.release(turn, st)

    async def _drop_ahead(self, st: SiteState) -> None:
        ahead, st.ahead = st.ahead, None
        if ahead is not None:
            await self._abandon(ahead, "speculation_dropped")

    async def _abandon(self, turn: ActiveTurn, reason: str) -> None:
        turn.llm_finished = True
        self.by_llm.pop(turn.llm_cid, None)
        if turn.task is not None:
            turn.task.cancel()
        if turn.llm_requested:
            await self.service.publish(T.LLM_CANCEL, LlmCancel(reason=reason),
                                       correlation_id=turn.llm_cid, site_id=turn.site)

    # -- transitions, events, results ---------------------------------------------------------
    def _stages(self, cid: str, st: SiteState) -> dict[str, float]:
        turn = self.turns.get(cid)
        if turn is not None:
            return dict(turn.stages)
        return {"wake": st.wake_ts} if st.wake_ts is not None and cid == st.wake_id else {}

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
            turn = self.turns.get(t.turn_id)
            if t.end_reason is not None and turn is not None:
                turn.stamp("end", self.clock.time())
            event = TurnEvent(kind=kind, stage=t.target.value,  # type: ignore[arg-type]
                              offset_ms=round((t.at - start) * 1000, 1),
                              reason=t.end_reason.value if t.end_reason else None,
                              stages=self._stages(t.turn_id, st))
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
        self.by_llm.pop(turn.llm_cid, None)
        if reason is not EndReason.COMPLETED:
            if turn.llm_requested and not turn.llm_finished:
                await self.service.publish(T.LLM_CANCEL, LlmCancel(reason=reason.value),
                                           correlation_id=turn.llm_cid, site_id=turn.site)
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
                            reason=turn.reason or reason.value, stages=dict(turn.stages))
        await self.service.publish(T.TURN_RESULT, result, correlation_id=cid, site_id=turn.site)
        if turn.history is None:  # the site's own conversation (not a client's)
            await self.prefill(st)

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
    """Load the intent templates (off the loop) and wire the router's handlers."""
    try:
        matcher = await asyncio.to_thread(IntentMatcher, (settings.assistant_name,),
                                          settings.intents_files)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"router: intents_files: {exc}") from exc
    router = Router(settings, service, matcher)
    service.handle(T.STT_FINAL, router.on_final)
    service.handle(T.STT_PARTIAL, router.on_partial)
    service.handle(T.ROUTER_TEXT, router.on_text)
    service.handle(T.WAKE_EVENT, router.on_wake)
    service.handle(T.LLM_STREAM, router.on_chunk)
    service.handle(T.LLM_RESPONSE, router.on_response)
    service.handle(T.TTS_STATUS, router.on_tts_status)
    service.bus.on_connect(router.on_connect)
    service.add_cleanup(router.close)
    service.capabilities = ["intents:" + ",".join(n.value for n in IntentName), "llm", "barge_in",
                            "wake_gated", "work_ahead", "stages"]
    return router
