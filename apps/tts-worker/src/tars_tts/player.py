"""SpeechQueue: speaks say requests in order through an AudioSink, synthesizing one sentence ahead."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

import numpy as np

from tars.audio import AudioSink
from tars.runtime import ModelExecutor
from tars_tts.cache import CachingSynthesizer
from tars_tts.config import PlayerSettings, TextSettings
from tars_tts.errors import SpeechQueueClosedError, TtsError
from tars_tts.events import (
    EndReason,
    EventHandler,
    SayRequest,
    SentenceSpoken,
    SpeakingEnded,
    SpeakingStarted,
    SpeechEvent,
)
from tars_tts.synth import AudioChunk, Synthesizer, trim_lead_in
from tars_tts.text import clean_for_speech, first_clause, split_sentences

_LOG = logging.getLogger(__name__)
_BLOCKED_IDS = 512  # remembered stopped/expired replies, so their late parts stay silent


@dataclass(slots=True)
class _Part:
    text: str
    expires_at: float | None


@dataclass(eq=False)
class _Reply:
    correlation_id: str
    site_id: str
    requested_at: float
    parts: asyncio.Queue[_Part | None] = field(default_factory=asyncio.Queue)
    sentences: int = 0
    audio_s: float = 0.0
    synth_s: float = 0.0
    sink_open: bool = False
    started: bool = False
    first_audio_at: float | None = None


@dataclass(slots=True)
class _Audio:
    chunk: AudioChunk


@dataclass(slots=True)
class _SentenceEnd:
    index: int
    text: str


@dataclass(slots=True)
class _Finish:
    reason: EndReason
    error: str | None = None


_Item = _Audio | _SentenceEnd | _Finish


def _next_chunk(chunks: Iterator[AudioChunk]) -> AudioChunk | None:
    return next(chunks, None)


class SpeechQueue:
    """Plays replies one after another; sentence N+1 is synthesized while sentence N plays.

    Synthesis runs in a single-thread executor (piper is CPU-bound); everything else is
    asyncio. Use ``async with SpeechQueue(...)`` or ``start()`` / ``close()``.
    """

    def __init__(
        self,
        synthesizer: Synthesizer,
        sink: AudioSink,
        *,
        text: TextSettings | None = None,
        player: PlayerSettings | None = None,
        on_event: EventHandler | None = None,
        executor: ModelExecutor | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.synthesizer = synthesizer
        self.sink = sink
        self.text_settings = text or TextSettings()
        self.player_settings = player or PlayerSettings()
        self._on_event = on_event
        self._own_executor = executor is None
        self._executor = executor or ModelExecutor("tts-synth")
        self._clock = clock
        self._pending: deque[_Reply] = deque()
        self._open: dict[str, _Reply] = {}  # streamed replies still taking parts
        self._blocked: OrderedDict[str, None] = OrderedDict()
        self._current: _Reply | None = None
        self._current_task: asyncio.Task[None] | None = None
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._resumed = asyncio.Event()
        self._resumed.set()
        self._events: asyncio.Queue[SpeechEvent] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False
        self._volume = 1.0

    # -- life cycle -------------------------------------------------------------------
    async def start(self) -> None:
        """Load the voice (in the synthesis thread) and start playing requests."""
        await self._executor.run(self.synthesizer.load)
        self._tasks = [asyncio.create_task(self._run(), name="tts-player"),
                       asyncio.create_task(self._dispatch(), name="tts-events")]

    async def close(self) -> None:
        """Stop everything, deliver the last events and release the synthesis thread."""
        if self._closed:
            return
        self._closed = True
        await self.stop()
        for task in self._tasks:
            if task.get_name() == "tts-player":
                task.cancel()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._events.join(), 1.0)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._own_executor:
            self._executor.shutdown()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- requests and controls ----------------------------------------------------------
    async def say(self, request: SayRequest) -> None:
        """Queue ``request``. Raises TextRejectedError (empty / too long) at once."""
        if self._closed:
            raise SpeechQueueClosedError("the speech queue is closed")
        cid = request.correlation_id
        if cid in self._blocked:
            _LOG.debug("dropping a late part of stopped/expired reply %s", cid)
            return
        reply = self._open.get(cid)
        if reply is not None and not request.streamed_part and not request.text.strip():
            self.finish(cid)
            return
        spoken = self._spoken(request.text)
        now = self._clock()
        if reply is None:
            if request.expires_at is not None and request.expires_at <= now:
                self._block(cid)
                self._emit(SpeakingEnded(cid, request.site_id, "expired"))
                return
            reply = _Reply(cid, request.site_id, requested_at=now)
            self._pending.append(reply)
            self._idle.clear()
            self._wakeup.set()
        reply.parts.put_nowait(_Part(spoken, request.expires_at))
        if request.streamed_part:
            self._open[cid] = reply
        else:
            self.finish(cid, reply)

    async def prepare(self, text: str, *, first: bool) -> int:
        """Synthesize ``text`` into the phrase cache, as its say will be (``first``: the reply's
        first part), playing nothing; returns how many pieces are now cached. A say of the same
        text that follows starts without waiting for synthesis."""
        if not isinstance(self.synthesizer, CachingSynthesizer) or self._closed:
            return 0
        cached = 0
        sentences = split_sentences(self._spoken(text),
                                    max_sentence_chars=self.text_settings.max_sentence_chars)
        for n, sentence in enumerate(sentences):
            for piece in _pieces(sentence, first=first and n == 0):
                cached += await self._executor.run(self.synthesizer.warm, piece)
        return cached

    def _spoken(self, text: str) -> str:
        ts = self.text_settings
        return clean_for_speech(text, max_chars=ts.max_chars, url_style=ts.url_style,
                                code_placeholder=ts.code_placeholder)

    def finish(self, correlation_id: str, reply: _Reply | None = None) -> None:
        """End a streamed reply: no more parts follow."""
        reply = reply or self._open.get(correlation_id)
        self._open.pop(correlation_id, None)
        if reply is not None:
            reply.parts.put_nowait(None)

    async def stop(self, correlation_id: str | None = None) -> bool:
        """Stop the reply ``correlation_id`` (or everything); returns once playback is over."""
        found = False
        for reply in [r for r in self._pending if correlation_id in (None, r.correlation_id)]:
            self._pending.remove(reply)
            self._end(reply, "stopped")
            found = True
        task, current = self._current_task, self._current
        if task is not None and current is not None and not task.done() and (
            correlation_id in (None, current.correlation_id)
        ):
            task.cancel()
            await asyncio.wait({task})
            found = True
        if not self._pending and self._current is None:
            self._idle.set()
        return found

    def pause(self) -> None:
        self._resumed.clear()

    def resume(self) -> None:
        self._resumed.set()

    @property
    def paused(self) -> bool:
        return not self._resumed.is_set()

    @property
    def volume(self) -> float:
        return self._volume

    @volume.setter
    def volume(self, value: float) -> None:
        if not 0.0 <= value <= 4.0:
            raise ValueError(f"volume must be within 0..4, got {value}")
        self._volume = float(value)

    @property
    def speaking(self) -> str | None:
        """Correlation id of the reply being played, if any."""
        return self._current.correlation_id if self._current else None

    async def wait_idle(self) -> None:
        """Wait until nothing is queued or playing."""
        await self._idle.wait()

    # -- internals --------------------------------------------------------------------
    def _emit(self, event: SpeechEvent) -> None:
        self._events.put_nowait(event)

    def _block(self, correlation_id: str) -> None:
        self._open.pop(correlation_id, None)
        self._blocked[correlation_id] = None
        while len(self._blocked) > _BLOCKED_IDS:
            self._blocked.popitem(last=False)

    def _end(self, reply: _Reply, reason: EndReason, error: str | None = None) -> None:
        if reason != "done":
            self._block(reply.correlation_id)
        self._emit(SpeakingEnded(
            reply.correlation_id, reply.site_id, reason, sentences=reply.sentences,
            audio_s=reply.audio_s, synth_s=reply.synth_s, error=error,
        ))

    async def _dispatch(self) -> None:
        while True:
            event = await self._events.get()
            try:
                if self._on_event is not None:
                    await self._on_event(event)
            except Exception:
                _LOG.exception("speech event handler failed on %s", type(event).__name__)
            finally:
                self._events.task_done()

    async def _run(self) -> None:
        while True:
            while not self._pending:
                self._idle.set()
                self._wakeup.clear()
                await self._wakeup.wait()
            reply = self._pending.popleft()
            self._current = reply
            task = asyncio.create_task(self._play(reply), name=f"tts-play-{reply.correlation_id}")
            self._current_task = task
            try:
                await asyncio.wait({task})
            finally:
                if not task.done():
                    task.cancel()
                    await asyncio.wait({task})
                self._current, self._current_task = None, None

    async def _play(self, reply: _Reply) -> None:
        pipeline: asyncio.Queue[_Item] = asyncio.Queue(maxsize=4)
        producer = asyncio.create_task(self._produce(reply, pipeline))
        reason: EndReason = "done"
        error: str | None = None
        try:
            reason, error = await self._consume(reply, pipeline)
            if reply.sink_open:
                await (self.sink.end() if reason != "error" else self.sink.abort())
        except asyncio.CancelledError:
            reason = "stopped"
            if reply.sink_open:
                await self.sink.abort()
            raise
        except Exception as exc:
            reason, error = "error", f"audio output failed: {exc}"
            _LOG.warning("tts: %s", error)
            with contextlib.suppress(Exception):
                await self.sink.abort()
        finally:
            producer.cancel()
            self._end(reply, reason, error)

    async def _consume(
        self, reply: _Reply, pipeline: asyncio.Queue[_Item]
    ) -> tuple[EndReason, str | None]:
        sentence_audio = 0.0
        while True:
            item = await pipeline.get()
            if isinstance(item, _Finish):
                return item.reason, item.error
            if isinstance(item, _SentenceEnd):
                reply.sentences += 1
                self._emit(SentenceSpoken(reply.correlation_id, reply.site_id, item.index,
                                          item.text, sentence_audio))
                sentence_audio = 0.0
                continue
            await self._write(reply, item.chunk)
            sentence_audio += item.chunk.duration_s

    async def _write(self, reply: _Reply, chunk: AudioChunk) -> None:
        if not reply.sink_open:
            await self.sink.begin(reply.correlation_id, chunk.sample_rate)
            reply.sink_open = True
        step = max(1, chunk.sample_rate * self.player_settings.block_ms // 1000)
        samples = chunk.samples if reply.started else trim_lead_in(chunk.samples, chunk.sample_rate)
        for start in range(0, samples.size, step):
            if not self._resumed.is_set():
                await self._resumed.wait()
            block = samples[start:start + step]
            if self._volume != 1.0:
                scaled = np.clip(block.astype(np.float32) * self._volume, -32768, 32767)
                block = scaled.astype(np.int16)
            if not reply.started:
                reply.started = True
                self._emit(SpeakingStarted(reply.correlation_id, reply.site_id,
                                           first_sample_at=self._clock(),
                                           requested_at=reply.requested_at,
                                           first_audio_at=reply.first_audio_at))
            await self.sink.write(block)
            reply.audio_s += block.size / chunk.sample_rate  # what reached the sink, even if stopped

    async def _produce(self, reply: _Reply, pipeline: asyncio.Queue[_Item]) -> None:
        gap = self.player_settings.stream_gap_s
        index = 0
        try:
            while True:
                try:
                    part = await asyncio.wait_for(reply.parts.get(), gap)
                except TimeoutError:
                    await pipeline.put(_Finish("error", f"no further part within {gap:g} s"))
                    return
                if part is None:
                    break
                if part.expires_at is not None and self._clock() >= part.expires_at:
                    await pipeline.put(_Finish("expired"))
                    return
                for sentence in split_sentences(
                    part.text, max_sentence_chars=self.text_settings.max_sentence_chars
                ):
                    for piece in _pieces(sentence, first=index == 0 and reply.first_audio_at is None):
                        await self._synthesize(reply, piece, pipeline)
                    await pipeline.put(_SentenceEnd(index, sentence))
                    index += 1
            await pipeline.put(_Finish("done"))
        except TtsError as exc:
            await pipeline.put(_Finish("error", str(exc)))

    async def _synthesize(
        self, reply: _Reply, sentence: str, pipeline: asyncio.Queue[_Item]
    ) -> None:
        chunks = self.synthesizer.stream(sentence)
        try:
            while True:
                t0 = time.perf_counter()
                chunk = await self._executor.run(_next_chunk, chunks)
                reply.synth_s += time.perf_counter() - t0
                if chunk is None:
                    return
                if reply.first_audio_at is None:
                    reply.first_audio_at = self._clock()
                await pipeline.put(_Audio(chunk))
        finally:  # close the generator in its own thread, after any running step
            with contextlib.suppress(RuntimeError):
                self._executor.submit(_close, chunks)


def _pieces(sentence: str, *, first: bool) -> tuple[str, ...]:
    """What is synthesized for one sentence: a reply's first clause alone (its audio starts
    sooner), then the rest; any other sentence whole."""
    return (first_clause(sentence) if first else None) or (sentence,)


def _close(chunks: Iterator[AudioChunk]) -> None:
    close = getattr(chunks, "close", None)
    if close is not None:
        close()


__all__ = ["SpeechQueue"]
