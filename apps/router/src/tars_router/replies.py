"""How the router makes a reply: the LLM stream cut into sentences for TTS, apologies, the end."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid

from tars.contracts import topics as T
from tars.contracts.llm import ChatMessage, LlmCancel, LlmRequest, LlmResponse
from tars.contracts.tts import TtsSay
from tars.runtime import Peers, Service
from tars.runtime.clock import Clock
from tars_router.active import ActiveTurn, SiteState
from tars_router.deps import APOLOGIES, DependencyDown, classify_llm_error
from tars_router.settings import Settings
from tars_router.turns import Transition

log = logging.getLogger(__name__)


class Replier:
    """The reply half of the router; :class:`tars_router.service.Router` adds the inputs."""

    settings: Settings
    service: Service
    clock: Clock
    deps: Peers
    turns: dict[str, ActiveTurn]
    by_llm: dict[str, ActiveTurn]  # LLM request id -> turn

    async def _apply(self, st: SiteState, transitions: list[Transition]) -> None:
        raise NotImplementedError

    def apology(self, reason: str) -> str:
        return self.settings.offline_reply if reason == "llm_offline" else APOLOGIES.get(
            reason, APOLOGIES["llm_error"])

    async def _request_llm(self, turn: ActiveTurn, st: SiteState) -> None:
        turn.response = asyncio.get_running_loop().create_future()
        turn.activity.clear()
        history = turn.history if turn.history is not None else self._history(st)
        request = LlmRequest(text=turn.text, history=history, max_tokens=self.settings.max_tokens,
                             temperature=self.settings.temperature)
        self.by_llm[turn.llm_cid] = turn
        await self.service.publish(T.LLM_REQUEST, request, correlation_id=turn.llm_cid,
                                   site_id=turn.site, expiry_s=self.settings.think_timeout_s)
        turn.llm_requested = True

    @staticmethod
    def _history(st: SiteState) -> list[ChatMessage]:
        return [ChatMessage(role=m["role"], content=m["content"])  # type: ignore[arg-type]
                for m in st.machine.history.messages()]

    async def prefill(self, st: SiteState) -> None:
        """A turn ended: the LLM evaluates the site's conversation so far while the user is
        quiet, so the next question's turn evaluates only the question (``llm_prefill``)."""
        history = self._history(st)
        key = hash(tuple((m.role, m.content) for m in history))
        if not self.settings.llm_prefill or not history or key == st.prefilled \
                or self.deps.down("llm"):
            return
        st.prefilled = key
        await self.service.publish(T.LLM_REQUEST, LlmRequest(text="", history=history, prefill=True),
                                   correlation_id=uuid.uuid4().hex[:12], site_id=st.machine.site,
                                   expiry_s=10)

    async def _llm(self, turn: ActiveTurn, st: SiteState, *, requested: bool = False) -> None:
        """Ask the LLM (unless work ahead already did), stream the reply, end the turn."""
        if not requested:
            if self.deps.down("llm"):
                await self._confirmed(turn)
                await self._degrade(turn, st, "llm_offline")
                return
            await self._request_llm(turn, st)
        assert turn.response is not None
        try:
            async with asyncio.timeout(self.settings.first_chunk_timeout_s):
                await turn.activity.wait()
            async with asyncio.timeout(self.settings.think_timeout_s):
                response = await turn.response
        except TimeoutError:
            reason = "llm_timeout"
        except DependencyDown as exc:
            reason = exc.reason
        else:
            reason = classify_llm_error(response.error) if response.error and not turn.fed else ""
        await self._confirmed(turn)
        if reason:
            await self._degrade(turn, st, reason)
            return
        turn.tools = list(response.tools)
        await self._complete_stream(turn, st, response)
        await self._finish(turn, st)

    async def _confirmed(self, turn: ActiveTurn) -> None:
        """Work ahead waits here for the final transcript (the task is cancelled if it differs)."""
        await turn.confirmed.wait()

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
        """Say what went wrong (busy, a slow tool, a worker down) and end the turn."""
        log.warning("turn %s: %s", turn.cid[:8], reason)
        turn.path, turn.reason, turn.llm_finished = "error", reason, True
        st.machine.keep_out_of_history(turn.cid)
        if turn.llm_requested:
            await self.service.publish(T.LLM_CANCEL, LlmCancel(reason=reason),
                                       correlation_id=turn.llm_cid, site_id=turn.site)
        await self._say(turn, st, self.apology(reason), final=True)
        await self._finish(turn, st)

    async def _say(self, turn: ActiveTurn, st: SiteState, text: str, *, final: bool) -> None:
        if not turn.confirmed.is_set():  # worked ahead: nothing is said before the final
            turn.held.append((text, final))
            await self.prepare(turn, text, index=turn.index + len(turn.held) - 1)
            return
        turn.stamp("first_sentence", self.clock.time())
        turn.replies.append(text)
        if not turn.speak or self.deps.down("tts"):
            await self._apply(st, st.machine.reply_delivered(text, turn.cid))
            return
        await self._publish_say(turn, text, final=final)

    async def release(self, turn: ActiveTurn, st: SiteState) -> None:
        """The final confirmed the work ahead: say what was held back."""
        turn.confirmed.set()
        held, turn.held = turn.held, []
        for text, final in held:
            await self._say(turn, st, text, final=final)

    async def prepare(self, turn: ActiveTurn, text: str, *, index: int) -> None:
        """Worked ahead: TTS synthesizes ``text`` now, so its say after the final starts at once."""
        if turn.speak and self.settings.work_ahead_tts and not self.deps.down("tts"):
            say = TtsSay(text=text, stream=turn.path == "llm", index=index, prepare=True)
            await self.service.publish(T.TTS_SAY, say, correlation_id=turn.cid, site_id=turn.site)

    async def _publish_say(self, turn: ActiveTurn, text: str, *, final: bool) -> None:
        say = TtsSay(text=text, stream=turn.path == "llm", final=final, index=turn.index)
        turn.index += 1
        await self.service.publish(T.TTS_SAY, say, correlation_id=turn.cid, site_id=turn.site)

    def _offers_follow_up(self, turn: ActiveTurn) -> bool:
        mode = self.settings.follow_up
        if mode == "never" or turn.path == "error" or turn.intent == "stop":
            return False
        return mode == "always" or turn.reply.rstrip(" \"'”’)").endswith("?")

    async def _finish(self, turn: ActiveTurn, st: SiteState) -> None:
        """The reply is complete: wait (bounded) for TTS to start, then let the machine end it."""
        turn.llm_finished = True
        st.machine.offer_follow_up(self._offers_follow_up(turn), turn.cid)
        if turn.speak and turn.index > 0 and not turn.tts_heard and not self.deps.down("tts"):
            try:
                async with asyncio.timeout(self.settings.tts_start_timeout_s):
                    await turn.tts_started.wait()
            except TimeoutError:
                log.info("turn %s: no TTS status, ending headless", turn.cid[:8])
        await self._apply(st, st.machine.llm_done(turn.cid))
