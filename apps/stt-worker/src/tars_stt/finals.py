"""Transcribing utterances in the model's executor and publishing stt/partial and stt/final."""

from __future__ import annotations

import asyncio
import logging
import time

from tars.audio import SAMPLE_RATE
from tars.contracts import topics as T
from tars.contracts.stt import SttFinal, SttPartial
from tars.runtime import ModelExecutor, Service
from tars_stt.completeness import Ending, ending
from tars_stt.endpointer import EndpointerSettings, PartialReady, PauseStarted, UtteranceEnded
from tars_stt.engine import DroppedTranscript, SttEngine
from tars_stt.smartturn import SmartTurn
from tars_stt.streams import InFlight, Speculation, Stream
from tars_stt.transcriber import Transcription

log = logging.getLogger("tars_stt.service")


class Transcripts:
    """Runs Whisper off the loop; counts what was published and dropped."""

    def __init__(self, service: Service, engine: SttEngine, executor: ModelExecutor,
                 turn: SmartTurn | None = None) -> None:
        self.service = service
        self.engine = engine
        self.executor = executor
        self.turn = turn
        """Smart Turn, loaded when ``endpointer.semantic`` asks for it."""
        self.pending = 0
        self.published = 0
        self.dropped = 0
        self.speculated = 0

    async def partial(self, stream: Stream, ev: PartialReady, cid: str) -> None:
        try:
            result = await self.executor.run(self.engine.transcriber.transcribe, ev.samples)
            if result.text.strip():
                await self.service.publish(
                    T.STT_PARTIAL, SttPartial(text=result.text, speech_start_s=ev.start_s,
                                              audio_s=ev.samples.size / SAMPLE_RATE,
                                              purpose=stream.purpose),
                    correlation_id=cid, site_id=stream.site)
        finally:
            stream.partial_busy = False

    async def speculate(self, stream: Stream, spec: Speculation, ev: PauseStarted,
                        cid: str) -> Ending:
        """Transcribe the utterance up to a pause; publish it as a speculative partial while it
        is still current. Returns how it ends (``endpointer.semantic``)."""
        self.speculated += 1
        try:
            result = await self.executor.run(self.engine.transcriber.transcribe, ev.samples)
        except BaseException as exc:
            spec.result.set_exception(exc)
            spec.result.exception()  # retrieved: the final may never ask for it
            raise
        spec.result.set_result(result)
        if stream.spec is not spec or not result.text.strip():
            return "unfinished"
        await self.service.publish(
            T.STT_PARTIAL, SttPartial(text=result.text, speech_start_s=ev.start_s,
                                      audio_s=ev.samples.size / SAMPLE_RATE, speculative=True,
                                      purpose=stream.purpose),
            correlation_id=cid, site_id=stream.site)
        return await self.turn_over(ev, result.text)

    async def turn_over(self, ev: PauseStarted, text: str) -> Ending:
        """The early-end verdict: the transcript's ending, Smart Turn on the audio (in the
        model's executor, ~50 ms), or both (a complete transcript Smart Turn hears as going on
        counts as plausible)."""
        s: EndpointerSettings = self.engine.endpointing
        grade = ending(text)
        if s.semantic == "completeness" or self.turn is None or (s.semantic == "both"
                                                                 and grade != "complete"):
            return grade
        p = await self.executor.run(self.turn.probability, ev.samples)
        over = p >= s.smart_turn_threshold
        log.debug("smart turn %.3f (%s): %s", p, "over" if over else "goes on", text)
        if s.semantic == "smart_turn":
            return "complete" if over else "unfinished"
        return "complete" if over else "plausible"

    async def final(self, stream: Stream, ev: UtteranceEnded, cid: str, job: InFlight, *,
                    speech_start_ts: float, speech_end_ts: float, endpoint_ts: float,
                    ready: asyncio.Future[Transcription] | None = None) -> None:
        """Publish the final; ``ready`` is the speculative transcript of the same audio."""
        self.pending += 1
        try:
            if ready is not None:
                result = await asyncio.shield(ready)
            else:
                result = await self.executor.run(self.engine.transcriber.transcribe, ev.samples)
        finally:
            self.pending -= 1
            if job in stream.inflight:
                stream.inflight.remove(job)
        site = stream.site
        if job.superseded:
            self.dropped += 1
            log.info("dropped transcript on %s (it held the wake word): %s", site, result.text)
            return
        verdict = self.engine.judge(site, ev, result)
        if isinstance(verdict, DroppedTranscript):
            self.dropped += 1
            log.info("dropped transcript on %s (%s): %s", site, verdict.rejection.filter,
                     verdict.rejection.reason)
            return
        final = SttFinal(
            text=result.text, language=result.language, confidence=round(result.confidence, 4),
            speech_start_s=ev.start_s, speech_end_s=ev.end_s, speech_end_ts=speech_end_ts,
            audio_s=ev.samples.size / SAMPLE_RATE, transcribe_ms=round(result.elapsed_s * 1000, 1),
            speech_start_ts=speech_start_ts, endpoint_ts=endpoint_ts, final_ts=time.time(),
            purpose=stream.purpose,
        )
        await self.service.publish(T.STT_FINAL, final, correlation_id=cid, site_id=site)
        self.published += 1
        log.info("final on %s (%.0f ms): %s", site, final.transcribe_ms, final.text)
